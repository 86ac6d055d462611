"""Pure array-API versions of the extension operations, for any library.

Used for array-api-strict, PyTorch, JAX and any other library without a module
of its own here; NumPy and Dask override ``setitem``/``scatter_add`` with their
own scatter primitives. Everything below calls only functions of the standard
(2023.12 or later: ``argsort(stable=)``, ``searchsorted``, ``take``, ``where``).

How a key is carried out
    The positions that ``x[key]`` reads are found by indexing an iota
    (``arange(x.size)`` shaped like ``x``) with the *same* key, so the library's
    own indexing decides every layout question (slices, ``None``, ``...``,
    masks, broadcasting of several integer arrays, where the advanced axes go):
    any key that ``x[key]`` accepts works, and nothing else is promised.
    ``values`` is broadcast to ``x[key].shape`` and written at those flat
    positions by a sort-based scatter:

    * positions sorted (stable ``argsort``), each target found with
      ``searchsorted`` (first/one-past-last occurrence);
    * ``setitem``: the last occurrence wins (NumPy's behaviour; the standard
      leaves repeated indices unspecified);
    * ``scatter_add``: repeated positions are summed exactly (a segmented
      Hillis-Steele scan over the sorted values, ``log2(m)`` steps of ``O(m)``;
      no prefix-sum differences, so no cancellation error).

    Cost: ``O(x.size + m log m)`` time and memory for ``m`` selected elements.

``getitem(xp, x, key)`` is ``x[key]`` (rules read integer-array keys through
it, so that a backend can fill what its library's indexing lacks, as Dask's does).

Fast path
    Keys without integer arrays (ints, slices, ``...``, ``None``, one boolean
    mask) select each position at most once; on libraries with mutable arrays
    they use ``y = copy(x); y[key] = value``. Libraries whose arrays are
    immutable (JAX) raise there and fall back to the functional path.

Limits
    array-api-strict only indexes with integer arrays when every entry of the
    key is an integer or an integer array, and with a boolean mask only when it
    is the sole entry; such keys fail in the user's ``x[key]`` already, and
    equally here. Python lists as indices are not array-API keys.
"""
from __future__ import annotations

import array_api_compat

is_lazy = False


def device(x):
    return array_api_compat.device(x)


def to_float(x):
    return float(x)


# --------------------------------------------------------------------------- keys

def _parts(key) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def _is_bool_array(xp, k) -> bool:
    return hasattr(k, "dtype") and hasattr(k, "shape") and xp.isdtype(k.dtype, "bool")


def has_int_array(xp, key) -> bool:
    """Whether ``key`` has an integer array (0-d included): NumPy's "advanced"
    indexing, which array-api-strict does not accept in ``__setitem__``."""
    for k in _parts(key):
        if isinstance(k, list):
            return True
        if hasattr(k, "dtype") and hasattr(k, "shape") and not _is_bool_array(xp, k):
            return True
    return False


def may_repeat(xp, key) -> bool:
    """Whether ``x[key]`` can read one position twice (an integer array of ndim >= 1)."""
    for k in _parts(key):
        if isinstance(k, list):
            return True
        if hasattr(k, "dtype") and not _is_bool_array(xp, k) and len(k.shape) > 0:
            return True
    return False


def _without_newaxes(key):
    parts = _parts(key)
    if not any(k is None for k in parts):
        return key
    return tuple(k for k in parts if k is not None)


def _fit_value(xp, x, key, value):
    """``value`` as an array of x's dtype shaped for ``x[key without None] = value``."""
    if not hasattr(value, "shape"):
        return value
    if value.dtype != x.dtype:
        value = xp.astype(value, x.dtype)
    parts = _parts(key)
    if any(k is None for k in parts):
        full = x[key].shape
        value = xp.reshape(xp.broadcast_to(value, full), x[_without_newaxes(key)].shape)
    return value


# --------------------------------------------------------------------------- ops

def setitem(xp, x, key, value):
    """A new array: ``x`` with ``x[key] = value``; ``x`` is not modified."""
    if not has_int_array(xp, key):
        try:
            y = xp.asarray(x, copy=True)
            y[_without_newaxes(key)] = _fit_value(xp, x, key, value)
            return y
        except (TypeError, NotImplementedError, AttributeError, ValueError):
            pass  # immutable arrays (JAX): the functional path below
    return _scatter(xp, x, key, value, accumulate=False)


def scatter_add(xp, x, key, values):
    """A new array: ``x`` with ``values`` added at ``x[key]``; repeated integer
    indices accumulate (NumPy's ``np.add.at``); ``x`` is not modified."""
    if not has_int_array(xp, key):
        # each position at most once: x[key] + values, written back
        return setitem(xp, x, key, x[key] + values)
    return _scatter(xp, x, key, values, accumulate=True)


def _scatter(xp, x, key, values, accumulate):
    shape = tuple(x.shape)
    n = 1
    for s in shape:
        n *= s
    dev = device(x)
    idt = xp.int64
    iota = xp.reshape(xp.arange(n, dtype=idt, device=dev), shape)
    pos = iota[key]
    m = 1
    for s in pos.shape:
        m *= s
    if m == 0 or n == 0:
        return xp.asarray(x, copy=True)
    if hasattr(values, "shape"):
        vals = values if values.dtype == x.dtype else xp.astype(values, x.dtype)
    else:
        vals = xp.asarray(values, dtype=x.dtype, device=dev)
    vals = xp.reshape(xp.broadcast_to(vals, pos.shape), (m,))
    pos = xp.reshape(pos, (m,))
    flat = xp.reshape(x, (n,))
    if may_repeat(xp, key):
        order = xp.argsort(pos, stable=True)
        pos = xp.take(pos, order)
        vals = xp.take(vals, order)
        if accumulate:
            vals = _segmented_sum(xp, pos, vals)
    else:
        # positions are distinct; sort them (a negative step may reverse them)
        order = xp.argsort(pos)
        pos = xp.take(pos, order)
        vals = xp.take(vals, order)
    targets = xp.arange(n, dtype=idt, device=dev)
    lo = xp.searchsorted(pos, targets, side="left")
    hi = xp.searchsorted(pos, targets, side="right")
    hit = hi > lo
    last = xp.where(hit, hi - 1, xp.zeros_like(hi))
    picked = xp.take(vals, last)
    if accumulate:
        out = flat + xp.where(hit, picked, xp.zeros_like(picked))
    else:
        out = xp.where(hit, picked, flat)
    return xp.reshape(out, shape)


def _segmented_sum(xp, keys, vals):
    """Inclusive running sums of ``vals`` within runs of equal (sorted) ``keys``:
    the last element of each run holds the run's total."""
    m = vals.shape[0]
    d = 1
    while d < m:
        same = keys[d:] == keys[:-d]
        add = xp.where(same, vals[:-d], xp.zeros_like(vals[:-d]))
        vals = xp.concat((vals[:d], vals[d:] + add))
        d *= 2
    return vals


def getitem(xp, x, key):
    """``x[key]``: the library's own indexing (rules read integer-array keys
    through ``ext.getitem`` so that a backend can fill in what its library lacks)."""
    return x[key]
