"""Pure array-API versions of the extension operations, for any library.

They favour being correct on every standard library over speed; NumPy, CuPy and
Dask override them with their own scatter primitives.
"""
from __future__ import annotations

import array_api_compat

is_lazy = False


def device(x):
    return array_api_compat.device(x)


def to_float(x):
    return float(x)


def _normalize_key(xp, x, key):
    """Key as a tuple with boolean masks turned into integer arrays (the standard
    only allows a mask as the sole index, so they are rewritten via nonzero)."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        if hasattr(k, "dtype") and xp.isdtype(k.dtype, "bool") and getattr(k, "ndim", 0) > 0:
            out.extend(xp.nonzero(k))
        else:
            out.append(k)
    return tuple(out)


def setitem(xp, x, key, value):
    y = xp.asarray(x, copy=True)
    y[key] = value
    return y


def scatter_add(xp, x, key, values):
    """``x`` with ``values`` added at ``x[key]``; repeated integer indices accumulate.

    Integer-array keys are done as a one-hot matrix product over the flattened
    indexed axes, which the standard can express; basic keys use setitem.
    """
    key = _normalize_key(xp, x, key)
    if not any(hasattr(k, "dtype") for k in key):
        y = xp.asarray(x, copy=True)
        y[key] = y[key] + values
        return y
    return _scatter_add_advanced(xp, x, key, values)


def _scatter_add_advanced(xp, x, key, values):
    # Expand the key to all axes, then move the advanced axes first.
    nell = sum(1 for k in key if k is Ellipsis)
    nreal = sum(1 for k in key if k is not None and k is not Ellipsis)
    full = []
    for k in key:
        if k is Ellipsis:
            full.extend([slice(None)] * (x.ndim - nreal))
        elif k is None:
            raise IndexError("scatter_add: None in an advanced index is not supported")
        else:
            full.append(k)
    if not nell:
        full.extend([slice(None)] * (x.ndim - len(full)))
    adv = [i for i, k in enumerate(full) if hasattr(k, "dtype") or isinstance(k, int)]
    arrays = [xp.asarray(full[i]) if hasattr(full[i], "dtype") else full[i] for i in adv]
    arr_shapes = [a.shape for a in arrays if hasattr(a, "shape")]
    bshape = _broadcast_shapes(arr_shapes)
    idx = [xp.broadcast_to(xp.asarray(a, dtype=xp.int64, device=device(x)) if not hasattr(a, "shape") else a, bshape)
           for a in arrays]
    rest = [i for i in range(x.ndim) if i not in adv]
    xt = xp.permute_dims(x, tuple(adv) + tuple(rest))
    sizes = [x.shape[i] for i in adv]
    flat = 0
    for a, n in zip(idx, sizes):
        a = xp.where(a < 0, a + n, a)
        flat = flat * n + xp.astype(a, xp.int64)
    total = 1
    for n in sizes:
        total *= n
    flat = xp.reshape(flat, (-1,))
    rest_shape = tuple(x.shape[i] for i in rest)
    # Values are laid out as broadcast-index dims followed by the sliced dims,
    # except NumPy's rule for separated advanced indices puts them first anyway.
    adjacent = adv == list(range(adv[0], adv[0] + len(adv)))
    v = xp.broadcast_to(values, _value_shape(full, adv, bshape, x.shape, adjacent))
    if adjacent and adv[0] > 0:
        nb = len(bshape)
        lead = adv[0]
        v = xp.permute_dims(v, tuple(range(lead, lead + nb)) + tuple(range(lead)) + tuple(range(lead + nb, v.ndim)))
    v = xp.reshape(v, (flat.shape[0], -1) if rest_shape else (flat.shape[0], 1))
    onehot = xp.astype(flat[:, None] == xp.arange(total, device=device(x))[None, :], v.dtype)
    upd = xp.matrix_transpose(onehot) @ v
    upd = xp.reshape(upd, tuple(sizes) + rest_shape)
    inv = [0] * x.ndim
    for pos, ax in enumerate(tuple(adv) + tuple(rest)):
        inv[ax] = pos
    return x + xp.permute_dims(xt * 0 + upd, tuple(inv))


def _value_shape(full, adv, bshape, shape, adjacent):
    sliced = []
    for i, k in enumerate(full):
        if i in adv:
            continue
        start, stop, step = k.indices(shape[i])
        sliced.append(len(range(start, stop, step)))
    if adjacent:
        before = sliced[: adv[0]]
        return tuple(before) + tuple(bshape) + tuple(sliced[adv[0]:])
    return tuple(bshape) + tuple(sliced)


def _broadcast_shapes(shapes):
    out: list = []
    for s in shapes:
        s = list(s)
        if len(s) > len(out):
            out = [1] * (len(s) - len(out)) + out
        s = [1] * (len(out) - len(s)) + s
        out = [max(a, b) if 1 in (a, b) else a for a, b in zip(out, s)]
    return tuple(out)
