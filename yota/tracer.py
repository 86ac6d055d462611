"""Tracer arrays and the tracing namespace.

A `Tracer` holds a concrete array and a tape variable. Every array-API call on
Tracers runs on the concrete values and is recorded by its standard name. In
user code (mode DIFF) a call with a differentiable argument runs the function's
rule, whose forward ops are recorded and whose pullback is kept for the reverse
sweep. Inside rules and pullbacks (mode PRIM) calls are recorded as they are.
"""
from __future__ import annotations

import abc
import functools
import operator
import sys
import threading

from . import backends, errors, ops
from .ops.table import DIFF as _NEEDS_RULE, NONE_DEFAULTS
from .ops.table import OPS as _OPS
from .tape import CALL, DTYPE_NAMES, GUARD, DeviceOf, DType, Op, TapeBuilder, Var, iter_vars, type_of
from .views import Views

__all__ = ["Tracer", "Context", "TracingNamespace", "DIFF", "PRIM", "implementation", "active_contexts",
           "is_float", "DTYPE_NAMES"]

DIFF, PRIM = "diff", "prim"

_OPFUNCS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
            "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "@": operator.matmul,
            "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne, "&": operator.and_, "|": operator.or_,
            "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift}
_UNARY = {"-": operator.neg, "+": operator.pos, "~": operator.invert}

SCALARS = (int, float, complex, bool)
_PLAIN = frozenset({int, float, bool, str, type(None)})


def _alias(x):
    return x


def implementation(name, xp, ext):
    """The concrete callable behind a tape function name on backend ``(xp, ext)``."""
    if not isinstance(name, str):
        return name
    entry = ops.lookup(name)
    if entry is not None:
        as_calls = getattr(ext, "operators_via_namespace", False) is True
        if entry.infix is not None and not as_calls:
            return _OPFUNCS[entry.infix]
        if entry.prefix is not None and not as_calls:
            return _UNARY[entry.prefix]
        if entry.alias:
            return _alias
    if name == "__getitem__":
        if getattr(ext, "replaces_getitem", False):
            return lambda x, key: ext.getitem(xp, x, key)
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


_PY_DTYPES = {bool: "bool", int: "int64", float: "float64", complex: "complex128"}


