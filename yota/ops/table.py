"""One entry per operation the tape can hold.

An entry (`OpDef`) says how the call is written in generated code (an
operator, or ``xp.<name>``), whether it has a derivative (a reverse rule, none,
or a query that is not traced at all), whether it is elementwise (fusible; its
NumPy/CuPy ufunc for ``out=`` buffer reuse), whether it only moves data (a
filled array stays filled), when it is the identity, whether the size of its
result depends on the values, and its NumPy names. The reverse rule
(`yota/rules/`) and the batching rule (`yota/batching/`) are attached to the
entry by their registration decorators.
"""
from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable

from ..errors import RegistrationError

__all__ = ["OpDef", "Rule", "OPS", "get", "lookup", "rrule", "nondiff", "batching", "define_primitive",
           "on_change", "registry_version", "standard_names", "NONE_DEFAULTS"]

# Keyword arguments whose value None is the standard's default (so recording
# them only clutters the tape). ``axis=None`` is not one of them: concat.
NONE_DEFAULTS = frozenset({"dtype", "device", "copy", "stream"})

DIFF, NONDIFF, QUERY = "diff", "nondiff", "query"


class Rule:
    """A registered reverse rule. ``bind`` puts the arguments in the rule's
    positional order (keyword arguments it takes positionally, and the defaults
    of positional parameters not given), so the pullback's tuple lines up with
    them: one cotangent per positional argument."""

    __slots__ = ("fn", "_sig", "version", "_pos", "n_positional")

    def __init__(self, fn: Callable, version: int):
        self.fn = fn
        self._sig = None
        self._pos = None
        self.version = version
        # positional parameters after xp (0 with *args), known after the first bind: a call with
        # at least as many arguments and no keywords needs no binding
        self.n_positional = 1 << 30

    def _positional(self):
        if self._pos is None:
            self._sig = inspect.signature(self.fn)
            params = list(self._sig.parameters.values())[1:]
            if any(p.kind is p.VAR_POSITIONAL for p in params):
                self._pos = ()
            else:
                self._pos = tuple(p.default for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
            self.n_positional = len(self._pos)
        return self._pos

    def bind(self, args: tuple, kwargs: dict):
        pos = self._positional()
        if not kwargs:
            if len(args) < len(pos) and all(d is not inspect.Parameter.empty for d in pos[len(args):]):
                args = args + pos[len(args):]
            return args, kwargs
        try:
            ba = self._sig.bind(None, *args, **kwargs)
        except TypeError:
            return args, kwargs
        # Without the defaults, .args stops at the first parameter not given
        # (clip(x, max=b) would lose b's cotangent).
        ba.apply_defaults()
        return ba.args[1:], ba.kwargs


class OpDef:
    """What yota knows about one operation."""

    __slots__ = ("name", "family", "diff", "infix", "prefix", "elementwise", "ufunc", "aliases", "moves_data",
                 "identity_if", "data_dependent", "pure", "alias", "rule", "batch", "label",
                 "sparse_cotangents", "views")

    def __init__(self, name, family, diff=DIFF, *, infix=None, prefix=None, elementwise=False, ufunc=None,
                 aliases=(), moves_data=False, identity_if=None, data_dependent=None, pure=True, alias=False,
                 sparse_cotangents=False, views=False):
        self.name = name
        self.family = family
        self.diff = diff                  # DIFF (needs a rule), NONDIFF (recorded, no derivative), QUERY
        self.infix = infix                # "+": written ``a + b`` (works on every library and on scalars)
        self.prefix = prefix              # "-": written ``-a``
        self.elementwise = elementwise    # one output element per (broadcast) input element: fusible
        self.ufunc = ufunc                # the NumPy/CuPy ufunc of the same meaning (``out=`` reuse)
        self.aliases = aliases            # the ufunc names of NumPy-style code that mean this op (front end)
        self.moves_data = moves_data      # only moves or copies values: an array filled with c stays so
        # may return a view of an argument in a library with views (NumPy: x[1:], reshape, x.T): a write
        # into one is seen through the other (yota/views.py)
        self.views = views or moves_data
        self.identity_if = identity_if    # (x, rest, kwargs) -> True when the call returns x unchanged
        self.data_dependent = data_dependent  # (args) -> True when the result's size depends on values
        self.pure = pure                  # two equal calls give equal results (CSE may merge them)
        self.alias = alias                # the result is the argument itself at run time
        self.rule: Rule | None = None
        self.batch: Callable | None = None
        self.sparse_cotangents = sparse_cotangents  # the pullback of a several-result op takes None for
        # unused results: no zeros multiplied by its terms (eigh's 1/(w_j - w_i) at equal eigenvalues)
        self.label = name if isinstance(name, str) else getattr(name, "__name__", repr(name))

    def __repr__(self):
        return f"OpDef({self.label!r}, {self.family}, {self.diff})"


OPS: dict[Any, OpDef] = {}
_listeners: list[Callable[[Any], None]] = []
_version = [0]


def lookup(name) -> OpDef | None:
    """The entry of an op name or primitive; None for anything else (unhashable values too:
    a tape's function may be any callable)."""
    try:
        return OPS.get(name)
    except TypeError:
        return None


def hashable(x) -> bool:
    try:
        hash(x)
        return True
    except TypeError:
        return False


def get(name) -> OpDef:
    return OPS[name]


def registry_version() -> int:
    """Bumped by every rule registration."""
    return _version[0]


def on_change(listener: Callable[[Any], None]) -> None:
    _listeners.append(listener)


def standard_names() -> list[str]:
    """The functions of the standard in the table (not operators, ext ops or primitives)."""
    return [n for n, d in OPS.items() if isinstance(n, str) and d.family not in ("beyond", "primitive")]


# --------------------------------------------------------------------------- registration

def rrule(target, *, override: bool = False) -> Callable:
    """Register ``rule(xp, *args, **kwargs) -> (y, pullback)`` for ``target``.

    ``target`` is an array-API function name (``"exp"``, ``"linalg.solve"``,
    ``"__getitem__"``, ``"ext.scatter_add"``) or a `@yota.primitive` function.
    Replacing a rule warns unless ``override=True``; every cached tape that
    applied the old rule is dropped.
    """
    entry = _target_entry(target, "rrule")

    def register(fn):
        if entry.rule is not None and not override:
            warnings.warn(f"yota.rrule({entry.label!r}) replaces the rule registered before; pass "
                          f"override=True to say that this is meant", stacklevel=2)
        _version[0] += 1
        entry.rule = Rule(fn, _version[0])
        if entry.diff == NONDIFF:
            entry.diff = DIFF
        for listener in _listeners:
            listener(entry.name)
        return fn

    return register


def batching(target) -> Callable:
    """Register the batching rule of ``target`` (see `yota/batching/`)."""
    entry = _target_entry(target, "batching")

    def register(fn):
        entry.batch = fn
        _version[0] += 1
        for listener in _listeners:
            listener(entry.name)
        return fn

    return register


def _target_entry(target, what) -> OpDef:
    entry = lookup(target)
    if entry is not None:
        return entry
    if isinstance(target, str):
        close = [n for n in OPS if isinstance(n, str) and _near(n, target)]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise RegistrationError(f"yota.{what}({target!r}): no function of the array API standard (or yota "
                                f"extension) has that name.{hint} For a function of your own, decorate it "
                                f"with @yota.primitive and pass the function itself.")
    raise RegistrationError(f"yota.{what}({getattr(target, '__name__', target)!r}): a rule needs a "
                            f"@yota.primitive function (or an array-API function name); decorate the function "
                            f"with @yota.primitive first, so that calls to it are recorded as one op.")


def _near(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def nondiff(*names: str) -> None:
    """Functions whose outputs carry no derivative (creation, comparison, integer results)."""
    for n in names:
        OPS[n].diff = NONDIFF


#: what decides a primitive's result size: nothing traced (its function may read anything)
OPAQUE = ("opaque",)


def _opaque_size(args, kwargs):
    return OPAQUE


def define_primitive(prim, pure: bool, sparse_cotangents: bool = False, guard_sizes: bool = True) -> OpDef:
    # its result's shape is guarded: the function runs on every call and may return another size
    # for arguments of the same shapes, which the rest of the tape (the pullbacks) was not made for
    entry = OPS[prim] = OpDef(prim, "primitive", pure=pure, data_dependent=_opaque_size if guard_sizes else None)
    entry.sparse_cotangents = sparse_cotangents
    return entry


# --------------------------------------------------------------------------- predicates

def _same_shape(x, rest, kwargs):
    shape = rest[0] if rest else kwargs.get("shape")
    return shape is not None and tuple(shape) == tuple(x.shape) and -1 not in tuple(shape)


def _same_dtype(x, rest, kwargs):
    dtype = rest[0] if rest else kwargs.get("dtype")
    return dtype is not None and x.dtype == dtype and "device" not in kwargs


def _same_axes(x, rest, kwargs):
    axes = rest[0] if rest else kwargs.get("axes")
    return axes is not None and tuple(axes) == tuple(range(x.ndim))


def _is_bool_array(k) -> bool:
    dt = getattr(k, "dtype", None)
    return dt is not None and "bool" in str(dt) and len(getattr(k, "shape", ())) > 0


def _traced(x) -> bool:
    return getattr(type(x), "__yota_tracer__", False)


# A data-dependent entry's predicate returns the values its result's size
# depends on (empty: not data-dependent for these arguments); the tracer guards
# the size, and vmap refuses a batched one.

def _traced_in(*values) -> list:
    out = []
    for a in values:
        if _traced(a):
            out.append(a)
        elif isinstance(a, (tuple, list)):
            out += [b for b in a if _traced(b)]
    return out


def _size_from(*positions, keywords=()):
    """A creation function whose size comes from a traced value (``xp.arange(n)``
    with a 0-d traced ``n``): the arguments at these positions / keywords."""
    def deciders(args, kwargs):
        return _traced_in(*(args[i] for i in positions if i < len(args)),
                          *(kwargs[k] for k in keywords if k in kwargs))
    return deciders


def _masked_key(args, kwargs=None) -> list:
    if len(args) < 2:
        return []
    keys = args[1] if isinstance(args[1], tuple) else (args[1],)
    return [k for k in keys if _is_bool_array(k)]


def _array_repeats(args, kwargs=None) -> list:
    r = args[1] if len(args) > 1 else (kwargs or {}).get("repeats")
    return [r] if hasattr(r, "shape") else []


def _always(args, kwargs=None) -> list:
    return list(args) or [True]


# --------------------------------------------------------------------------- the table

def _def(name, family, diff=DIFF, **kw) -> None:
    OPS[name] = OpDef(name, family, diff, **kw)


def _ew(name, diff=DIFF, *, aliases=None, ufunc=None, infix=None, prefix=None, views=False):
    """An elementwise function; ``aliases`` lists NumPy-style names, the first being its ufunc."""
    aliases = (name,) if aliases is None else aliases
    _def(name, "elementwise", diff, elementwise=True, aliases=aliases,
         ufunc=ufunc if ufunc is not None else (aliases[0] if aliases else None), infix=infix, prefix=prefix,
         views=views)


# Creation
_def("asarray", "creation", views=True)
for _n in ("full_like", "meshgrid", "tril", "triu"):
    _def(_n, "creation")
_def("full", "creation", data_dependent=_size_from(0, keywords=("shape",)))
for _n in ("empty_like", "from_dlpack", "ones_like", "zeros_like"):
    _def(_n, "creation", NONDIFF)
for _n in ("empty", "ones", "zeros"):
    _def(_n, "creation", NONDIFF, data_dependent=_size_from(0, keywords=("shape",)))
_def("arange", "creation", NONDIFF, data_dependent=_size_from(0, 1, 2, keywords=("start", "stop", "step")))
_def("eye", "creation", NONDIFF, data_dependent=_size_from(0, 1, keywords=("n_rows", "n_cols")))
_def("linspace", "creation", NONDIFF, data_dependent=_size_from(2, keywords=("num",)))

# Data types
_def("astype", "data type", identity_if=_same_dtype, views=True)
for _n in ("can_cast", "finfo", "iinfo", "isdtype", "result_type"):
    _def(_n, "data type", QUERY)

# Elementwise: arithmetic
_ew("add", aliases=("add",), infix="+")
_ew("subtract", aliases=("subtract",), infix="-")
_ew("multiply", aliases=("multiply",), infix="*")
_ew("divide", aliases=("divide", "true_divide"), infix="/")
_ew("floor_divide", aliases=("floor_divide",), infix="//")
_ew("remainder", aliases=("remainder", "mod"), infix="%")
_ew("pow", aliases=("power", "pow"), infix="**")
_ew("negative", aliases=("negative",), prefix="-")
_ew("positive", aliases=("positive",), prefix="+")
_ew("abs", aliases=("absolute", "abs", "fabs"))
_ew("reciprocal")
_ew("square")
_ew("sqrt")
_ew("sign")
_ew("conj", aliases=("conjugate", "conj"))
_ew("real", aliases=(), ufunc=None, views=True)  # of a complex array: views of its memory
_ew("imag", aliases=(), ufunc=None, views=True)
# transcendental
for _n in ("exp", "expm1", "log", "log1p", "log2", "log10", "logaddexp", "sin", "cos", "tan", "sinh", "cosh",
           "tanh", "hypot"):
    _ew(_n)
for _n, _np_name in (("asin", "arcsin"), ("acos", "arccos"), ("atan", "arctan"), ("atan2", "arctan2"),
                     ("asinh", "arcsinh"), ("acosh", "arccosh"), ("atanh", "arctanh")):
    _ew(_n, aliases=(_np_name, _n))
# selection and rounding
for _n in ("maximum", "minimum", "copysign", "nextafter", "floor", "ceil", "trunc"):
    _ew(_n)
_ew("round", aliases=("rint",))
_ew("clip", aliases=(), ufunc=None)
_ew("signbit", NONDIFF)
# comparisons, logic, bits: no derivative
for _n, _sym in (("less", "<"), ("less_equal", "<="), ("greater", ">"), ("greater_equal", ">="), ("equal", "=="),
                 ("not_equal", "!=")):
    _ew(_n, NONDIFF, infix=_sym)
for _n in ("isfinite", "isinf", "isnan", "logical_and", "logical_or", "logical_xor", "logical_not"):
    _ew(_n, NONDIFF)
_ew("bitwise_and", NONDIFF, infix="&")
_ew("bitwise_or", NONDIFF, infix="|")
_ew("bitwise_xor", NONDIFF, infix="^")
_ew("bitwise_invert", NONDIFF, aliases=("invert", "bitwise_not", "bitwise_invert"), prefix="~")
_ew("bitwise_left_shift", NONDIFF, aliases=("left_shift", "bitwise_left_shift"), infix="<<")
_ew("bitwise_right_shift", NONDIFF, aliases=("right_shift", "bitwise_right_shift"), infix=">>")

# Indexing
_def("take", "indexing")
_def("take_along_axis", "indexing")

# Linear algebra
_def("matmul", "linear algebra", infix="@", aliases=("matmul",))
_def("matrix_transpose", "linear algebra", moves_data=True)
_def("tensordot", "linear algebra")
_def("vecdot", "linear algebra")

# Manipulation
_def("broadcast_arrays", "manipulation", views=True)
_def("broadcast_shapes", "manipulation", QUERY)
_def("broadcast_to", "manipulation", moves_data=True, identity_if=_same_shape)
_def("concat", "manipulation")
_def("expand_dims", "manipulation", moves_data=True)
_def("flip", "manipulation", moves_data=True)
_def("moveaxis", "manipulation", moves_data=True)
_def("permute_dims", "manipulation", moves_data=True, identity_if=_same_axes)
_def("repeat", "manipulation", moves_data=True, data_dependent=_array_repeats)
_def("reshape", "manipulation", moves_data=True, identity_if=_same_shape)
_def("roll", "manipulation", moves_data=True)
_def("squeeze", "manipulation", moves_data=True)
_def("stack", "manipulation")
_def("tile", "manipulation", moves_data=True)
_def("unstack", "manipulation", views=True)

# Searching
for _n in ("argmax", "argmin", "count_nonzero", "searchsorted"):
    _def(_n, "searching", NONDIFF)
_def("nonzero", "searching", NONDIFF, data_dependent=_always)
_def("where", "searching")

# Sets
_def("isin", "sets", NONDIFF)
for _n in ("unique_all", "unique_counts", "unique_inverse", "unique_values"):
    _def(_n, "sets", NONDIFF, data_dependent=_always)

# Sorting
_def("argsort", "sorting", NONDIFF)
_def("sort", "sorting")

# Statistics
for _n in ("cumulative_sum", "cumulative_prod", "max", "mean", "min", "prod", "std", "sum", "var"):
    _def(_n, "statistics")

# Utilities
_def("all", "utility", NONDIFF)
_def("any", "utility", NONDIFF)
_def("diff", "utility")

# Inspection
_def("__array_namespace_info__", "inspection", QUERY)

# linalg extension
for _n in ("cholesky", "cross", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "matmul",
           "matrix_norm", "matrix_power", "matrix_transpose", "outer", "pinv", "qr", "slogdet", "solve", "svd",
           "svdvals", "tensordot", "trace", "vecdot", "vector_norm"):
    _def("linalg." + _n, "linalg", sparse_cotangents=_n in ("eig", "eigh", "svd"),
         views=_n in ("diagonal", "matrix_transpose"))
_def("linalg.matrix_rank", "linalg", NONDIFF)

# fft extension
for _n in ("fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft", "fftshift",
           "ifftshift"):
    _def("fft." + _n, "fft")
_def("fft.fftfreq", "fft", NONDIFF)
_def("fft.rfftfreq", "fft", NONDIFF)

# Beyond the standard: indexing operators, einsum, the backend extensions, stop_gradient
_def("__getitem__", "beyond", data_dependent=_masked_key, views=True)
_def("einsum", "beyond")
_def("ext.getitem", "beyond", data_dependent=_masked_key, views=True)
_def("ext.setitem", "beyond")
_def("ext.scatter_add", "beyond")
_def("stop_gradient", "beyond", NONDIFF, alias=True)
