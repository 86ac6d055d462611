"""NumPy-style code on Tracers: ``np.exp(x)``, ``np.dot(W, x)``, ``x.sum()`` map onto the same rules.

NumPy hands a call on a Tracer to ``Tracer.__array_ufunc__`` (ufuncs and their
methods: ``np.exp(x)``, ``np.add.reduce(x)``), to ``Tracer.__array_function__``
(other NumPy functions: ``np.sum``, ``np.linalg.norm``) and, for array methods
and attributes (``x.sum()``, ``x.real``), to ``Tracer.__getattr__``. Each is
translated here into array-API calls, ``ctx.call(name, args, kwargs)``, with the
standard's function names and keyword names (``ddof`` -> ``correction``,
``a_min`` -> ``min``, NumPy dtypes -> the backend's), so the tape and the rules
are the same as for code written against ``xp = array_namespace(x)``.

Nothing here computes with NumPy: the tables only read the names of NumPy's
functions (``np.linalg.norm`` is looked up as ``"linalg.norm"``). A NumPy
function without a mapping raises `NumPyMappingError`, which names it.
"""
from __future__ import annotations

import math
import sys

from yota import errors, ops, pynumbers

__all__ = ["ufunc", "function", "method", "NumPyMappingError", "UnsupportedArgumentError",
           "UFUNCS", "FUNCTIONS", "METHODS", "ATTRIBUTES"]


# ====================================================================== errors


class NumPyMappingError(errors.ForeignLibraryError):
    """A NumPy function, ufunc method or argument that yota cannot translate."""

    def __init__(self, what: str, why: str = ""):
        msg = (f"{what} has no yota mapping{' (' + why + ')' if why else ''}. It was called on a traced array; "
               f"yota records array-API calls only. Call the array-API equivalent through "
               f"`xp = array_namespace(x)` (array_api_compat), or make the computation a @yota.primitive "
               f"and register its reverse rule with @yota.rrule.")
        errors.YotaError.__init__(self, msg)


class UnsupportedArgumentError(errors.YotaError, TypeError):
    def __init__(self, call: str, arg: str, why: str):
        super().__init__(f"{call}(..., {arg}) is not supported on traced arrays: {why}.")


_OUT_WHY = "it writes the result into an existing array in place; use the returned value instead"
_WHERE_WHY = "masked NumPy operations have no array-API form; use xp.where(mask, ..., ...) on the result"


def _no_out(call, out):
    if out is None:
        return
    if isinstance(out, tuple) and all(o is None for o in out):
        return
    raise UnsupportedArgumentError(call, "out=", _OUT_WHY)


def _no_where(call, where):
    if where is not True and where is not None and where is not _NOVALUE:
        raise UnsupportedArgumentError(call, "where=", _WHERE_WHY)


def _order_c(call, order, allowed=("C", "K", "A", None)):
    if order not in allowed:
        raise UnsupportedArgumentError(call, f"order={order!r}", "only C (row-major) order exists in the "
                                       "array API")


class _NoValue:
    def __repr__(self):
        return "<no value>"


_NOVALUE = _NoValue()


# ====================================================================== helpers


def _call(ctx, name, *args, **kwargs):
    """``ctx.call`` with keyword arguments left at the standard's default (None / False) dropped."""
    return ctx.call(name, args, {k: v for k, v in kwargs.items()
                                 if v is not None and v is not _NOVALUE and not (k == "keepdims" and v is False)})


def _shape(a) -> tuple:
    return tuple(getattr(a, "shape", ()))


def _ndim(a) -> int:
    return len(_shape(a))


def _is_complex(a) -> bool:
    if isinstance(a, complex):
        return True
    return "complex" in str(getattr(a, "dtype", ""))


def _is_traced(a) -> bool:
    from yota.tracer import Tracer
    return isinstance(a, Tracer)


def _alias(x):
    """A new handle on the same traced value: a NumPy view (a write into one is seen by the other)."""
    from yota.tracer import Tracer
    new = Tracer(x.val, x.vid, x.ctx, x.diff)
    x.ctx.views.alias(new, x)
    return new


def _array(ctx, a):
    """Python lists/tuples of numbers become arrays (the array API takes no lists)."""
    if isinstance(a, (list, tuple)):
        return ctx.call("asarray", (a,), {})
    return a


def _axis(axis):
    if isinstance(axis, list):
        return tuple(axis)
    return axis


def _norm_axis(axis: int, ndim: int, what: str = "axis") -> int:
    a = int(axis)
    if not -ndim <= a < max(ndim, 1):
        raise IndexError(f"{what} {axis} is out of bounds for an array of dimension {ndim}")
    return a % ndim if ndim else 0


def _flat(ctx, a):
    return ctx.call("reshape", (a, (-1,)), {})


def _to_end(ctx, x, axes):
    """Move ``axes`` (in that order) to the end; returns the permuted array."""
    nd = _ndim(x)
    axes = [_norm_axis(a, nd) for a in axes]
    perm = tuple(i for i in range(nd) if i not in axes) + tuple(axes)
    if perm == tuple(range(nd)):
        return x
    return ctx.call("permute_dims", (x, perm), {})


# ---------------------------------------------------------------------- dtypes

from yota.tape import DTYPE_NAMES  # noqa: E402

_DTYPE_ALIASES = {
    "float": "float64", "double": "float64", "single": "float32", "half": None, "float_": "float64",
    "f": "float32", "f4": "float32", "f8": "float64", "d": "float64", "<f4": "float32", "<f8": "float64",
    "complex": "complex128", "cfloat": "complex128", "c8": "complex64", "c16": "complex128",
    "int": "int64", "int_": "int64", "intp": "int64", "i1": "int8", "i2": "int16", "i4": "int32",
    "i8": "int64", "u1": "uint8", "u2": "uint16", "u4": "uint32", "u8": "uint64",
    "bool_": "bool", "?": "bool", "b1": "bool",
}
_PY_TYPES = {float: "float64", int: "int64", bool: "bool", complex: "complex128"}


def _dtype_name(dt):
    if isinstance(dt, type) and dt in _PY_TYPES:
        return _PY_TYPES[dt]
    if isinstance(dt, str):
        name = _DTYPE_ALIASES.get(dt, dt)
    elif isinstance(dt, type):  # np.float32, np.bool_
        name = _DTYPE_ALIASES.get(dt.__name__, dt.__name__)
    else:  # np.dtype('float32'), or another library's dtype object
        name = getattr(dt, "name", None) or str(dt).rsplit(".", 1)[-1]
    if name in DTYPE_NAMES:
        return name
    np = sys.modules.get("numpy")  # only to read a NumPy dtype spec's canonical name
    if np is not None:
        try:
            name = np.dtype(dt).name
        except Exception:
            return None
        return name if name in DTYPE_NAMES else None
    return None