class Context:
    """One trace: the tape being written, the backend, and the rule applications."""

    def __init__(self, xp, ext, title="f"):
        self.xp = xp
        self.ext = ext
        self.tape = TapeBuilder(title)
        self.mode = DIFF
        self.nodes: list = []  # (op table entry, in_args, out, pullback)
        self.devices: dict = {}
        self.ns = TracingNamespace(self)
        self.ext_ns = TracingExt(self)
        self.note = ""
        self.rules_used: set = set()
        self.on_guard = None  # a transformation's check on control flow (vmap: no batched branches)
        self.batched: set | None = None  # vmap: the variables that depend on a batched input
        self._impl: dict = {}
        self._own_types: set = set()  # result types known to be this backend's arrays
        self.raised: list = []  # errors yota raised to the traced code that the plain call would not
        self.failed: list = []  # errors the library raised on the trace's values (the plain call's too)
        self.views = Views(ext)  # which traced arrays share memory (NumPy views), which are stale
        # the library's floating-point error settings the trace started under (np.errstate), which a
        # compiled tape's operations run under too; None where the library has none
        self._fp = ext.float_errors
        self._fp0 = self._fp()
        self._fp_start = ext.float_errors_raising() if self._fp0 is not None else frozenset()
        self._fp_seen: dict = {}

    def release(self) -> None:
        """Drop what only the trace needed (rule applications, pullback closures),
        so that it is freed when the trace ends rather than by the cyclic collector."""
        self.nodes = []
        self._impl = {}
        self.raised = []  # their tracebacks hold the traced code's frames
        self.failed = []
        self.views = Views(self.ext)

    # ------------------------------------------------------------------ inputs

    def input(self, value, name: str, diff: bool | None = None) -> "Tracer":
        v = self.tape.add_input(name, type_of(value))
        t = Tracer(value, v, self, diff=is_float(value) if diff is None else diff)
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
        entry = _OPS.get(name) if type(name) is str else ops.lookup(name)
        views = self.views
        if views.stale:
            views.check(args)
            if kwargs:
                views.check(tuple(kwargs.values()))
        try:
            if self.mode is DIFF and _any_diff(args, kwargs):
                rule = entry.rule if entry is not None else None
                if rule is not None:
                    out = self._apply_rule(entry, rule, args, kwargs)
                elif entry is None or entry.diff == _NEEDS_RULE:
                    raise errors.NoRuleError(name)
                else:
                    out = self.record(name, args, kwargs, entry)
            else:
                out = self.record(name, args, kwargs, entry)
        except Exception as e:
            if not isinstance(e, errors.YotaError) or isinstance(e, errors.RuleError):
                # the library refused these values (a singular matrix, np.errstate's FloatingPointError):
                # a trace whose code catches it and goes on holds only for values that raise it
                self.failed.append(e)
            raise
        if self.mode is DIFF and entry is not None and entry.views:
            return views.note(out, args, self, name, kwargs)
        return out

    def implementation_of(self, name):
        """The library's function behind an op name (cached per trace)."""
        impl = self._impl.get(name)
        if impl is None:
            impl = self._impl[name] = implementation(name, self.xp, self.ext)
        return impl

    def _apply_rule(self, entry, rule, args, kwargs):
        if kwargs or len(args) < rule.n_positional:
            args, kwargs = rule.bind(args, kwargs)
        if len(args) == 1:  # (one or two arguments, without a comprehension's frame: once per op)
            a = args[0]
            snap = (Tracer(a.val, a.vid, self, a.diff) if type(a) is Tracer else _snapshot(a),)
        elif len(args) == 2:
            a, b = args
            snap = (Tracer(a.val, a.vid, self, a.diff) if type(a) is Tracer else _snapshot(a),
                    Tracer(b.val, b.vid, self, b.diff) if type(b) is Tracer else _snapshot(b))
        else:
            snap = tuple([Tracer(a.val, a.vid, self, a.diff) if type(a) is Tracer else _snapshot(a) for a in args])
        kw = {k: _snapshot(v) for k, v in kwargs.items()} if kwargs else kwargs
        self.mode = PRIM
        self.rules_used.add(entry.name)
        try:
            y, pullback = rule.fn(self.ns, *snap, **kw)
        except errors.YotaError:
            raise
        except Exception as e:
            raise errors.rule_failed(entry.label, e) from e
        finally:
            self.mode = DIFF
        if type(y) is Tracer:  # the common case, inline
            self.nodes.append((entry, snap, y, pullback))
            vt = self.tape.types.get(y.vid)
            return Tracer(y.val, y.vid, self, (vt is not None and vt.dtype in _FLOAT_NAMES) or is_float(y.val))
        y = _aliased(y, self, entry.label)
        self.nodes.append((entry, snap, y, pullback))
        return _aliased(y, self, entry.label, diff=True)

    def record(self, name, args, kwargs, entry=None):
        if entry is None:
            entry = ops.lookup(name)
        if not kwargs and type(name) is str and entry is not None and entry.data_dependent is None and (
                entry.identity_if is None or self.mode is not PRIM) and self.batched is None:
            out = self._record_plain(name, args)
            if out is not None:
                return out
        return self._record(name, args, kwargs, entry)

    def _float_errors_changed(self, name):
        """An operation runs under other floating-point error settings than the trace began with
        (``with np.errstate(divide="raise"):`` inside the traced function). Where only warnings
        differ the values are the same; where what raises differs, a cached call (which runs under
        the caller's settings) would raise where the plain call does not, or not raise where it
        does (a ``FloatingPointError`` the code catches)."""
        token = self._fp()
        if self._fp_seen.get(id(token)) is token:
            return  # these settings were looked at already
        now = self.ext.float_errors_raising()
        if now != self._fp_start:
            what = ", ".join(sorted(now ^ self._fp_start))
            raise errors.UntraceableError(
                f"the floating-point error settings changed inside the traced function (what raises on "
                f"{what} differs, at {name!r}: np.errstate or np.seterr)",
                "a compiled tape runs its operations under the caller's settings, so a cached call would "
                "not raise where the plain call does, or would raise where it does not. Set them around "
                "the call instead (with np.errstate(divide='raise'): yota.grad(f, x)), or test the values "
                "with xp.isfinite / xp.where")
        self._fp_seen[id(token)] = token

    def _record_plain(self, name, args):
        """The common call, inline (it runs once per op): positional Tracers of
        this trace and Python numbers, one array result. None: not that call."""
        tape = self.tape
        tv = tape.vars
        vals = []
        enc = []
        for a in args:
            t = type(a)
            if t is Tracer:
                if a.ctx is not self:
                    return None
                vals.append(a.val)
                enc.append(tv[a.vid])
            elif t in _PLAIN:
                vals.append(a)
                enc.append(a)
            else:
                return None
        impl = self._impl.get(name)
        if impl is None:
            impl = self._impl[name] = implementation(name, self.xp, self.ext)
        if self._fp0 is not None and self._fp() != self._fp0:
            self._float_errors_changed(name)
        result = impl(*vals)
        if type(result) not in self._own_types:
            if isinstance(result, (tuple, list)):
                return self._finish_record(name, args, {}, result, tuple(enc), {}, None)
            self._check_result(result, name)
        # tape.new_var, inline
        out = tape.nvars = tape.nvars + 1
        tv.append(Var(out))
        tape.types[out] = type_of(result)
        tape.ops.append(Op(CALL, (out,), name, tuple(enc), None, self.note, None, tape.section))
        return Tracer(result, out, self, False)

    def _record(self, name, args, kwargs, entry):
        if kwargs and isinstance(name, str):
            kwargs = {k: v for k, v in kwargs.items()
                      if not (v is None and k in NONE_DEFAULTS) and not (k == "keepdims" and v is False)}
        if self.mode is PRIM and entry is not None and entry.identity_if is not None and type(args[0]) is Tracer:
            if entry.identity_if(args[0], args[1:], kwargs):
                return Tracer(args[0].val, args[0].vid, self, False)
        impl = self._impl.get(name)
        if impl is None:
            impl = self._impl[name] = implementation(name, self.xp, self.ext)
        # (the common arguments, Tracers of this trace and numbers, inline: this runs once per op)
        vals = [a.val if type(a) is Tracer and a.ctx is self else self._unwrap(a) for a in args]
        if self._fp0 is not None and self._fp() != self._fp0:
            self._float_errors_changed(name)
        if kwargs:
            result = impl(*vals, **{k: self._unwrap(v) for k, v in kwargs.items()})
            enc_kw = {k: self._encode(v) for k, v in kwargs.items()}
        else:
            result = impl(*vals)
            enc_kw = {}
        if type(result) not in self._own_types:
            self._check_result(result, name)
        tape = self.tape
        fn = name if isinstance(name, str) else tape.const(name, getattr(name, "__name__", None))
        enc_args = tuple([Var(a.vid) if type(a) is Tracer else a if type(a) in _PLAIN else self._encode(a)
                          for a in args])
        dependent = entry is not None and entry.data_dependent is not None and entry.data_dependent(args, kwargs)
        return self._finish_record(name, args, kwargs, result, enc_args, enc_kw, dependent, fn)

    def _finish_record(self, name, args, kwargs, result, enc_args, enc_kw, dependent, fn=None):
        tape = self.tape
        if fn is None:
            fn = name if isinstance(name, str) else tape.const(name, getattr(name, "__name__", None))
        # Only rules make differentiable values; a plain record (creation,
        # comparison, or an op inside a rule) has no derivative of its own.
        if isinstance(result, (tuple, list)):
            outs = tuple(tape.new_var(type_of(r)) for r in result)
            tape.append(Op(CALL, outs, fn, enc_args, enc_kw, self.note, type(result), tape.section))
            if self.batched is not None:
                self._mark_batched(enc_args, enc_kw, outs)
            for r, v in zip(result, outs):
                if dependent:
                    self._shape_guard(v, r, name, dependent)
            tracers = [Tracer(r, v, self, False) for r, v in zip(result, outs)]
            return _rebuild(result, tracers)
        out = tape.new_var(type_of(result))
        tape.append(Op(CALL, (out,), fn, enc_args, enc_kw, self.note, None, tape.section))
        if self.batched is not None:
            self._mark_batched(enc_args, enc_kw, (out,))
        if dependent:
            self._shape_guard(out, result, name, dependent)
        return Tracer(result, out, self, False)

    def _check_result(self, result, name):
        """An op on this trace's values gave another library's array (a global
        Dask array met a NumPy trace): the rest of the trace would run on the
        wrong library; say so, and how to pass the array in."""
        items = result if isinstance(result, (tuple, list)) else (result,)
        for r in items:
            if not hasattr(r, "shape") or isinstance(r, (int, float, complex)):
                continue
            from_lib = getattr(self.ext, "name", None)
            lib = backends.library_name(r)
            if from_lib is not None and lib != from_lib and lib not in self._allowed_libs():
                raise errors.MixedTraceError(lib, from_lib, f"xp.{getattr(name, '__name__', name)}")
        if not isinstance(result, (tuple, list)):
            self._own_types.add(type(result))

    def _allowed_libs(self):
        # a backend's results may be arrays of the libraries that join it (NumPy chunks in Dask)
        return getattr(self.ext, "result_libraries", ())

    def _mark_batched(self, args, kwargs, outs):
        if any(v in self.batched for v in iter_vars((args, kwargs))):
            self.batched.update(outs)

    def _shape_guard(self, var, value, name, deciders):
        # The rest of the tape was recorded for this size: a later call whose
        # data give another size must take a new trace.
        if deciders is ops.table.OPAQUE and not hasattr(value, "shape"):
            return  # a primitive returning a number: no size
        shape = tuple(getattr(value, "shape", ()))
        if any(s is None or s != s for s in shape):
            if deciders is ops.table.OPAQUE:
                return  # a primitive returning a lazy array of unknown size: nothing to compare
            raise errors.UnknownShapeError(getattr(name, "__name__", name), self.ext.unknown_size_advice)
        if self.on_guard is not None:
            for d in deciders:  # the values the size depends on (the op table says which), not the result
                if type(d) is Tracer:
                    self.on_guard(d.vid, "shape")
        self.tape.append(Op(GUARD, (), "shape", (Var(var), tuple(int(s) for s in shape)),
                            section=self.tape.section, loc=errors.user_location()))

    def guard(self, t: "Tracer", kind: str, value):
        if self.views.stale:
            self.views.check((t,))
        if self.on_guard is not None:
            self.on_guard(t.vid, kind)
        self.tape.append(Op(GUARD, (), kind, (Var(t.vid), value), section=self.tape.section,
                            loc=errors.user_location()))
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
            return a
        if t is tuple or t is list:
            return t(self._encode(x) for x in a)
        if t is slice:
            return slice(self._encode(a.start), self._encode(a.stop), self._encode(a.step))
        name = self._dtype_arg(a)
        if name is not None:
            return DType(name)
        try:
            var = self.devices.get(_device_key(a))
        except TypeError:
            var = None
        if var is not None:
            return DeviceOf(Var(var))
        if isinstance(a, SCALARS):  # a subclass (np.float64): keep its exact value and type
            return self.tape.const(a, repr(a))
        if self.ext.embeds_tracers(a):
            raise errors.WrappedTracerError(backends.library_name(a))
        return self.tape.const(a)

    def _dtype_arg(self, a):
        if isinstance(a, SCALARS) or (hasattr(a, "shape") and hasattr(a, "dtype")):
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


