"""Tracer arrays and the tracing namespace.

A `Tracer` holds a concrete array and a tape variable. Every array-API call on
Tracers runs on the concrete values and is recorded by its standard name. In
user code (mode DIFF) a call with a differentiable argument runs the function's
rule, whose forward ops are recorded and whose pullback is kept for the reverse
sweep. Inside rules and pullbacks (mode PRIM) calls are recorded as they are.
"""
from __future__ import annotations

import operator
import threading

from . import errors
from .rules import registry
from .tape import CALL, GUARD, DeviceOf, DType, Op, Tape, Var, spec_of, type_of
from .tangents import is_array

__all__ = ["Tracer", "Context", "TracingNamespace", "DIFF", "PRIM"]

DIFF, PRIM = "diff", "prim"

DTYPE_NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float32", "float64", "complex64", "complex128")

# Functions written infix in compiled code: operators work on every library and
# on Python scalars (a float leaf is a Python float at run time).
INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "floor_divide": "//",
         "remainder": "%", "pow": "**", "matmul": "@", "less": "<", "less_equal": "<=",
         "greater": ">", "greater_equal": ">=", "equal": "==", "not_equal": "!=",
         "bitwise_and": "&", "bitwise_or": "|", "bitwise_xor": "^",
         "bitwise_left_shift": "<<", "bitwise_right_shift": ">>"}
PREFIX = {"negative": "-", "positive": "+", "bitwise_invert": "~"}

_OPFUNCS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
            "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "@": operator.matmul,
            "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne, "&": operator.and_, "|": operator.or_,
            "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift}
_UNARY = {"-": operator.neg, "+": operator.pos, "~": operator.invert}

SCALARS = (int, float, complex, bool)


def implementation(name, xp, ext):
    """The concrete callable behind a tape function name on backend ``(xp, ext)``."""
    if not isinstance(name, str):
        return name
    sym = INFIX.get(name)
    if sym is not None:
        return _OPFUNCS[sym]
    sym = PREFIX.get(name)
    if sym is not None:
        return _UNARY[sym]
    if name == "__getitem__":
        return operator.getitem
    if name.startswith("ext."):
        f = getattr(ext, name[4:])
        return lambda *a, **k: f(xp, *a, **k)
    obj = xp
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


_local = threading.local()


def active_contexts() -> list:
    s = getattr(_local, "stack", None)
    if s is None:
        s = _local.stack = []
    return s


