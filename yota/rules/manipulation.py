"""Shape manipulation."""
from __future__ import annotations

from ._util import unbroadcast
from .registry import rrule


@rrule("reshape")
def reshape(xp, x, /, shape, *, copy=None):
    return xp.reshape(x, shape), lambda g: (xp.reshape(g, x.shape),)


@rrule("permute_dims")
def permute_dims(xp, x, /, axes):
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a % len(axes)] = i
    return xp.permute_dims(x, axes), lambda g: (xp.permute_dims(g, tuple(inverse)),)


@rrule("matrix_transpose")
def matrix_transpose(xp, x):
    return xp.matrix_transpose(x), lambda g: (xp.matrix_transpose(g),)


@rrule("expand_dims")
def expand_dims(xp, x, /, *, axis=0):
    return xp.expand_dims(x, axis=axis), lambda g: (xp.reshape(g, x.shape),)


@rrule("squeeze")
def squeeze(xp, x, /, axis):
    return xp.squeeze(x, axis), lambda g: (xp.reshape(g, x.shape),)


@rrule("broadcast_to")
def broadcast_to(xp, x, /, shape):
    return xp.broadcast_to(x, shape), lambda g: (unbroadcast(xp, g, x),)


@rrule("asarray")
def asarray(xp, x, /, *, dtype=None, device=None, copy=None):
    y = xp.asarray(x, dtype=dtype, device=device, copy=copy)
    return y, lambda g: (xp.astype(g, x.dtype) if g.dtype != x.dtype else g,)