def _dtype(ctx, dt):
    """A NumPy dtype spec (np.float32, 'f4', float, np.dtype(...)) as the backend's dtype."""
    if dt is None:
        return None
    xp = ctx.xp
    for n in DTYPE_NAMES:
        if getattr(xp, n, None) is dt:
            return dt
    name = _dtype_name(dt)
    d = getattr(xp, name, None) if name else None
    if d is None:
        raise UnsupportedArgumentError("astype" if name else "a NumPy call", f"dtype={dt!r}",
                                       "the array API has no such data type" if name is None else
                                       f"the backend {getattr(xp, '__name__', xp)} has no {name}")
    return d


def _float_dtype_of(ctx, *arrays):
    c = any(_is_complex(a) for a in arrays)
    return getattr(ctx.xp, "complex128" if c else "float64")


# ====================================================================== ufuncs

# NumPy ufunc name -> array-API function name (same meaning, same arguments): the op table's aliases.
_UFUNC_NAMES = {alias: name for name, entry in ops.OPS.items() if isinstance(name, str) for alias in entry.aliases}


def _exp2(ctx, x):
    return ctx.call("pow", (2.0, x), {})


def _float_power(ctx, x, y):
    dt = _float_dtype_of(ctx, x, y)
    x = ctx.call("astype", (x, dt), {}) if _is_traced(x) else x
    y = ctx.call("astype", (y, dt), {}) if _is_traced(y) else y
    return ctx.call("pow", (x, y), {})


def _scale(factor):
    return lambda ctx, x: ctx.call("multiply", (x, factor), {})


def _logaddexp2(ctx, x, y):
    ln2 = math.log(2.0)
    a = ctx.call("multiply", (x, ln2), {})
    b = ctx.call("multiply", (y, ln2), {})
    return ctx.call("divide", (ctx.call("logaddexp", (a, b), {}), ln2), {})


def _fmax_fmin(name):
    # NaN-ignoring maximum/minimum: take the other operand where one is NaN.
    def f(ctx, x, y):
        m = ctx.call(name, (x, y), {})
        m = ctx.call("where", (ctx.call("isnan", (y,), {}), x, m), {}) if _is_traced(y) else m
        return ctx.call("where", (ctx.call("isnan", (x,), {}), y, m), {}) if _is_traced(x) else m
    return f


def _divmod(ctx, x, y):
    return ctx.call("floor_divide", (x, y), {}), ctx.call("remainder", (x, y), {})


def _vecdot(ctx, x1, x2, axis=-1):
    return _call(ctx, "vecdot", x1, x2, axis=axis if axis != -1 else None)


def _matvec(ctx, a, v):
    y = ctx.call("matmul", (a, ctx.call("expand_dims", (v,), {"axis": -1})), {})
    return ctx.call("squeeze", (y,), {"axis": -1})


def _vecmat(ctx, v, a):
    if _is_complex(v):
        v = ctx.call("conj", (v,), {})
    y = ctx.call("matmul", (ctx.call("expand_dims", (v,), {"axis": -2}), a), {})
    return ctx.call("squeeze", (y,), {"axis": -2})


# NumPy ufunc name -> f(ctx, *inputs) built from array-API calls.
_UFUNC_COMPOSED = {
    "exp2": _exp2, "float_power": _float_power, "logaddexp2": _logaddexp2,
    "deg2rad": _scale(math.pi / 180), "radians": _scale(math.pi / 180),
    "rad2deg": _scale(180 / math.pi), "degrees": _scale(180 / math.pi),
    "fmax": _fmax_fmin("maximum"), "fmin": _fmax_fmin("minimum"), "divmod": _divmod,
    "vecdot": _vecdot, "matvec": _matvec, "vecmat": _vecmat,
}

UFUNCS = sorted(set(_UFUNC_NAMES) | set(_UFUNC_COMPOSED))

# ufunc.reduce / ufunc.accumulate -> array-API reduction / cumulative function.
_REDUCE = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min",
           "logical_and": "all", "logical_or": "any"}
_ACCUMULATE = {"add": "cumulative_sum", "multiply": "cumulative_prod"}
_IGNORED_UFUNC_KW = {"casting", "order", "subok"}


def ufunc(ctx, uf, method, inputs, kwargs):
    """``Tracer.__array_ufunc__``: ``np.exp(x)``, ``np.add.reduce(x)``, ``np.multiply.outer(a, b)``."""
    name = getattr(uf, "__name__", str(uf))
    label = f"np.{name}" if method == "__call__" else f"np.{name}.{method}"
    kwargs = dict(kwargs)
    _no_out(label, kwargs.pop("out", None))
    _no_where(label, kwargs.pop("where", True))
    for k in _IGNORED_UFUNC_KW:
        kwargs.pop(k, None)
    if method == "__call__":
        return _ufunc_call(ctx, name, label, inputs, kwargs)
    if method == "reduce":
        return _ufunc_reduce(ctx, name, label, inputs, kwargs)
    if method == "accumulate":
        std = _ACCUMULATE.get(name)
        if std is None:
            raise NumPyMappingError(label, "only np.add.accumulate and np.multiply.accumulate map, onto "
                                    "cumulative_sum / cumulative_prod")
        (x,) = inputs
        axis = kwargs.pop("axis", 0)
        dtype = _dtype(ctx, kwargs.pop("dtype", None))
        _reject_kwargs(label, kwargs)
        return _call(ctx, std, x, axis=axis, dtype=dtype)
    if method == "outer":
        a, b = inputs
        nb = _ndim(b)
        if nb and _is_traced(a):
            a = ctx.call("reshape", (a, _shape(a) + (1,) * nb), {})
        elif nb:
            a = ctx.call("reshape", (_array(ctx, a), _shape(a) + (1,) * nb), {})
        return _ufunc_call(ctx, name, label, (a, b), kwargs)
    if method == "at":
        raise NumPyMappingError(label, "it updates its first argument in place; write "
                                "`x[idx] = x[idx] + v` (recorded functionally) or use xp-based code")
    raise NumPyMappingError(label, f"the ufunc method {method!r} is not translated")


def _reject_kwargs(label, kwargs):
    for k, v in kwargs.items():
        raise UnsupportedArgumentError(label, f"{k}={v!r}", "this NumPy argument has no array-API equivalent")