class Context:
    """One trace: the tape being written, the backend, and the rule applications."""

    def __init__(self, xp, ext, title="f"):
        self.xp = xp
        self.ext = ext
        self.tape = Tape()
        self.tape.title = title
        self.mode = DIFF
        self.nodes: list = []  # (name, in_args, out, pullback, first_op_index)
        self.devices: dict = {}
        self.ns = TracingNamespace(self)
        self.ext_ns = TracingExt(self)
        self.note = ""
        self._impl: dict = {}

    # ------------------------------------------------------------------ inputs

    def input(self, value, name: str) -> "Tracer":
        v = self.tape.new_var()
        self.tape.inputs.append(v)
        self.tape.input_names.append(f"{name}  {spec_of(value)}")
        self.tape.types[v] = type_of(value)
        t = Tracer(value, v, self, diff=_is_float(value))
        self._remember_device(t)
        return t

    def _remember_device(self, t):
        dev = getattr(t.val, "device", None)
        if dev is not None:
            try:
                self.devices.setdefault(_device_key(dev), t.vid)
            except TypeError:
                pass

    # ------------------------------------------------------------------ calls

    def call(self, name, args: tuple, kwargs: dict):
        if self.mode is DIFF and _any_diff(args, kwargs):
            rule = registry.RULES.get(name)
            if rule is not None:
                return self._apply_rule(name, rule, args, kwargs)
            if not registry.is_nondiff(name):
                raise errors.NoRuleError(name)
        return self.record(name, args, kwargs)

    def _apply_rule(self, name, rule, args, kwargs):
        args, kwargs = rule.bind(args, kwargs)
        snap = tuple(_snapshot(a) for a in args)
        kw = {k: _snapshot(v) for k, v in kwargs.items()}
        self.mode = PRIM
        start = len(self.tape.ops)
        try:
            y, pullback = rule.fn(self.ns, *snap, **kw)
        except errors.YotaError:
            raise
        except Exception as e:
            raise errors.RuleError(name, e) from e
        finally:
            self.mode = DIFF
        y = _aliased(y, self)
        self.nodes.append((name, snap, y, pullback, start))
        return _aliased(y, self, diff=True)

    def record(self, name, args, kwargs):
        if kwargs and isinstance(name, str):
            # Standard defaults only clutter the tape (axis=None is not one of them: concat).
            kwargs = {k: v for k, v in kwargs.items()
                      if not (v is None and k in _NONE_DEFAULTS) and not (k == "keepdims" and v is False)}
        if self.mode is PRIM and name in _IDENTITY_IF_SAME and type(args[0]) is Tracer:
            same = _IDENTITY_IF_SAME[name](args[0], args[1:], kwargs)
            if same:
                return Tracer(args[0].val, args[0].vid, self, False)
        impl = self._impl.get(name)
        if impl is None:
            impl = self._impl[name] = implementation(name, self.xp, self.ext)
        vals = tuple(self._unwrap(a) for a in args)
        kwvals = {k: self._unwrap(v) for k, v in kwargs.items()}
        result = impl(*vals, **kwvals)
        tape = self.tape
        if isinstance(name, str):
            fn = name
        else:
            fn = tape.const(name, getattr(name, "__name__", None))
        enc_args = tuple(self._encode(a) for a in args)
        enc_kw = {k: self._encode(v) for k, v in kwargs.items()}
        # Only rules make differentiable values; a plain record (creation,
        # comparison, or an op inside a rule) has no derivative of its own.
        diff = False
        if isinstance(result, (tuple, list)):
            outs = tuple(tape.new_var() for _ in result)
            op = Op(CALL, outs, fn, enc_args, enc_kw, ", ".join(spec_of(r) for r in result),
                    self.note, type(result), tape.section)
            tape.ops.append(op)
            for r, v in zip(result, outs):
                tape.types[v] = type_of(r)
                if name in _DATA_DEPENDENT:
                    self._shape_guard(v, r, name)
            tracers = [Tracer(r, v, self, diff) for r, v in zip(result, outs)]
            if type(result) is tuple or type(result) is list:
                return type(result)(tracers)
            return type(result)(*tracers)
        out = tape.new_var()
        tape.ops.append(Op(CALL, out, fn, enc_args, enc_kw, spec_of(result), self.note, None, tape.section))
        tape.types[out] = type_of(result)
        if _data_dependent_shape(name, args):
            self._shape_guard(out, result, name)
        return Tracer(result, out, self, diff)

    def _shape_guard(self, var, value, name):
        # The rest of the tape was recorded for this size: a later call whose
        # data give another size must take a new trace.
        shape = tuple(getattr(value, "shape", ()))
        if any(s is None or s != s for s in shape):
            raise errors.UnknownShapeError(name)
        self.tape.ops.append(Op(GUARD, (), "shape", (Var(var), tuple(int(s) for s in shape)),
                                section=self.tape.section))

    def guard(self, t: "Tracer", kind: str, value):
        self.tape.ops.append(Op(GUARD, (), kind, (Var(t.vid), value), section=self.tape.section))
        return value

    # ------------------------------------------------------------------ encoding

    def _unwrap(self, a):
        if isinstance(a, Tracer):
            if a.ctx is not self:
                raise errors.ForeignTracerError()
            return a.val
        t = type(a)
        if t is tuple or t is list:
            return t(self._unwrap(x) for x in a)
        if t is slice:
            return slice(self._unwrap(a.start), self._unwrap(a.stop), self._unwrap(a.step))
        return a

    def _encode(self, a):
        if isinstance(a, Tracer):
            return Var(a.vid)
        t = type(a)
        if t in SCALARS or a is None or a is Ellipsis or t is str:
            if t is float and (a != a or a in (float("inf"), float("-inf"))):
                return self.tape.const(a, repr(a))
            return a
        if t is tuple or t is list:
            return t(self._encode(x) for x in a)
        if t is slice:
            return slice(self._encode(a.start), self._encode(a.stop), self._encode(a.step))
        name = self._dtype_name(a)
        if name is not None:
            return DType(name)
        try:
            var = self.devices.get(_device_key(a))
        except TypeError:
            var = None
        if var is not None:
            return DeviceOf(Var(var))
        return self.tape.const(a)

    def _dtype_name(self, a):
        if is_array(a):
            return None
        if isinstance(a, type) and a.__module__ == "builtins":
            return None
        for n in DTYPE_NAMES:
            d = getattr(self.xp, n, None)
            try:
                if d is not None and (a is d or a == d):
                    return n
            except Exception:
                pass
        return None


