"""Pure array-API versions of the extension operations, for any library.

Used for array-api-strict, pydata sparse, ndonnx and any other library without
a scatter of its own; NumPy, CuPy, Dask, PyTorch and JAX override
``setitem``/``scatter_add`` with their library's scatter (JAX keeps this
module's for repeated writes). Everything below calls only functions of the
standard (2023.12 or later: ``argsort(stable=)``, ``searchsorted``, ``take``,
``where``).

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
    immutable (pydata sparse; JAX has its own module) raise there and fall back
    to a functional path.

Basic keys without ``arange``
    On that functional path, a key of ints, slices, ``...`` and ``None`` is
    carried out by layout alone: ``value`` is laid into an array shaped like
    ``x`` axis by axis (``flip`` for a negative step, ``stack`` with zeros and
    ``reshape`` for a step above one, ``concat`` with zeros before and after),
    and ``where`` picks it where a boolean array laid out the same way is set.
    That uses only functions every array library has (sparse has no
    ``arange``, ``argsort`` or ``searchsorted``), so the gradient of a basic
    ``x[key]`` needs nothing the library's own indexing did not. Masks and
    integer arrays take the sort-based scatter; a library without one of the
    functions it calls gets an error naming the function and the library.

Limits
    array-api-strict only indexes with integer arrays when every entry of the
    key is an integer or an integer array, and with a boolean mask only when it
    is the sole entry; such keys fail in the user's ``x[key]`` already, and
    equally here. Python lists as indices are not array-API keys.
"""
from __future__ import annotations

import array_api_compat

from yota.errors import YotaError

is_lazy = False


class MissingFunctionError(YotaError, AttributeError):
    """A write that needs a function the array library does not have."""

    def __init__(self, xp, name, what):
        library = getattr(xp, "__name__", repr(xp))
        super().__init__(f"{what} needs xp.{name}, which {library} does not have (the functional scatter for "
                         f"integer-array and boolean-mask keys calls arange, argsort, searchsorted and take). "
                         f"Index with ints, slices, ... and None, or use a library that has xp.{name}.")


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
            pass  # immutable arrays: a functional path below
        if _is_basic(xp, key):
            return _laid_out(xp, x, key, value)
    return _scatter(xp, x, key, value, accumulate=False)


def scatter_add(xp, x, key, values):
    """A new array: ``x`` with ``values`` added at ``x[key]``; repeated integer
    indices accumulate (NumPy's ``np.add.at``); ``x`` is not modified."""
    if not has_int_array(xp, key):
        # each position at most once: x[key] + values, written back
        return setitem(xp, x, key, x[key] + values)
    return _scatter(xp, x, key, values, accumulate=True)


# --------------------------------------------------------------------------- basic keys by layout

def _is_basic(xp, key) -> bool:
    """ints, slices, ``...`` and ``None`` only (no arrays, lists or Python bools)."""
    return all(k is None or k is Ellipsis or isinstance(k, slice) or (isinstance(k, int) and not isinstance(k, bool))
               for k in _parts(key))


def _full_key(key, ndim) -> list:
    """The key with ``...`` expanded and every axis named (NumPy: missing trailing axes are ``:``)."""
    parts = list(_parts(key))
    named = sum(1 for k in parts if k is not None and k is not Ellipsis)
    if Ellipsis in parts:
        i = parts.index(Ellipsis)
        parts[i:i + 1] = [slice(None)] * (ndim - named)
    else:
        parts += [slice(None)] * (ndim - named)
    return parts


def _lay_out(xp, v, parts, shape, fill):
    """An array of ``shape``: ``v`` (shaped like ``x[parts]`` without its None axes, int axes
    kept with length 1) at the positions the slices select, ``fill`` elsewhere."""
    for d, (k, n) in enumerate(zip(parts, shape)):
        start, stop, step = k.indices(n)
        count = len(range(start, stop, step))
        if step < 0:
            # the same positions, read upwards
            v = xp.flip(v, axis=d)
            start, step = start + (count - 1) * step, -step
        if count == n:
            continue
        if step > 1 and count > 1:
            # each value followed by step - 1 fills, the last fills cut off
            gap = xp.full(tuple(v.shape), fill, dtype=v.dtype, device=device(v))
            v = xp.stack([v] + [gap] * (step - 1), axis=d + 1)
            merged = tuple(v.shape[:d]) + (count * step,) + tuple(v.shape[d + 2:])
            v = xp.reshape(v, merged)[(slice(None),) * d + (slice(0, (count - 1) * step + 1), ...)]
        before, after = start, n - start - ((count - 1) * step + 1)
        pieces = []
        for m in (before, after):
            side = tuple(v.shape[:d]) + (m,) + tuple(v.shape[d + 1:])
            pieces.append(xp.full(side, fill, dtype=v.dtype, device=device(v)) if m > 0 else None)
        v = xp.concat([p for p in (pieces[0], v, pieces[1]) if p is not None], axis=d)
    return v


def _laid_out(xp, x, key, value):
    """``x`` with ``value`` written at the basic key ``key``, by layout."""
    shape = tuple(x.shape)
    parts = _full_key(key, len(shape))
    dims = [k for k in parts if k is not None]
    slices = [slice(k % n, k % n + 1) if isinstance(k, int) else k for k, n in zip(dims, shape)]
    if any(len(range(*k.indices(n))) == 0 for k, n in zip(slices, shape)):
        return xp.asarray(x, copy=True)
    dev = device(x)
    # value broadcast to x[key].shape, then its None axes dropped and its int axes kept (length 1)
    target, sizes, it = [], [], iter(zip(slices, shape))
    for k in parts:
        if k is None:
            target.append(1)
            continue
        s, n = next(it)
        size = len(range(*s.indices(n)))
        sizes.append(size)
        if not isinstance(k, int):
            target.append(size)
    if hasattr(value, "shape"):
        v = value if value.dtype == x.dtype else xp.astype(value, x.dtype)
    else:
        v = xp.asarray(value, dtype=x.dtype, device=dev)
    v = xp.reshape(xp.broadcast_to(v, tuple(target)), tuple(sizes))
    zero = False if xp.isdtype(x.dtype, "bool") else 0
    laid = _lay_out(xp, v, slices, shape, zero)
    hit = _lay_out(xp, xp.ones(tuple(sizes), dtype=xp.bool, device=dev), slices, shape, False)
    return xp.where(hit, laid, x)


# --------------------------------------------------------------------------- any key, sort-based

def _require(xp, names, what):
    for name in names:
        if not hasattr(xp, name):
            raise MissingFunctionError(xp, name, what)


def _scatter(xp, x, key, values, accumulate):
    _require(xp, ("arange", "argsort", "searchsorted", "take"),
             "writing at an integer-array or boolean-mask key (the gradient of x[key])")
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