def _rebuild(result, tracers):
    t = type(result)
    if t is tuple or t is list:
        return t(tracers)
    if hasattr(t, "_make"):  # namedtuple
        return t._make(tracers)
    return t(tracers)  # structseq-like types (torch.return_types) take one sequence


def _device_key(dev):
    return (type(dev), dev) if isinstance(dev, str) else (type(dev), hash(dev), str(dev))


# dtype names of a tape type for which `is_float` is sure to be True
_FLOAT_NAMES = frozenset({"float16", "float32", "float64", "complex64", "complex128"})


def is_float(v) -> bool:
    """Whether ``v`` is differentiable: a Python float/complex or a floating/complex array."""
    if isinstance(v, (float, complex)):
        return True
    dt = getattr(v, "dtype", None)
    if dt is None:
        return False
    kind = getattr(dt, "kind", None)
    if isinstance(kind, str):
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


def _aliased(y, ctx, label, diff=None):
    if type(y) is Tracer:
        return Tracer(y.val, y.vid, y.ctx, is_float(y.val) if diff else y.diff)
    if isinstance(y, (tuple, list)):
        return _rebuild(y, [_aliased(x, ctx, label, diff) for x in y])
    if y is None or isinstance(y, SCALARS):
        return y
    raise errors.RuleError(label, TypeError(f"the rule returned {type(y).__name__}, not a traced array"))