def _same_shape(x, rest, kwargs):
    shape = rest[0] if rest else kwargs.get("shape")
    return shape is not None and tuple(shape) == tuple(x.shape) and -1 not in tuple(shape)


def _same_dtype(x, rest, kwargs):
    dtype = rest[0] if rest else kwargs.get("dtype")
    return dtype is not None and x.dtype == dtype and "device" not in kwargs


def _same_axes(x, rest, kwargs):
    axes = rest[0] if rest else kwargs.get("axes")
    return axes is not None and tuple(axes) == tuple(range(x.ndim))


# Calls that return their input unchanged: inside rules they are not recorded.
_IDENTITY_IF_SAME = {"reshape": _same_shape, "broadcast_to": _same_shape, "astype": _same_dtype,
                     "permute_dims": _same_axes}


_NONE_DEFAULTS = {"dtype", "device", "copy", "stream"}
# Functions whose output size depends on the values, not only the shapes.
_DATA_DEPENDENT = {"nonzero", "unique_all", "unique_counts", "unique_inverse", "unique_values"}


def _data_dependent_shape(name, args) -> bool:
    if name in _DATA_DEPENDENT:
        return True
    if name in ("__getitem__", "ext.getitem") and len(args) > 1:
        keys = args[1] if isinstance(args[1], tuple) else (args[1],)
        return any(_is_bool_array(k) for k in keys)
    if name == "repeat" and len(args) > 1:
        return hasattr(args[1], "shape")
    return False


def _is_bool_array(k) -> bool:
    dt = getattr(k, "dtype", None)
    return dt is not None and "bool" in str(dt) and len(getattr(k, "shape", ())) > 0


def _device_key(dev):
    return (type(dev), dev) if isinstance(dev, str) else (type(dev), hash(dev), str(dev))


def _is_float(v) -> bool:
    if isinstance(v, float) or isinstance(v, complex):
        return True
    dt = getattr(v, "dtype", None)
    if dt is None:
        return False
    kind = getattr(dt, "kind", None)
    if kind is not None:
        return kind in "fc"
    name = str(dt)
    return "float" in name or "complex" in name


def _any_diff(args, kwargs) -> bool:
    for a in args:
        if type(a) is Tracer:
            if a.diff:
                return True
        elif type(a) in (tuple, list):
            if _any_diff(a, ()):
                return True
    if kwargs:
        return _any_diff(tuple(kwargs.values()), ())
    return False


def _snapshot(a):
    # Rules keep their arguments for the pullback; a fresh handle per argument
    # keeps a later in-place __setitem__ in user code from changing them.
    if type(a) is Tracer:
        return Tracer(a.val, a.vid, a.ctx, a.diff)
    if type(a) in (tuple, list):
        return type(a)(_snapshot(x) for x in a)
    return a


