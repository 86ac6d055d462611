"""Shape manipulation, and the utility function ``diff``.

Every function here is linear, so each pullback is the adjoint layout change:
a reshape undoes a reshape, a sum over the repeated axis undoes a repeat or a
tile, a slice of the cotangent undoes a concat. Slices are written with full
index specs (``g[:, a:b, ...]``), which array-api-strict requires.
"""
from __future__ import annotations

from ..ext import ext
from ._util import along, unbroadcast
from .indexing import axis_key
from ..ops import nondiff, rrule


def _norm(axis, ndim) -> tuple:
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim for a in axes))


# ---------------------------------------------------------------- same data, new shape


@rrule("reshape")
def reshape(xp, x, /, shape, *, copy=None):
    return xp.reshape(x, shape, copy=copy), lambda g: (xp.reshape(g, x.shape), None)


@rrule("permute_dims")
def permute_dims(xp, x, /, axes):
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a % len(axes)] = i
    return xp.permute_dims(x, axes), lambda g: (xp.permute_dims(g, tuple(inverse)), None)


@rrule("matrix_transpose")
def matrix_transpose(xp, x):
    return xp.matrix_transpose(x), lambda g: (xp.matrix_transpose(g),)


@rrule("moveaxis")
def moveaxis(xp, x, source, destination, /):
    return xp.moveaxis(x, source, destination), lambda g: (xp.moveaxis(g, destination, source), None, None)


@rrule("expand_dims")
def expand_dims(xp, x, /, axis=0):
    # axis may be a tuple (2025.12); its entries index the output
    y = xp.expand_dims(x, axis=axis)
    return y, lambda g: (xp.squeeze(g, axis=_norm(axis, y.ndim)), None)


def _unsqueeze(xp, g, axes):
    # one int axis at a time, in ascending order (each names a position of the result):
    # expand_dims takes a tuple only from 2025.12 on, and squeeze's forward needs no tuple
    for a in axes:
        g = xp.expand_dims(g, axis=a)
    return g


@rrule("squeeze")
def squeeze(xp, x, /, axis):
    return xp.squeeze(x, axis), lambda g: (_unsqueeze(xp, g, _norm(axis, x.ndim)), None)


@rrule("flip")
def flip(xp, x, /, *, axis=None):
    return xp.flip(x, axis=axis), lambda g: (xp.flip(g, axis=axis),)


@rrule("roll")
def roll(xp, x, /, shift, *, axis=None):
    back = tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift
    return xp.roll(x, shift, axis=axis), lambda g: (xp.roll(g, back, axis=axis), None)


# ---------------------------------------------------------------- broadcasting: sum back


@rrule("broadcast_to")
def broadcast_to(xp, x, /, shape):
    return xp.broadcast_to(x, shape), lambda g: (unbroadcast(xp, g, x), None)


@rrule("broadcast_arrays")
def broadcast_arrays(xp, *arrays):
    ys = xp.broadcast_arrays(*arrays)
    return tuple(ys), lambda gs: tuple((lambda a=a, g=g: unbroadcast(xp, g, a)) for a, g in zip(arrays, gs))


# ---------------------------------------------------------------- joining and splitting: slice back


@rrule("concat")
def concat(xp, arrays, /, *, axis=0):
    if axis is None:
        # flatten first (the same thing); also, the tape drops keyword arguments equal
        # to None, which would turn concat's axis=None into its default axis=0
        y = xp.concat(tuple(xp.reshape(a, (-1,)) for a in arrays), axis=0)
    else:
        y = xp.concat(arrays, axis=axis)

    def pullback(g):
        parts, start = [], 0
        for a in arrays:
            if axis is None:
                n = a.size
                parts.append(xp.reshape(g[start:start + n], a.shape))
            else:
                n = a.shape[axis]
                parts.append(g[along(axis, g.ndim, slice(start, start + n))])
            start += n
        return (tuple(parts),)

    return y, pullback


@rrule("stack")
def stack(xp, arrays, /, *, axis=0):
    y = xp.stack(arrays, axis=axis)
    return y, lambda g: (tuple(g[along(axis, g.ndim, i)] for i in range(len(arrays))),)


@rrule("unstack")
def unstack(xp, x, /, *, axis=0):
    ys = tuple(xp.unstack(x, axis=axis))
    return ys, lambda gs: (xp.stack(tuple(gs), axis=axis),)


# ---------------------------------------------------------------- repetition: sum the copies


@rrule("repeat")
def repeat(xp, x, repeats, /, *, axis=None):
    y = xp.repeat(x, repeats, axis=axis)

    def dx(g):
        src = xp.reshape(x, (-1,)) if axis is None else x
        ax = 0 if axis is None else axis % x.ndim
        n = src.shape[ax]
        if isinstance(repeats, int):
            # copies sit next to each other: split the axis into (n, repeats) and sum
            shape = src.shape[:ax] + (n, repeats) + src.shape[ax + 1:]
            d = xp.sum(xp.reshape(g, shape), axis=ax + 1)
        else:
            # copy j of element i: source index repeat(arange(n), repeats); accumulate
            idx = xp.repeat(xp.arange(n, dtype=repeats.dtype, device=x.device), repeats)
            d = ext.scatter_add(xp, xp.zeros_like(src), axis_key(xp, src, ax, idx), g)
        return xp.reshape(d, x.shape)

    return y, lambda g: (lambda: dx(g), None)


@rrule("tile")
def tile(xp, x, repetitions, /):
    y = xp.tile(x, repetitions)

    def dx(g):
        d = max(len(repetitions), x.ndim)
        shape = (1,) * (d - x.ndim) + tuple(x.shape)
        reps = (1,) * (d - len(repetitions)) + tuple(repetitions)
        # the output axis i is (reps[i], shape[i]) laid out: copy-major
        split = sum(((r, s) for r, s in zip(reps, shape)), ())
        return xp.reshape(xp.sum(xp.reshape(g, split), axis=tuple(range(0, 2 * d, 2))), x.shape)

    return y, lambda g: (lambda: dx(g), None)


# ---------------------------------------------------------------- utility


def _diff_adjoint(xp, g, axis):
    # adjoint of z -> z[1:] - z[:-1] along axis: dz_j = g_{j-1} - g_j (zero outside)
    zero = xp.zeros_like(g[along(axis, g.ndim, slice(0, 1))])
    return xp.concat((zero, g), axis=axis) - xp.concat((g, zero), axis=axis)


@rrule("diff")
def diff(xp, x, /, prepend=None, append=None, *, axis=-1, n=1):
    # prepend/append are keyword-only in the standard; declared positional-or-keyword
    # here so that they receive cotangents.
    extra = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}
    y = xp.diff(x, axis=axis, n=n, **extra)

    def pullback(g):
        dz = g
        for _ in range(n):
            dz = _diff_adjoint(xp, dz, axis)
        lp = 0 if prepend is None else (prepend.shape[axis] if getattr(prepend, "ndim", 0) else 1)
        lx = x.shape[axis]
        part = lambda a, b: dz[along(axis, dz.ndim, slice(a, b))]
        dpre = None if prepend is None else (lambda: unbroadcast(xp, part(0, lp), prepend))
        dapp = None if append is None else (lambda: unbroadcast(xp, part(lp + lx, None), append))
        return part(lp, lp + lx), dpre, dapp

    return y, pullback


# Truth tests give booleans.
nondiff("all", "any")