_FLOAT_WHY = ("it would drop the value's gradient: the number is cut off the tape. Write the math "
              "with xp (xp.exp(x), not math.exp(x)); compare arrays directly for control flow "
              "(`if loss < tol:` is recorded as a guard); for logging or a value that must not be "
              "differentiated, convert yota.stop_gradient(x)")


_ABC_INSTANCECHECK = abc.ABCMeta.__instancecheck__.__code__


def _dispatchers() -> set:
    """The code of the standard library's functions that ask ``__class__`` for the user:
    functools.singledispatch and singledispatchmethod, which choose the implementation the user
    registered for the plain value's class."""
    codes = {functools.singledispatch(lambda x: x).__code__}
    try:
        codes.add(functools.singledispatchmethod(lambda self, x: x).__get__(object(), object).__code__)
    except Exception:  # noqa: BLE001 - another Python's implementation: the functions above still hold
        pass
    return codes


_DISPATCHERS = _dispatchers()


class Tracer:
    """An array being traced: a concrete value and its tape variable."""

    __slots__ = ("val", "vid", "ctx", "diff", "__weakref__")
    __array_priority__ = 10000
    __yota_tracer__ = True  # lets modules that cannot import this one (the op table) recognise it

    def __init__(self, val, var: int, ctx: Context, diff: bool = False):
        self.val = val
        self.vid = var
        self.ctx = ctx
        self.diff = diff

    def __array_namespace__(self, api_version=None):
        return self.ctx.ns

    @property
    def __class__(self):
        # The user's `isinstance(x, np.ndarray)`, `isinstance(lam, float)`, `x.__class__` ask about
        # the plain call's value, whose class is the traced value's: answered so, the branch taken
        # is the plain call's (isinstance asks __class__ when type() does not match, as
        # unittest.mock's spec objects rely on). yota itself and the libraries (array-api-compat's
        # is_numpy_array, singledispatch) see a Tracer, and type(x) stays Tracer everywhere.
        f = sys._getframe(1)
        if f.f_code is _ABC_INSTANCECHECK:  # isinstance(x, numbers.Real): the ABC asks for its caller
            f = f.f_back
        if f.f_code in _DISPATCHERS or errors._user_file(f.f_code.co_filename):
            return type(self.val)
        return Tracer

    def __repr__(self):
        return f"Tracer(%{self.vid}, {type_of(self.val)})"

    # ---------------------------------------------------------- attributes
    @property
    def shape(self):
        s = getattr(self.val, "shape", ())
        return tuple(s)

    @property
    def dtype(self):
        d = getattr(self.val, "dtype", None)
        if d is None:  # a Python number: the dtype NumPy gives it (1j * np.float64(x) is a Python complex)
            return getattr(self.ctx.xp, _PY_DTYPES.get(type(self.val), "float64"))
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
        return self.ctx.ext.device(self.val)

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

    # round(x), math.floor/ceil/trunc(x): Python ints, like int(x): the function (gradient 0) then
    # a guard on the whole number
    def __round__(self, ndigits=None):
        if ndigits is not None:
            raise errors.UntraceableError(f"round(x, {ndigits}) on a traced value",
                                          f"write xp.round(x * 10**{ndigits}) / 10**{ndigits} (an array)")
        return int(self.__array_namespace__().round(self))

    def __floor__(self):
        return int(self.__array_namespace__().floor(self))

    def __ceil__(self):
        return int(self.__array_namespace__().ceil(self))

    def __trunc__(self):
        return int(self.__array_namespace__().trunc(self))

    def __float__(self):
        if self.diff:
            raise errors.ConcretizationError("float(x) on a differentiable traced value", _FLOAT_WHY)
        return self.ctx.guard(self, "float", float(self.val))

    def __complex__(self):
        if self.diff:
            raise errors.ConcretizationError("complex(x) on a differentiable traced value", _FLOAT_WHY)
        return self.ctx.guard(self, "complex", complex(self.val))

    def __array__(self, dtype=None, copy=None):
        if self.diff and not self.shape:
            raise errors.ConcretizationError("converting a differentiable traced value to a host number "
                                             "(np.float64(x), np.asarray(x))", _FLOAT_WHY)
        raise errors.UntraceableError("converting a traced array to a host array (np.asarray / np.array)",
                                      "yota records array-API calls; a host copy would cut the value off "
                                      "the tape. Call the function through xp = array_namespace(x) instead, "
                                      "or make it a @yota.primitive with a @yota.rrule")

    def __dlpack__(self, *a, **k):
        raise errors.UntraceableError("exporting a traced array through DLPack",
                                      "the exported buffer would not be recorded on the tape")

    # copy.copy / copy.deepcopy of a traced array: a new array of the same values, as for NumPy's
    # (a deepcopy of the parameters inside a loss is common); pickling one cannot be traced
    def __copy__(self):
        return self.ctx.call("asarray", (self,), {"copy": True})

    def __deepcopy__(self, memo):
        return self.__copy__()

    def __reduce_ex__(self, protocol):
        raise errors.UntraceableError("pickling a traced array",
                                      "its value is only known for this trace. Pickle the arrays outside "
                                      "the traced function, or the results it returns")

    def tolist(self):
        raise errors.UntraceableError(".tolist() on a traced array",
                                      "a Python list leaves the tape, so no gradient could flow through it. "
                                      "Index the array (x[i]); for control flow compare the array itself "
                                      "(`if x[0] > 0:`), which yota records as a guard")

    def item(self, *a):
        raise errors.UntraceableError(".item() on a traced array",
                                      "it returns a Python number that is cut off the tape. Keep the value "
                                      "as a 0-d array; compare it directly to branch on it (recorded as a "
                                      "guard)")

    def __format__(self, spec):
        if not spec:
            return repr(self)
        raise errors.UntraceableError(f"formatting a traced value (format spec {spec!r})",
                                      "the number is only known for this trace; log "
                                      "float(yota.stop_gradient(x)) outside the differentiated part, or "
                                      "print(x) for the tracer")

    # ---------------------------------------------------------- indexing
    def __getitem__(self, key):
        return self.ctx.call("__getitem__", (self, _key(key)), {})

    def __setitem__(self, key, value):
        # Copy-on-write: the tracer now names a new array; the old one (and the
        # caller's original) stays as it was. Views of it go stale (yota/views.py).
        key = _key(key)
        views = self.ctx.views
        if views.stale:
            views.writing(self, key)
        new = self.ctx.call("ext.setitem", (self, key, value), {})
        if self.ctx.mode is DIFF:
            views.wrote(self, key)
        self.val, self.vid, self.diff = new.val, new.vid, new.diff or self.diff

    # ---------------------------------------------------------- foreign protocols (front ends)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return frontend("ufunc")(self.ctx, ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return frontend("function")(self.ctx, func, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return frontend("method")(self, name)