def _aliased(y, ctx, diff=None):
    if type(y) is Tracer:
        return Tracer(y.val, y.vid, y.ctx, _is_float(y.val) if diff else y.diff)
    if isinstance(y, (tuple, list)):
        items = [_aliased(x, ctx, diff) for x in y]
        if type(y) in (tuple, list):
            return type(y)(items)
        return type(y)(*items)
    if y is None or isinstance(y, SCALARS):
        return y
    raise errors.RuleError("?", TypeError(f"a rule returned {type(y).__name__}, not a traced array"))


class Tracer:
    """An array being traced: a concrete value and its tape variable."""

    __slots__ = ("val", "vid", "ctx", "diff", "__weakref__")
    __array_priority__ = 10000

    def __init__(self, val, var: int, ctx: Context, diff: bool = False):
        self.val = val
        self.vid = var
        self.ctx = ctx
        self.diff = diff

    def __array_namespace__(self, api_version=None):
        return self.ctx.ns

    def __repr__(self):
        return f"Tracer(%{self.vid}, {spec_of(self.val)})"

    # ---------------------------------------------------------- attributes
    @property
    def shape(self):
        s = getattr(self.val, "shape", ())
        return tuple(s)

    @property
    def dtype(self):
        d = getattr(self.val, "dtype", None)
        if d is None:
            return getattr(self.ctx.xp, "float64")
        return d

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def device(self):
        d = getattr(self.val, "device", None)
        if d is None:
            import array_api_compat
            d = array_api_compat.device(self.val)
        return d

    @property
    def T(self):
        return self.ctx.call("permute_dims", (self, tuple(reversed(range(self.ndim)))), {})

    @property
    def mT(self):
        return self.ctx.call("matrix_transpose", (self,), {})

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # ---------------------------------------------------------- conversions (guards)
    def __bool__(self):
        return self.ctx.guard(self, "bool", bool(self.val))

    def __int__(self):
        return self.ctx.guard(self, "int", int(self.val))

    def __index__(self):
        return self.ctx.guard(self, "int", operator.index(self.val))

    def __float__(self):
        return self.ctx.guard(self, "float", float(self.val))

    def __complex__(self):
        return self.ctx.guard(self, "complex", complex(self.val))

    def __array__(self, dtype=None, copy=None):
        raise errors.UntraceableError("converting a traced array to a NumPy array (np.asarray / np.array)",
                                      "yota records array-API calls; a NumPy copy would cut the value off "
                                      "the tape. Call the function through xp = array_namespace(x) instead, "
                                      "or make it a @yota.primitive with a @yota.rrule")

    @property
    def __cuda_array_interface__(self):
        # an AttributeError, so hasattr() answers False
        raise errors.ForeignLibraryAttributeError("cupy")

    def __dlpack__(self, *a, **k):
        raise errors.UntraceableError("exporting a traced array through DLPack",
                                      "the exported buffer would not be recorded on the tape")

    def tolist(self):
        raise errors.UntraceableError(".tolist() on a traced array",
                                      "a Python list leaves the tape, so no gradient could flow through it. "
                                      "Index the array (x[i]) or use float(x) / int(x) for a scalar, which "
                                      "yota records as a guard")

    def item(self, *a):
        raise errors.UntraceableError(".item() on a traced array",
                                      "it returns a Python number that is cut off the tape. Keep the value "
                                      "as a 0-d array, or use float(x) if you mean to branch on it (recorded "
                                      "as a guard)")

    # ---------------------------------------------------------- indexing
    def __getitem__(self, key):
        return self.ctx.call("__getitem__", (self, _key(key)), {})

    def __setitem__(self, key, value):
        # Copy-on-write: the tracer now names a new array; the old one (and the
        # caller's original) stays as it was.
        new = self.ctx.call("ext.setitem", (self, _key(key), value), {})
        self.val, self.vid, self.diff = new.val, new.vid, new.diff or self.diff

    # ---------------------------------------------------------- NumPy interop
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import numpy_compat
        return numpy_compat.ufunc(self.ctx, ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from . import numpy_compat
        return numpy_compat.function(self.ctx, func, args, kwargs)

    def __getattr__(self, name):
        from . import numpy_compat
        return numpy_compat.method(self, name)


def _key(key):
    if isinstance(key, list):
        return tuple(key) if any(isinstance(k, (slice, type(None), type(Ellipsis))) for k in key) else key
    return key


def _binop(name):
    def fwd(self, other):
        return self.ctx.call(name, (self, other), {})

    def rev(self, other):
        return self.ctx.call(name, (other, self), {})

    return fwd, rev


for _name, _sym in INFIX.items():
    _dunder = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "//": "floordiv", "%": "mod",
               "**": "pow", "@": "matmul", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq",
               "!=": "ne", "&": "and", "|": "or", "^": "xor", "<<": "lshift", ">>": "rshift"}[_sym]
    _f, _r = _binop(_name)
    setattr(Tracer, f"__{_dunder}__", _f)
    if _sym not in ("<", "<=", ">", ">=", "==", "!="):
        setattr(Tracer, f"__r{_dunder}__", _r)
