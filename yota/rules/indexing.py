"""Indexing: __getitem__ and its scatter-add gradient; functional __setitem__."""
from __future__ import annotations

from ..ext import ext
from ._util import unbroadcast
from .registry import rrule


def _is_advanced(key) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return any(hasattr(k, "shape") for k in keys)


@rrule("__getitem__")
def getitem(xp, x, key):
    y = x[key]

    def pullback(g):
        zeros = xp.zeros_like(x)
        k = key
        if isinstance(key, tuple) and any(i is None for i in key):
            # new axes have nothing to scatter back into: index without them
            k = tuple(i for i in key if i is not None)
            g = xp.reshape(g, x[k].shape)
        if _is_advanced(k):
            return ext.scatter_add(xp, zeros, k, g), None
        return ext.setitem(xp, zeros, k, g), None

    return y, pullback


@rrule("ext.setitem")
def setitem(xp, x, key, value):
    y = ext.setitem(xp, x, key, value)

    def pullback(g):
        dx = lambda: ext.setitem(xp, g, key, 0.0)
        dv = lambda: unbroadcast(xp, g[key], value)
        return dx, None, dv

    return y, pullback


@rrule("ext.scatter_add")
def scatter_add(xp, x, key, values):
    y = ext.scatter_add(xp, x, key, values)
    return y, lambda g: (lambda: g, None, lambda: unbroadcast(xp, g[key], values))