_FRONTENDS: dict = {}


def register_frontend(kind: str, handler) -> None:
    """Handlers for code written against another library's protocols on Tracers
    (``ufunc``, ``function``, ``method``): installed by ``yota.frontends``."""
    _FRONTENDS[kind] = handler


def frontend(kind):
    h = _FRONTENDS.get(kind)
    if h is None:
        raise errors.UntraceableError(f"a {kind} call on a traced array", "no front end is installed for it")
    return h


def _key(key):
    if isinstance(key, list):
        return tuple(key) if any(isinstance(k, (slice, type(None), type(Ellipsis))) for k in key) else key
    return key


_DUNDER = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "//": "floordiv", "%": "mod",
           "**": "pow", "@": "matmul", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq",
           "!=": "ne", "&": "and", "|": "or", "^": "xor", "<<": "lshift", ">>": "rshift"}


def _binop(name):
    def fwd(self, other):
        return self.ctx.call(name, (self, other), {})

    def rev(self, other):
        return self.ctx.call(name, (other, self), {})

    return fwd, rev


def _inplace(name, dunder):
    """``x += y`` writes into ``x`` where the library's arrays take writes (NumPy): the same object
    takes the result, in ``x``'s shape and dtype; elsewhere (Python and NumPy scalars, Dask, JAX)
    it is ``x = x + y``, as without yota."""
    write = getattr(operator, f"__i{dunder}__")

    def op(self, other):
        ctx = self.ctx
        r = ctx.call(name, (self, other), {})
        if ctx.mode is not DIFF or not ctx.views.writes(self):
            return r
        if tuple(r.shape) != self.shape or r.dtype != self.dtype:
            # the library's own answer to writing this result into x (NumPy: same-kind casting, the
            # shape of x), on a copy: its error, or x's dtype
            write(ctx.xp.asarray(self.val, copy=True), other.val if type(other) is Tracer else other)
            r = ctx.call("astype", (r, self.dtype), {})
        ctx.views.wrote(self)
        self.val, self.vid, self.diff = r.val, r.vid, r.diff
        return self
    return op