Tracer.__hash__ = object.__hash__
Tracer.__neg__ = lambda self: self.ctx.call("negative", (self,), {})
Tracer.__pos__ = lambda self: self.ctx.call("positive", (self,), {})
Tracer.__abs__ = lambda self: self.ctx.call("abs", (self,), {})
Tracer.__invert__ = lambda self: self.ctx.call("bitwise_invert", (self,), {})


# ------------------------------------------------------------------ namespaces

_PASSTHROUGH = {"finfo", "iinfo", "isdtype", "result_type", "can_cast", "broadcast_shapes",
                "__array_namespace_info__"}
_CONSTANTS = {"e", "pi", "inf", "nan", "newaxis", "__array_api_version__"}


class TracingNamespace:
    """What ``array_namespace(tracer)`` returns: every function records a call."""

    def __init__(self, ctx: Context, prefix: str = ""):
        self._ctx = ctx
        self._prefix = prefix
        self.__name__ = f"yota.tracing{'.' + prefix[:-1] if prefix else ''}"

    def __getattr__(self, name):
        if name.startswith("__") and name not in ("__array_namespace_info__", "__array_api_version__"):
            raise AttributeError(name)
        ctx = self._ctx
        concrete = ctx.xp
        for part in self._prefix.split(".")[:-1] if self._prefix else ():
            concrete = getattr(concrete, part)
        if name in DTYPE_NAMES or name in _CONSTANTS:
            value = getattr(concrete, name)
        elif name in _PASSTHROUGH:
            f = getattr(concrete, name)

            def value(*args, **kwargs):
                return f(*(_dtype_of(a) for a in args), **{k: _dtype_of(v) for k, v in kwargs.items()})
        elif name in ("linalg", "fft") and not self._prefix:
            value = TracingNamespace(ctx, f"{self._prefix}{name}.")
        else:
            if not hasattr(concrete, name):
                raise errors.UnknownFunctionError(f"{self._prefix}{name}", getattr(concrete, "__name__", "?"))
            full = self._prefix + name

            def value(*args, **kwargs):
                return ctx.call(full, args, kwargs)

            value.__name__ = full
        self.__dict__[name] = value
        return value

    def __repr__(self):
        return f"<yota tracing namespace over {getattr(self._ctx.xp, '__name__', self._ctx.xp)}>"


class TracingExt:
    """The ``ext`` handed to compiled code while it runs on Tracers (nested grad)."""

    def __init__(self, ctx: Context):
        self._ctx = ctx

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        ctx = self._ctx
        if name == "device":
            return lambda x: x.device if isinstance(x, Tracer) else ctx.ext.device(x)
        if name == "to_float":
            return lambda x: x
        full = "ext." + name

        def value(xp, *args, **kwargs):
            return ctx.call(full, args, kwargs)

        self.__dict__[name] = value
        return value


def _dtype_of(a):
    return a.val if isinstance(a, Tracer) else a