def _ufunc_call(ctx, name, label, inputs, kwargs):
    dtype = kwargs.pop("dtype", None)
    if kwargs.pop("signature", None) is not None:
        raise UnsupportedArgumentError(label, "signature=", "the array API picks loops by type promotion")
    if dtype is not None:
        dt = _dtype(ctx, dtype)
        inputs = tuple(ctx.call("astype", (a, dt), {}) if _is_traced(a) else a for a in inputs)
    std = _UFUNC_NAMES.get(name)
    if std is not None:
        _reject_kwargs(label, kwargs)
        return ctx.call(std, tuple(inputs), {})
    f = _UFUNC_COMPOSED.get(name)
    if f is None:
        raise NumPyMappingError(label)
    if name == "vecdot" and "axis" in kwargs:
        return f(ctx, *inputs, axis=kwargs.pop("axis"))
    _reject_kwargs(label, kwargs)
    return f(ctx, *inputs)


def _ufunc_reduce(ctx, name, label, inputs, kwargs):
    std = _REDUCE.get(name)
    if std is None:
        raise NumPyMappingError(label, "reductions map for add, multiply, maximum, minimum, logical_and, "
                                "logical_or")
    (x,) = inputs
    axis = _axis(kwargs.pop("axis", 0))
    dtype = _dtype(ctx, kwargs.pop("dtype", None))
    keepdims = kwargs.pop("keepdims", False)
    initial = kwargs.pop("initial", _NOVALUE)
    _reject_kwargs(label, kwargs)
    if dtype is not None and std not in ("sum", "prod"):
        x = ctx.call("astype", (x, dtype), {})
        dtype = None
    y = _call(ctx, std, x, axis=axis, dtype=dtype, keepdims=keepdims)
    if initial is not _NOVALUE and initial is not None:
        y = ctx.call(name, (y, initial), {})
    return y


# ====================================================================== functions
# One handler per NumPy function, with NumPy's signature; each translates to
# array-API calls. Keys are the function's name within NumPy: "sum",
# "linalg.norm", "fft.rfft".

FUNCTIONS: dict = {}


def _np(*names):
    def register(f):
        for n in names:
            FUNCTIONS[n] = f
        return f
    return register


def _same(std, *np_names, drop=("out",)):
    """NumPy's function takes the standard's arguments: pass them through (out= refused)."""
    np_names = np_names or (std,)

    def f(ctx, *args, **kwargs):
        for k in drop:
            if k in kwargs:
                _no_out(f"np.{np_names[0]}", kwargs.pop(k))
        return ctx.call(std, args, kwargs)
    for n in np_names:
        FUNCTIONS[n] = f
    return f


# ---------------------------------------------------------------------- reductions


