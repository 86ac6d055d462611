"""Indexing: ``__getitem__`` and its scatter gradient, functional ``__setitem__``
(``ext.setitem``), ``ext.scatter_add``, ``ext.getitem``, ``take`` and
``take_along_axis``.

Gradients of reads are writes: a key that selects each position at most once
(ints, slices, ``...``, ``None``, boolean masks, 0-d integer arrays) sends the
cotangent back with ``ext.setitem`` into zeros; a key with integer arrays may
select a position several times, so it uses ``ext.scatter_add`` (repeats
accumulate). Keys that rules build themselves (``take``, ``take_along_axis``,
``sort``, ``repeat``) are all-integer-array keys, the one form of integer-array
indexing every standard library accepts (array-api-strict refuses integer
arrays next to slices or ``...``).
"""
from __future__ import annotations

from ..ext import ext
from ._util import unbroadcast
from ..ops import rrule


def _parts(key) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def may_repeat(xp, key) -> bool:
    """Whether ``x[key]`` may read a position twice: an integer array of ndim >= 1."""
    for k in _parts(key):
        if isinstance(k, list):
            return True
        if hasattr(k, "dtype") and len(k.shape) > 0 and not xp.isdtype(k.dtype, "bool"):
            return True
    return False


def has_int_array(xp, key) -> bool:
    for k in _parts(key):
        if isinstance(k, list) or (hasattr(k, "dtype") and not xp.isdtype(k.dtype, "bool")):
            return True
    return False


def _negative_step(key) -> bool:
    return any(isinstance(k, slice) and k.step is not None and k.step < 0 for k in _parts(key))


def read(xp, x, key):
    """``x[key]`` inside rules: keys with integer arrays or negative steps go through
    ``ext.getitem`` (Dask cannot index with several integer arrays, PyTorch with a
    negative step; their backends can), so that the gradient of a write with such a key
    (``ext.setitem``) needs no indexing the write itself did not."""
    return ext.getitem(xp, x, key) if has_int_array(xp, key) or _negative_step(key) else x[key]


def _expand_to(xp, a, axis, ndim):
    # a 1-D array placed on ``axis`` of an ``ndim``-D key (expand_dims, not reshape:
    # no length is written into the tape, so data-dependent lengths stay right)
    for d in range(axis):
        a = xp.expand_dims(a, axis=0)
    for d in range(ndim - axis - 1):
        a = xp.expand_dims(a, axis=-1)
    return a


def axis_key(xp, x, axis, indices):
    """An all-integer-array key reading ``x`` with ``indices`` along ``axis``:
    ``x[key]`` equals ``take_along_axis(x, indices, axis=axis)`` (``indices`` of
    x's ndim, broadcasting) or, for 1-D ``indices``, ``take(x, indices, axis)``."""
    nd = x.ndim
    axis = axis % nd
    if indices.ndim == 1 and nd > 1:
        indices = _expand_to(xp, indices, axis, nd)
    key = []
    for d in range(nd):
        if d == axis:
            key.append(indices)
        else:
            key.append(_expand_to(xp, xp.arange(x.shape[d], dtype=indices.dtype, device=x.device), d, nd))
    return tuple(key)


# ---------------------------------------------------------------- reading


@rrule("__getitem__")
def getitem(xp, x, key):
    y = x[key]

    def pullback(g):
        def dx():
            zeros = xp.zeros_like(x)
            if may_repeat(xp, key):
                return ext.scatter_add(xp, zeros, key, g)
            # each position at most once: a plain write (None axes are dropped by the backend)
            return ext.setitem(xp, zeros, key, g)

        return dx, None

    return y, pullback


@rrule("take")
def take(xp, x, indices, /, *, axis=None):
    y = xp.take(x, indices, axis=axis)

    def pullback(g):
        ax = 0 if axis is None else axis
        return lambda: ext.scatter_add(xp, xp.zeros_like(x), axis_key(xp, x, ax, indices), g), None

    return y, pullback


@rrule("take_along_axis")
def take_along_axis(xp, x, indices, /, *, axis=-1):
    y = xp.take_along_axis(x, indices, axis=axis)

    def pullback(g):
        return lambda: ext.scatter_add(xp, xp.zeros_like(x), axis_key(xp, x, axis, indices), g), None

    return y, pullback


# ---------------------------------------------------------------- writing
# ``x[key] = value`` in traced code records ``ext.setitem`` (copy-on-write): the
# caller's arrays are never modified. With repeated integer indices the written
# value is unspecified by the standard (NumPy and the fallbacks: last wins); the
# gradient then reaches every repeat.


@rrule("ext.setitem")
def setitem(xp, x, key, value):
    y = ext.setitem(xp, x, key, value)

    def pullback(g):
        dx = lambda: ext.setitem(xp, g, key, 0.0)  # overwritten positions get nothing
        dv = lambda: unbroadcast(xp, read(xp, g, key), value)
        return dx, None, dv

    return y, pullback


@rrule("ext.scatter_add")
def scatter_add(xp, x, key, values):
    y = ext.scatter_add(xp, x, key, values)
    return y, lambda g: (g, None, lambda: unbroadcast(xp, read(xp, g, key), values))


@rrule("ext.getitem")
def ext_getitem(xp, x, key):
    # x[key] for any NumPy key, on every backend (rules read integer-array keys this way)
    y = ext.getitem(xp, x, key)
    return y, lambda g: (lambda: ext.scatter_add(xp, xp.zeros_like(x), key, g), None)
