"""Creation functions.

Functions whose output depends linearly on an array argument are
differentiable: ``tril``/``triu`` (mask the cotangent the same way),
``meshgrid`` (sum each output's cotangent over the axes its input was
broadcast along), ``asarray`` of a traced array (cast the cotangent back), and
``full``/``full_like`` when the fill value is a traced 0-d array (the sum of
the cotangent). Everything else only allocates: recorded, never differentiated
(``dtype=x.dtype, device=x.device`` taken from traced arrays are recorded by
name and as "the device of that variable", so they follow the arrays of the
next call).
"""
from __future__ import annotations

from ..ops import nondiff, rrule


@rrule("tril")
def tril(xp, x, /, *, k=0):
    return xp.tril(x, k=k), lambda g: (xp.tril(g, k=k),)


@rrule("triu")
def triu(xp, x, /, *, k=0):
    return xp.triu(x, k=k), lambda g: (xp.triu(g, k=k),)


@rrule("meshgrid")
def meshgrid(xp, *arrays, indexing="xy"):
    ys = tuple(xp.meshgrid(*arrays, indexing=indexing))
    n = len(arrays)

    def pullback(gs):
        out = []
        for i, (a, g) in enumerate(zip(arrays, gs)):
            # with "xy" the first two inputs vary along output axes 1 and 0
            ax = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and n > 1 else i
            rest = tuple(d for d in range(n) if d != ax)
            out.append((lambda g=g, rest=rest, a=a: xp.reshape(xp.sum(g, axis=rest), a.shape) if rest else
                        xp.reshape(g, a.shape)))
        return tuple(out)

    return ys, pullback


@rrule("asarray")
def asarray(xp, obj, /, *, dtype=None, device=None, copy=None):
    y = xp.asarray(obj, dtype=dtype, device=device, copy=copy)

    def pullback(g):
        if device is not None:
            g = xp.asarray(g, device=obj.device)
        return (xp.astype(g, obj.dtype) if g.dtype != obj.dtype else g),

    return y, pullback


def _filled(xp, base, ones, fill_value, dtype):
    # ones * fill keeps the sign of a zero fill (zeros + -0.0 is +0.0); complex fills are added to
    # zeros (1 * (a + inf j) would make the real part nan)
    f = xp.asarray(fill_value, dtype=dtype)
    if base.ndim == 0:
        return f  # the fill itself (NumPy's 0-d arithmetic would make a scalar of the array)
    return base * f if ones else base + f


def _fill_rule(xp, y, fill_value):
    # the output is fill_value everywhere: its cotangent is the sum
    return y, lambda g: (None, lambda: xp.sum(g))


@rrule("full")
def full(xp, shape, fill_value, /, *, dtype=None, device=None):
    # reached only with a traced fill value: broadcast it (any library takes an array here)
    dtype = fill_value.dtype if dtype is None else dtype
    ones = xp.isdtype(dtype, "real floating")
    base = (xp.ones if ones else xp.zeros)(shape, dtype=dtype, device=device)
    return _fill_rule(xp, _filled(xp, base, ones, fill_value, dtype), fill_value)


@rrule("full_like")
def full_like(xp, x, /, fill_value, *, dtype=None, device=None):
    if not hasattr(fill_value, "shape"):
        # only x is traced: an allocation like any other
        return xp.full_like(x, fill_value, dtype=dtype, device=device), lambda g: (None, None)
    dtype = x.dtype if dtype is None else dtype
    ones = xp.isdtype(dtype, "real floating")
    base = (xp.ones_like if ones else xp.zeros_like)(x, dtype=dtype, device=device)
    y = _filled(xp, base, ones, fill_value, dtype)
    return _fill_rule(xp, y, fill_value)


nondiff("zeros", "ones", "empty", "zeros_like", "ones_like", "empty_like",
        "eye", "arange", "linspace", "from_dlpack")