def _sum_like(std, combine, label):
    def f(ctx, a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
        _no_out(label, out)
        _no_where(label, where)
        y = _call(ctx, std, a, axis=_axis(axis), dtype=_dtype(ctx, dtype), keepdims=keepdims)
        if initial is not _NOVALUE and initial is not None:
            y = ctx.call(combine, (y, initial), {})
        return y
    return f


FUNCTIONS["sum"] = _sum_like("sum", "add", "np.sum")
FUNCTIONS["prod"] = _sum_like("prod", "multiply", "np.prod")


def _max_like(std, combine, label):
    def f(ctx, a, axis=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
        _no_out(label, out)
        _no_where(label, where)
        y = _call(ctx, std, a, axis=_axis(axis), keepdims=keepdims)
        if initial is not _NOVALUE and initial is not None:
            y = ctx.call(combine, (y, initial), {})
        return y
    return f


FUNCTIONS["max"] = FUNCTIONS["amax"] = _max_like("max", "maximum", "np.max")
FUNCTIONS["min"] = FUNCTIONS["amin"] = _max_like("min", "minimum", "np.min")


@_np("mean")
def _mean(ctx, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    _no_out("np.mean", out)
    _no_where("np.mean", where)
    if dtype is not None:
        a = ctx.call("astype", (a, _dtype(ctx, dtype)), {})
    return _call(ctx, "mean", a, axis=_axis(axis), keepdims=keepdims)


def _std_like(std):
    label = f"np.{std}"

    def f(ctx, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_NOVALUE,
          correction=_NOVALUE):
        _no_out(label, out)
        _no_where(label, where)
        if mean is not _NOVALUE:
            raise UnsupportedArgumentError(label, "mean=", "the array API computes the mean itself")
        if dtype is not None:
            a = ctx.call("astype", (a, _dtype(ctx, dtype)), {})
        corr = ddof if correction is _NOVALUE else correction
        return _call(ctx, std, a, axis=_axis(axis), correction=corr or None, keepdims=keepdims)
    return f


FUNCTIONS["std"] = _std_like("std")
FUNCTIONS["var"] = _std_like("var")


def _all_like(std):
    def f(ctx, a, axis=None, out=None, keepdims=False, *, where=True):
        _no_out(f"np.{std}", out)
        _no_where(f"np.{std}", where)
        return _call(ctx, std, a, axis=_axis(axis), keepdims=keepdims)
    return f


FUNCTIONS["all"] = _all_like("all")
FUNCTIONS["any"] = _all_like("any")


def _arg_like(std):
    def f(ctx, a, axis=None, out=None, *, keepdims=False):
        _no_out(f"np.{std}", out)
        return _call(ctx, std, a, axis=axis, keepdims=keepdims)
    return f


FUNCTIONS["argmax"] = _arg_like("argmax")
FUNCTIONS["argmin"] = _arg_like("argmin")


def _cum_like(std):
    def f(ctx, a, axis=None, dtype=None, out=None):
        _no_out(f"np.{std}", out)
        if axis is None:
            a, axis = (_flat(ctx, a) if _ndim(a) != 1 else a), 0
        return _call(ctx, std, a, axis=axis, dtype=_dtype(ctx, dtype))
    return f


FUNCTIONS["cumsum"] = _cum_like("cumulative_sum")
FUNCTIONS["cumprod"] = _cum_like("cumulative_prod")


def _cumulative(std):
    def f(ctx, x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        _no_out(f"np.{std}", out)
        return _call(ctx, std, x, axis=axis, dtype=_dtype(ctx, dtype), include_initial=include_initial or None)
    return f


FUNCTIONS["cumulative_sum"] = _cumulative("cumulative_sum")
FUNCTIONS["cumulative_prod"] = _cumulative("cumulative_prod")


@_np("count_nonzero")
def _count_nonzero(ctx, a, axis=None, *, keepdims=False):
    return _call(ctx, "count_nonzero", a, axis=_axis(axis), keepdims=keepdims)


@_np("ptp")
def _ptp(ctx, a, axis=None, out=None, keepdims=False):
    _no_out("np.ptp", out)
    hi = _call(ctx, "max", a, axis=_axis(axis), keepdims=keepdims)
    lo = _call(ctx, "min", a, axis=_axis(axis), keepdims=keepdims)
    return ctx.call("subtract", (hi, lo), {})


@_np("average")
def _average(ctx, a, axis=None, weights=None, returned=False, *, keepdims=False):
    axis = _axis(axis)
    if weights is None:
        avg = _call(ctx, "mean", a, axis=axis, keepdims=keepdims)
        if not returned:
            return avg
        n = math.prod(_shape(a)) // max(1, math.prod(_shape(avg)))
        return avg, ctx.call("full_like", (avg, float(n)), {})
    w = _array(ctx, weights)
    if _ndim(w) != _ndim(a):
        if _ndim(w) != 1 or not isinstance(axis, int):
            raise UnsupportedArgumentError("np.average", "weights=", "1-D weights need an integer axis")
        ax = _norm_axis(axis, _ndim(a))
        w = ctx.call("reshape", (w, tuple(-1 if i == ax else 1 for i in range(_ndim(a)))), {})
    num = _call(ctx, "sum", ctx.call("multiply", (a, w), {}), axis=axis, keepdims=keepdims)
    wb = ctx.call("multiply", (ctx.call("ones_like", (a,), {}), w), {}) if _shape(w) != _shape(a) else w
    den = _call(ctx, "sum", wb, axis=axis, keepdims=keepdims)
    avg = ctx.call("divide", (num, den), {})
    return (avg, den) if returned else avg


# ---------------------------------------------------------------------- elementwise (not ufuncs)


@_np("where")
def _where(ctx, condition, x=_NOVALUE, y=_NOVALUE):
    if x is _NOVALUE and y is _NOVALUE:
        return ctx.call("nonzero", (condition,), {})
    if x is _NOVALUE or y is _NOVALUE:
        raise TypeError("np.where takes either 1 or 3 arguments")
    return ctx.call("where", (condition, x, y), {})


@_np("clip")
def _clip(ctx, a, a_min=_NOVALUE, a_max=_NOVALUE, out=None, *, min=_NOVALUE, max=_NOVALUE, **kwargs):
    _no_out("np.clip", out)
    _reject_kwargs("np.clip", kwargs)
    lo = min if min is not _NOVALUE else (a_min if a_min is not _NOVALUE else None)
    hi = max if max is not _NOVALUE else (a_max if a_max is not _NOVALUE else None)
    return _call(ctx, "clip", a, min=lo, max=hi)


@_np("real")
def _real(ctx, val):
    if pynumbers.is_python_number(val):
        return pynumbers.real(val)
    return ctx.call("real", (val,), {}) if _is_complex(val) else _alias(val)


@_np("imag")
def _imag(ctx, val):
    if pynumbers.is_python_number(val):
        return pynumbers.imag(val)
    return ctx.call("imag", (val,), {}) if _is_complex(val) else ctx.call("zeros_like", (val,), {})


@_np("round", "around")
def _round(ctx, a, decimals=0, out=None):
    _no_out("np.round", out)
    if decimals == 0:
        return ctx.call("round", (a,), {})
    s = 10.0 ** decimals
    r = ctx.call("round", (ctx.call("multiply", (a, s), {}),), {})
    return ctx.call("divide", (r, s), {})


@_np("isclose")
def _isclose(ctx, a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    diff = ctx.call("abs", (ctx.call("subtract", (a, b), {}),), {})
    tol = ctx.call("add", (ctx.call("multiply", (ctx.call("abs", (_array(ctx, b),), {}), rtol), {}), atol), {})
    close = ctx.call("less_equal", (diff, tol), {})
    close = ctx.call("logical_or", (close, ctx.call("equal", (a, b), {})), {})  # infinities
    if equal_nan:
        both = ctx.call("logical_and", (ctx.call("isnan", (_array(ctx, a),), {}),
                                        ctx.call("isnan", (_array(ctx, b),), {})), {})
        close = ctx.call("logical_or", (close, both), {})
    return close


@_np("allclose")
def _allclose(ctx, a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    # A Python bool, as NumPy returns: recorded as a guard.
    return bool(ctx.call("all", (_isclose(ctx, a, b, rtol, atol, equal_nan),), {}))


# ---------------------------------------------------------------------- shape and metadata


@_np("shape")
def _np_shape(ctx, a):
    return _shape(a)


@_np("ndim")
def _np_ndim(ctx, a):
    return _ndim(a)


@_np("size")
def _np_size(ctx, a, axis=None):
    s = _shape(a)
    return math.prod(s) if axis is None else s[axis]


@_np("iscomplexobj")
def _iscomplexobj(ctx, x):
    return _is_complex(x)


@_np("isrealobj")
def _isrealobj(ctx, x):
    return not _is_complex(x)


@_np("result_type")
def _result_type(ctx, *arrays_and_dtypes):
    vals = [a.val if _is_traced(a) else a for a in arrays_and_dtypes]
    return ctx.xp.result_type(*vals)


# ---------------------------------------------------------------------- manipulation


def _reshape_to(ctx, a, shape, order="C", copy=None, label="np.reshape"):
    _order_c(label, order, ("C", "A", None))
    if isinstance(shape, int):
        shape = (shape,)
    return _call(ctx, "reshape", a, tuple(int(s) for s in shape), copy=copy)


@_np("reshape")
def _reshape(ctx, a, /, shape=None, order="C", *, newshape=None, copy=None):
    if shape is None:
        shape = newshape
    return _reshape_to(ctx, a, shape, order, copy)


@_np("ravel")
def _ravel(ctx, a, order="C"):
    _order_c("np.ravel", order)
    return _flat(ctx, a)


def _transpose_axes(x, axes):
    nd = _ndim(x)
    if axes is None:
        return tuple(reversed(range(nd)))
    return tuple(_norm_axis(a, nd) for a in axes)


@_np("transpose")
def _transpose(ctx, a, axes=None):
    return ctx.call("permute_dims", (a, _transpose_axes(a, axes)), {})


@_np("permute_dims")
def _permute_dims(ctx, a, /, axes=None):
    return ctx.call("permute_dims", (a, _transpose_axes(a, axes)), {})


_same("matrix_transpose")


@_np("swapaxes")
def _swapaxes(ctx, a, axis1, axis2):
    nd = _ndim(a)
    i, j = _norm_axis(axis1, nd), _norm_axis(axis2, nd)
    perm = list(range(nd))
    perm[i], perm[j] = j, i
    return ctx.call("permute_dims", (a, tuple(perm)), {})


@_np("moveaxis")
def _moveaxis(ctx, a, source, destination):
    return ctx.call("moveaxis", (a, source, destination), {})


@_np("squeeze")
def _squeeze(ctx, a, axis=None):
    if axis is None:
        axis = tuple(i for i, n in enumerate(_shape(a)) if n == 1)
        if not axis:
            return _alias(a) if _is_traced(a) else a
    return ctx.call("squeeze", (a,), {"axis": _axis(axis)})


@_np("expand_dims")
def _expand_dims(ctx, a, axis):
    if isinstance(axis, (tuple, list)):
        out_nd = _ndim(a) + len(axis)
        for ax in sorted(_norm_axis(x, out_nd) for x in axis):
            a = ctx.call("expand_dims", (a,), {"axis": ax})
        return a
    return ctx.call("expand_dims", (a,), {"axis": axis})


def _cast_all(ctx, arrays, dtype):
    if dtype is None:
        return arrays
    dt = _dtype(ctx, dtype)
    return [ctx.call("astype", (a, dt), {}) if _is_traced(a) else a for a in arrays]


@_np("concatenate", "concat")
def _concatenate(ctx, arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _no_out("np.concatenate", out)
    arrays = _cast_all(ctx, [_array(ctx, a) for a in arrays], dtype)
    if axis is None:
        arrays = [_flat(ctx, a) for a in arrays]
        axis = 0
    return ctx.call("concat", (tuple(arrays),), {"axis": axis})


@_np("stack")
def _stack(ctx, arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _no_out("np.stack", out)
    arrays = _cast_all(ctx, [_array(ctx, a) for a in arrays], dtype)
    return ctx.call("stack", (tuple(arrays),), {"axis": axis})


def _atleast(ctx, a, n):
    s = _shape(a)
    if len(s) >= n:
        return a
    if n == 3 and len(s) == 2:
        return ctx.call("reshape", (a, s + (1,)), {})
    if n == 3 and len(s) == 1:
        return ctx.call("reshape", (a, (1,) + s + (1,)), {})
    return ctx.call("reshape", (a, (1,) * (n - len(s)) + s), {})


def _atleast_nd(n):
    def f(ctx, *arys):
        out = [_atleast(ctx, _array(ctx, a), n) for a in arys]
        return out[0] if len(out) == 1 else tuple(out)
    return f


FUNCTIONS["atleast_1d"] = _atleast_nd(1)
FUNCTIONS["atleast_2d"] = _atleast_nd(2)
FUNCTIONS["atleast_3d"] = _atleast_nd(3)


@_np("hstack")
def _hstack(ctx, tup, *, dtype=None, casting="same_kind"):
    arrays = [_atleast(ctx, _array(ctx, a), 1) for a in tup]
    return _concatenate(ctx, arrays, axis=0 if _ndim(arrays[0]) == 1 else 1, dtype=dtype)


@_np("vstack", "row_stack")
def _vstack(ctx, tup, *, dtype=None, casting="same_kind"):
    return _concatenate(ctx, [_atleast(ctx, _array(ctx, a), 2) for a in tup], axis=0, dtype=dtype)


@_np("dstack")
def _dstack(ctx, tup):
    return _concatenate(ctx, [_atleast(ctx, _array(ctx, a), 3) for a in tup], axis=2)


@_np("column_stack")
def _column_stack(ctx, tup):
    cols = []
    for a in tup:
        a = _array(ctx, a)
        cols.append(ctx.call("reshape", (a, (-1, 1)), {}) if _ndim(a) < 2 else a)
    return _concatenate(ctx, cols, axis=1)


@_np("split", "array_split")
def _split(ctx, ary, indices_or_sections, axis=0):
    nd = _ndim(ary)
    ax = _norm_axis(axis, nd)
    n = _shape(ary)[ax]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
        bounds = [0]
        for s in sizes:
            bounds.append(bounds[-1] + s)
    else:
        bounds = [0] + [min(int(i), n) for i in indices_or_sections] + [n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        key = tuple(slice(None) for _ in range(ax)) + (slice(lo, max(lo, hi)),) + (slice(None),) * (nd - ax - 1)
        out.append(ary[key])
    return out


@_np("unstack")
def _unstack(ctx, x, /, *, axis=0):
    return ctx.call("unstack", (x,), {"axis": axis} if axis != 0 else {})


@_np("flip")
def _flip(ctx, m, axis=None):
    return _call(ctx, "flip", m, axis=_axis(axis))


@_np("fliplr")
def _fliplr(ctx, m):
    return ctx.call("flip", (m,), {"axis": 1})


@_np("flipud")
def _flipud(ctx, m):
    return ctx.call("flip", (m,), {"axis": 0})


@_np("roll")
def _roll(ctx, a, shift, axis=None):
    return _call(ctx, "roll", a, shift=_axis(shift), axis=_axis(axis))


@_np("tile")
def _tile(ctx, A, reps):
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = _ndim(A)
    if len(reps) < nd:
        reps = (1,) * (nd - len(reps)) + reps
    return ctx.call("tile", (A, reps), {})


@_np("repeat")
def _repeat(ctx, a, repeats, axis=None):
    return _call(ctx, "repeat", a, _array(ctx, repeats) if isinstance(repeats, list) else repeats, axis=axis)


@_np("broadcast_to")
def _broadcast_to(ctx, array, shape, subok=False):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return ctx.call("broadcast_to", (array, shape), {})


@_np("broadcast_arrays")
def _broadcast_arrays(ctx, *args, subok=False):
    return tuple(ctx.call("broadcast_arrays", tuple(args), {}))


@_np("take")
def _take(ctx, a, indices, axis=None, out=None, mode="raise"):
    _no_out("np.take", out)
    if mode != "raise":
        raise UnsupportedArgumentError("np.take", f"mode={mode!r}", "the array API takes in-bounds indices only")
    if axis is None:
        a, axis = (_flat(ctx, a) if _ndim(a) != 1 else a), 0
    if isinstance(indices, int):
        nd = _ndim(a)
        ax = _norm_axis(axis, nd)
        return a[(slice(None),) * ax + (indices,) + (slice(None),) * (nd - ax - 1)]
    return ctx.call("take", (a, _array(ctx, indices)), {"axis": axis})


@_np("take_along_axis")
def _take_along_axis(ctx, arr, indices, axis=-1):
    if axis is None:
        arr, axis = _flat(ctx, arr), 0
    return ctx.call("take_along_axis", (arr, indices), {"axis": axis})


def _tri(std):
    def f(ctx, m, k=0):
        return _call(ctx, std, m, k=k or None)
    return f


FUNCTIONS["tril"] = _tri("tril")
FUNCTIONS["triu"] = _tri("triu")


@_np("diagonal")
def _diagonal(ctx, a, offset=0, axis1=0, axis2=1):
    return _call(ctx, "linalg.diagonal", _to_end(ctx, a, (axis1, axis2)), offset=offset or None)


@_np("trace")
def _trace(ctx, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no_out("np.trace", out)
    return _call(ctx, "linalg.trace", _to_end(ctx, a, (axis1, axis2)), offset=offset or None,
                 dtype=_dtype(ctx, dtype))


@_np("diff")
def _diff(ctx, a, n=1, axis=-1, prepend=_NOVALUE, append=_NOVALUE):
    return _call(ctx, "diff", a, axis=axis if axis != -1 else None, n=n if n != 1 else None,
                 prepend=prepend, append=append)


@_np("meshgrid")
def _meshgrid(ctx, *xi, copy=True, sparse=False, indexing="xy"):
    if sparse:
        raise UnsupportedArgumentError("np.meshgrid", "sparse=True", "the array API's meshgrid is dense")
    return tuple(ctx.call("meshgrid", tuple(xi), {"indexing": indexing}))


def _sort_like(std):
    def f(ctx, a, axis=-1, kind=None, order=None, *, stable=None, descending=False):
        if order is not None:
            raise UnsupportedArgumentError(f"np.{std}", "order=", "structured arrays are not traced")
        if axis is None:
            a, axis = _flat(ctx, a), -1
        return _call(ctx, std, a, axis=axis if axis != -1 else None,
                     stable=(True if kind == "stable" else stable), descending=descending or None)
    return f


FUNCTIONS["sort"] = _sort_like("sort")
FUNCTIONS["argsort"] = _sort_like("argsort")


@_np("searchsorted")
def _searchsorted(ctx, a, v, side="left", sorter=None):
    return _call(ctx, "searchsorted", a, _array(ctx, v), side=side if side != "left" else None, sorter=sorter)


@_np("nonzero")
def _nonzero(ctx, a):
    return tuple(ctx.call("nonzero", (a,), {}))


@_np("flatnonzero")
def _flatnonzero(ctx, a):
    return ctx.call("nonzero", (_flat(ctx, a),), {})[0]


@_np("isin")
def _isin(ctx, element, test_elements, assume_unique=False, invert=False, *, kind=None):
    return _call(ctx, "isin", element, _array(ctx, test_elements), invert=invert or None)


@_np("unique")
def _unique(ctx, ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
            equal_nan=True, sorted=True):
    if return_index or return_inverse or return_counts or axis is not None:
        raise UnsupportedArgumentError("np.unique", "return_*/axis=", "use xp.unique_all / unique_inverse / "
                                       "unique_counts through array_namespace(x)")
    return ctx.call("sort", (ctx.call("unique_values", (ar,), {}),), {})


@_np("unique_values")
def _unique_values(ctx, x):
    return ctx.call("unique_values", (x,), {})


# ---------------------------------------------------------------------- creation


def _like(std, fill):
    """zeros_like / ones_like / empty_like (a, dtype, order, subok, shape); full_like takes fill_value second."""
    def make(ctx, a, pre, dtype, shape):
        dt = _dtype(ctx, dtype)
        if shape is not None:
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            return _call(ctx, std[:-5], shape, *pre, dtype=dt if dt is not None else a.dtype)
        return _call(ctx, std, a, *pre, dtype=dt)

    if fill:
        def f(ctx, a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
            return make(ctx, a, (fill_value,), dtype, shape)
    else:
        def f(ctx, a, dtype=None, order="K", subok=True, shape=None, *, device=None):
            return make(ctx, a, (), dtype, shape)
    return f


for _n in ("zeros_like", "ones_like", "empty_like"):
    FUNCTIONS[_n] = _like(_n, False)
FUNCTIONS["full_like"] = _like("full_like", True)


@_np("copy")
def _copy(ctx, a, order="K", subok=False):
    return ctx.call("asarray", (a,), {"copy": True})


@_np("astype")
def _astype(ctx, x, dtype, /, *, copy=True, device=None):
    return _call(ctx, "astype", x, _dtype(ctx, dtype), device=device)


# ---------------------------------------------------------------------- linear algebra


@_np("dot")
def _dot(ctx, a, b, out=None):
    """NumPy's dot: a product with a scalar, matmul up to 2-D, a sum over a's last and b's second-to-last axis."""
    _no_out("np.dot", out)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return ctx.call("multiply", (a, b), {})
    if nb <= 2 or na == 1:  # the same as matmul (matmul broadcasts only leading axes of b > 2-D)
        return ctx.call("matmul", (a, b), {})
    return ctx.call("tensordot", (a, b), {"axes": ((na - 1,), (nb - 2,))})


@_np("vdot")
def _vdot(ctx, a, b):
    # vecdot conjugates its first argument, as vdot does.
    return ctx.call("vecdot", (_flat(ctx, a), _flat(ctx, b)), {})


@_np("inner")
def _inner(ctx, a, b):
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return ctx.call("multiply", (a, b), {})
    if nb == 1:
        return ctx.call("matmul", (a, b), {})
    if na == 1 and nb == 2:
        return ctx.call("matmul", (b, a), {})
    return ctx.call("tensordot", (a, b), {"axes": ((na - 1,), (nb - 1,))})


@_np("outer")
def _outer(ctx, a, b, out=None):
    _no_out("np.outer", out)
    return ctx.call("multiply", (ctx.call("reshape", (a, (-1, 1)), {}), ctx.call("reshape", (b, (1, -1)), {})), {})


def _tensordot_axes(a, b, axes):
    if isinstance(axes, int):
        return axes
    x, y = axes
    x = (x,) if isinstance(x, int) else tuple(x)
    y = (y,) if isinstance(y, int) else tuple(y)
    return (tuple(_norm_axis(i, _ndim(a)) for i in x), tuple(_norm_axis(i, _ndim(b)) for i in y))


@_np("tensordot", "linalg.tensordot")
def _tensordot(ctx, a, b, axes=2):
    return ctx.call("tensordot", (a, b), {"axes": _tensordot_axes(a, b, axes)} if axes != 2 else {})


@_np("einsum")
def _einsum(ctx, *operands, out=None, optimize=False, dtype=None, casting="safe", order="K"):
    _no_out("np.einsum", out)
    if not operands or not isinstance(operands[0], str):
        raise UnsupportedArgumentError("np.einsum", "operand, sublist, ...", "write the subscripts as a string")
    ops = _cast_all(ctx, list(operands[1:]), dtype)
    return ctx.call("einsum", (operands[0], *ops), {})


@_np("cross")
def _cross(ctx, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    if not axisa == axisb == axisc:
        raise UnsupportedArgumentError("np.cross", "axisa/axisb/axisc=", "the standard's linalg.cross takes one axis")
    return _call(ctx, "linalg.cross", a, b, axis=axisa if axisa != -1 else None)


@_np("kron")
def _kron(ctx, a, b):
    na, nb = _ndim(a), _ndim(b)
    nd = max(na, nb)
    sa = (1,) * (nd - na) + _shape(a)
    sb = (1,) * (nd - nb) + _shape(b)
    a2 = ctx.call("reshape", (a, tuple(x for s in sa for x in (s, 1))), {})
    b2 = ctx.call("reshape", (b, tuple(x for s in sb for x in (1, s))), {})
    return ctx.call("reshape", (ctx.call("multiply", (a2, b2), {}), tuple(p * q for p, q in zip(sa, sb))), {})


for _n in ("inv", "det", "slogdet", "eig", "eigvals", "svdvals", "matrix_transpose", "outer", "matmul",
           "vecdot", "matrix_norm", "vector_norm", "diagonal", "trace", "cross", "matrix_power", "solve"):
    _same(f"linalg.{_n}", f"linalg.{_n}")

# NumPy's top-level vecdot / matmul are ufuncs (handled above); linalg.matmul etc. are functions.


@_np("linalg.cholesky")
def _cholesky(ctx, a, /, *, upper=False):
    return _call(ctx, "linalg.cholesky", a, upper=upper or None)


@_np("linalg.eigh")
def _eigh(ctx, a, UPLO="L"):
    if UPLO != "L":
        raise UnsupportedArgumentError("np.linalg.eigh", f"UPLO={UPLO!r}", "the standard's eigh reads a "
                                       "symmetric/Hermitian matrix; pass the full matrix")
    return ctx.call("linalg.eigh", (a,), {})


@_np("linalg.eigvalsh")
def _eigvalsh(ctx, a, UPLO="L"):
    if UPLO != "L":
        raise UnsupportedArgumentError("np.linalg.eigvalsh", f"UPLO={UPLO!r}", "pass the full symmetric matrix")
    return ctx.call("linalg.eigvalsh", (a,), {})


@_np("linalg.svd")
def _svd(ctx, a, full_matrices=True, compute_uv=True, hermitian=False):
    if not compute_uv:
        return ctx.call("linalg.svdvals", (a,), {})
    return ctx.call("linalg.svd", (a,), {"full_matrices": bool(full_matrices)})


@_np("linalg.qr")
def _qr(ctx, a, mode="reduced"):
    if mode == "r":
        return ctx.call("linalg.qr", (a,), {})[1]
    if mode not in ("reduced", "complete"):
        raise UnsupportedArgumentError("np.linalg.qr", f"mode={mode!r}", "the standard has 'reduced' and 'complete'")
    return ctx.call("linalg.qr", (a,), {"mode": mode} if mode != "reduced" else {})


@_np("linalg.pinv")
def _pinv(ctx, a, rcond=None, hermitian=False, *, rtol=_NOVALUE):
    # NumPy's rcond and rtol both cut singular values relative to the largest one.
    return _call(ctx, "linalg.pinv", a, rtol=rcond if rtol is _NOVALUE else rtol)


@_np("linalg.matrix_rank")
def _matrix_rank(ctx, A, tol=None, hermitian=False, *, rtol=None):
    if tol is not None:
        raise UnsupportedArgumentError("np.linalg.matrix_rank", "tol=", "an absolute tolerance has no standard "
                                       "equivalent; pass rtol=")
    return _call(ctx, "linalg.matrix_rank", A, rtol=rtol)


@_np("linalg.multi_dot")
def _multi_dot(ctx, arrays, *, out=None):
    _no_out("np.linalg.multi_dot", out)
    y = arrays[0]
    for b in arrays[1:]:
        y = ctx.call("matmul", (y, b), {})
    return y


@_np("linalg.norm")
def _norm(ctx, x, ord=None, axis=None, keepdims=False):
    nd = _ndim(x)
    if isinstance(axis, (tuple, list)) and len(axis) == 1:
        axis = axis[0]
    if axis is None:
        if ord is None or (nd == 2 and ord in ("fro", "f")):
            return _call(ctx, "linalg.vector_norm", x, keepdims=keepdims)
        if nd == 1:
            return _call(ctx, "linalg.vector_norm", x, ord=ord, keepdims=keepdims)
        if nd == 2:
            return _call(ctx, "linalg.matrix_norm", x, ord=ord, keepdims=keepdims)
        raise ValueError("np.linalg.norm: improper number of dimensions to norm")
    if isinstance(axis, int):
        return _call(ctx, "linalg.vector_norm", x, axis=axis, ord=2 if ord is None else ord, keepdims=keepdims)
    axes = tuple(_norm_axis(a, nd) for a in axis)
    if ord in (None, "fro", "f"):
        return _call(ctx, "linalg.vector_norm", x, axis=axes, keepdims=keepdims)
    y = _call(ctx, "linalg.matrix_norm", _to_end(ctx, x, axes), ord=ord)
    if keepdims:
        for ax in sorted(axes):
            y = ctx.call("expand_dims", (y,), {"axis": ax})
    return y


# ---------------------------------------------------------------------- fft


def _fft1(std):
    def f(ctx, a, n=None, axis=-1, norm=None, out=None):
        _no_out(f"np.{std}", out)
        return _call(ctx, std, a, n=n, axis=axis if axis != -1 else None, norm=norm)
    return f


def _fftn(std):
    def f(ctx, a, s=None, axes=None, norm=None, out=None):
        _no_out(f"np.{std}", out)
        return _call(ctx, std, a, s=None if s is None else tuple(s), axes=None if axes is None else tuple(axes),
                     norm=norm)
    return f


def _fft2(std):
    def f(ctx, a, s=None, axes=(-2, -1), norm=None, out=None):
        return _fftn(std)(ctx, a, s, axes, norm, out)
    return f


for _n in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"):
    FUNCTIONS[f"fft.{_n}"] = _fft1(f"fft.{_n}")
for _n in ("fftn", "ifftn", "rfftn", "irfftn"):
    FUNCTIONS[f"fft.{_n}"] = _fftn(f"fft.{_n}")
for _n in ("fft2", "ifft2", "rfft2", "irfft2"):
    FUNCTIONS[f"fft.{_n}"] = _fft2(f"fft.{_n[:-1]}n")


def _shift(std):
    def f(ctx, x, axes=None):
        return _call(ctx, std, x, axes=_axis(axes) if not isinstance(axes, int) else (axes,))
    return f


FUNCTIONS["fft.fftshift"] = _shift("fft.fftshift")
FUNCTIONS["fft.ifftshift"] = _shift("fft.ifftshift")


# ---------------------------------------------------------------------- dispatch


def _function_key(func) -> str:
    mod = getattr(func, "__module__", None) or "numpy"
    name = getattr(func, "__name__", str(func))
    for sub in ("linalg", "fft"):
        if mod == f"numpy.{sub}" or mod.startswith(f"numpy.{sub}."):
            return f"{sub}.{name}"
    if mod.startswith("numpy.") and not mod.startswith(("numpy._core", "numpy.core", "numpy.lib", "numpy._")):
        return f"{mod[6:]}.{name}"
    return name


def function(ctx, func, args, kwargs):
    """``Tracer.__array_function__``: ``np.sum(x, axis=0)``, ``np.linalg.norm(x)``, ``np.dot(W, x)``."""
    key = _function_key(func)
    handler = FUNCTIONS.get(key)
    if handler is None:
        raise NumPyMappingError(f"np.{key}")
    return handler(ctx, *args, **kwargs)


# ====================================================================== array methods and attributes


def _m_reshape(ctx, x, *shape, order="C", copy=None):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return _reshape_to(ctx, x, shape, order, copy, "x.reshape")


def _m_transpose(ctx, x, *axes):
    if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], int)):
        axes = axes[0]
    return ctx.call("permute_dims", (x, _transpose_axes(x, axes or None)), {})


def _m_flatten(ctx, x, order="C"):
    _order_c("x.flatten", order)
    return _flat(ctx, x)


def _m_astype(ctx, x, dtype, order="K", casting="unsafe", subok=True, copy=True):
    return ctx.call("astype", (x, _dtype(ctx, dtype)), {})


def _m_clip(ctx, x, min=None, max=None, out=None, **kwargs):
    _no_out("x.clip", out)
    _reject_kwargs("x.clip", kwargs)
    return _call(ctx, "clip", x, min=min, max=max)


def _m_copy(ctx, x, order="C"):
    return ctx.call("asarray", (x,), {"copy": True})


def _m_conj(ctx, x):
    if pynumbers.is_python_number(x):
        return pynumbers.conjugate(x)
    return ctx.call("conj", (x,), {})


def _m_sort(ctx, x, axis=-1, kind=None, order=None, *, stable=None):
    # ndarray.sort sorts in place: the tracer now names the sorted array (copy-on-write, like x[i] = v).
    new = FUNCTIONS["sort"](ctx, x, axis, kind, order, stable=stable)
    ctx.views.wrote(x)
    x.val, x.vid, x.diff = new.val, new.vid, new.diff


def _m_nonzero(ctx, x):
    return tuple(ctx.call("nonzero", (x,), {}))


def _m_round(ctx, x, decimals=0, out=None):
    return _round(ctx, x, decimals, out)


def _m_squeeze(ctx, x, axis=None):
    return _squeeze(ctx, x, axis)


def _m_searchsorted(ctx, x, v, side="left", sorter=None):
    return _searchsorted(ctx, x, v, side, sorter)


# name -> handler(ctx, tracer, *args, **kwargs); NumPy's method signatures.
METHODS = {
    "sum": FUNCTIONS["sum"], "prod": FUNCTIONS["prod"], "mean": FUNCTIONS["mean"],
    "max": FUNCTIONS["max"], "min": FUNCTIONS["min"], "std": FUNCTIONS["std"], "var": FUNCTIONS["var"],
    "all": FUNCTIONS["all"], "any": FUNCTIONS["any"], "argmax": FUNCTIONS["argmax"],
    "argmin": FUNCTIONS["argmin"], "cumsum": FUNCTIONS["cumsum"], "cumprod": FUNCTIONS["cumprod"],
    "ptp": FUNCTIONS["ptp"], "reshape": _m_reshape, "transpose": _m_transpose,
    "swapaxes": FUNCTIONS["swapaxes"], "squeeze": _m_squeeze, "flatten": _m_flatten, "ravel": _m_flatten,
    "astype": _m_astype, "dot": FUNCTIONS["dot"], "clip": _m_clip, "copy": _m_copy, "conj": _m_conj,
    "conjugate": _m_conj, "round": _m_round, "sort": _m_sort, "argsort": FUNCTIONS["argsort"],
    "nonzero": _m_nonzero, "diagonal": FUNCTIONS["diagonal"], "trace": FUNCTIONS["trace"],
    "repeat": FUNCTIONS["repeat"], "take": FUNCTIONS["take"], "searchsorted": _m_searchsorted,
}


def _a_real(x):
    return _real(x.ctx, x)


def _a_imag(x):
    return _imag(x.ctx, x)


def _a_meta(name):
    def get(x):
        v = getattr(x.val, name, None)
        if v is None and name in ("itemsize", "nbytes"):
            n = _dtype_name(x.dtype) or ""
            item = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
                    "float32": 4, "complex64": 8, "complex128": 16}.get(n, 8)
            v = item if name == "itemsize" else item * x.size
        return v
    return get


# name -> value(tracer): attributes that are values, not methods.
ATTRIBUTES = {"real": _a_real, "imag": _a_imag, "itemsize": _a_meta("itemsize"), "nbytes": _a_meta("nbytes")}


def method(tracer, name):
    """``Tracer.__getattr__``: NumPy array methods (``x.sum()``) and attributes (``x.real``).

    Unknown and private names raise AttributeError, so ``hasattr`` answers False.
    """
    if name.startswith("_"):
        raise AttributeError(name)
    get = ATTRIBUTES.get(name)
    if get is not None:
        return get(tracer)
    handler = METHODS.get(name)
    if handler is None:
        raise AttributeError(f"traced arrays have no attribute {name!r} (yota maps the common NumPy array "
                             f"methods; use xp = array_namespace(x) for the rest)")
    ctx = tracer.ctx

    def bound(*args, **kwargs):
        return handler(ctx, tracer, *args, **kwargs)

    bound.__name__ = name
    bound.__qualname__ = f"Tracer.{name}"
    return bound