def _install_operators():
    for name, entry in ops.OPS.items():
        if not isinstance(name, str):
            continue
        if entry.infix is not None:
            dunder = _DUNDER[entry.infix]
            f, r = _binop(name)
            setattr(Tracer, f"__{dunder}__", f)
            if entry.infix not in ("<", "<=", ">", ">=", "==", "!="):
                setattr(Tracer, f"__r{dunder}__", r)
                setattr(Tracer, f"__i{dunder}__", _inplace(name, dunder))
        elif entry.prefix is not None:
            dunder = {"-": "neg", "+": "pos", "~": "invert"}[entry.prefix]
            setattr(Tracer, f"__{dunder}__", (lambda n: lambda self: self.ctx.call(n, (self,), {}))(name))


_install_operators()
Tracer.__hash__ = object.__hash__
# abs(): yota/pynumbers.py (a Python number's abs stays a Python number)


# ------------------------------------------------------------------ namespaces

_CONSTANTS = {"e", "pi", "inf", "nan", "newaxis", "__array_api_version__"}


class TracingNamespace:
    """What ``array_namespace(tracer)`` returns: every function records a call."""

    def __init__(self, ctx: Context, prefix: str = ""):
        self._ctx = ctx
        self._prefix = prefix
        self.__name__ = f"yota.tracing{'.' + prefix[:-1] if prefix else ''}"

    def __yota_call__(self, name, args, kwargs):
        return self._ctx.call(name, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__") and name not in ("__array_namespace_info__", "__array_api_version__"):
            raise AttributeError(name)
        ctx = self._ctx
        concrete = ctx.xp
        for part in self._prefix.split(".")[:-1] if self._prefix else ():
            concrete = getattr(concrete, part)
        full = self._prefix + name
        entry = ops.lookup(full)
        if name in DTYPE_NAMES or name in _CONSTANTS:
            value = getattr(concrete, name)
        elif entry is not None and entry.diff == ops.table.QUERY:
            f = getattr(concrete, name)

            def value(*args, **kwargs):
                return f(*(_concrete(a) for a in args), **{k: _concrete(v) for k, v in kwargs.items()})
        elif name in ("linalg", "fft") and not self._prefix:
            value = TracingNamespace(ctx, f"{self._prefix}{name}.")
        elif entry is None and hasattr(concrete, name) and (
                isinstance(getattr(concrete, name), type) or not callable(getattr(concrete, name))):
            value = getattr(concrete, name)  # a type or a constant of the library (xp.bool_): itself
        else:
            if not hasattr(concrete, name):
                raise errors.UnknownFunctionError(full, getattr(concrete, "__name__", "?"))
            if entry is not None and entry.elementwise:
                operator_like = entry.infix is not None or entry.prefix is not None

                def value(*args, **kwargs):
                    # inside rules, arithmetic on Python numbers stays Python arithmetic
                    if (ctx.mode is DIFF or not operator_like) and not (
                            args and type(args[0]) is Tracer and hasattr(args[0].val, "shape")):
                        args = _with_an_array(ctx, args)
                    return ctx.call(full, args, kwargs)
            elif full == "asarray":
                def value(obj, /, **kwargs):
                    if type(obj) in (list, tuple) and _holds_tracers(obj):
                        return _stacked(ctx, obj, kwargs)
                    return ctx.call(full, (obj,), kwargs)
            else:
                def value(*args, **kwargs):
                    return ctx.call(full, args, kwargs)

            value.__name__ = full
        self.__dict__[name] = value
        return value

    def __repr__(self):
        return f"<yota tracing namespace over {getattr(self._ctx.xp, '__name__', self._ctx.xp)}>"


class TracingExt:
    """The backend handed to compiled code while it runs on Tracers (a nested
    call): every extension op is recorded on the outer tape, and results stay
    Tracers (no conversion to floats or host arrays)."""

    is_lazy = True
    replaces_getitem = False
    operators_via_namespace = False
    prepare_inputs = None
    unknown_size_advice = ""

    def __init__(self, ctx: Context):
        self._ctx = ctx
        self.namespace = ctx.ns

    @staticmethod
    def as_array(x):
        return x

    def record(self, name, x):
        """An op that is the identity at run time, recorded on the outer tape."""
        return self._ctx.record(name, (x,), {})

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


def _concrete(a):
    return a.val if isinstance(a, Tracer) else a


def _holds_tracers(obj) -> bool:
    return any(type(e) is Tracer or (type(e) in (list, tuple) and _holds_tracers(e)) for e in obj)


def _stacked(ctx, obj, kwargs):
    """``xp.asarray([a, b])`` of traced values (``jnp.array([a, b])``, ``np.asarray`` of a list): the
    items stacked along a new first axis, nested lists as deeper axes, in the dtype NumPy's asarray
    gives the list."""
    items = [_stacked(ctx, e, kwargs) if type(e) in (list, tuple) else
             e if type(e) is Tracer else ctx.call("asarray", (e,), {}) for e in obj]
    out = ctx.call("stack", (items,), {"axis": 0})
    dtype = kwargs.get("dtype")
    return out if dtype is None or out.dtype == dtype else ctx.call("astype", (out, dtype), {})


def _is_arrayish(a) -> bool:
    v = a.val if type(a) is Tracer else a
    return hasattr(v, "shape") and hasattr(v, "dtype")


def _with_an_array(ctx, args):
    """``xp.add(1.5, s)`` with only Python numbers (traced or not) would be
    written ``1.5 + s`` (a Python float, which the library's next function may
    refuse); the library's own function returns one of its scalars/arrays.
    Making the first operand an array keeps the library's semantics."""
    if not args or (type(args[0]) is Tracer and hasattr(args[0].val, "shape")) or any(
            _is_arrayish(a) for a in args):
        return args
    first = next((i for i, a in enumerate(args) if isinstance(a, (Tracer, int, float, complex))), None)
    if first is None:
        return args
    a = args[first]
    arr = ctx.call("asarray", (a,), {})
    return args[:first] + (arr,) + args[first + 1:]


def install_trap(attr: str, library: str) -> None:
    """Answer another library's protocol probe (``__cuda_array_interface__``) with
    an error saying to call the function through xp: an AttributeError, so that
    ``hasattr`` still answers False."""
    def trap(self):
        raise errors.ForeignLibraryAttributeError(library)
    setattr(Tracer, attr, property(trap))
