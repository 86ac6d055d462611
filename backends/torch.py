"""PyTorch: scatters through ``index_put_``; negative slice steps filled by ``flip``.

Tensors are used as they come (CPU or CUDA, any dtype); results stay on the
input's device. Keys are whatever PyTorch's ``x[key]`` accepts, plus negative
slice steps (``x[::-1]``), which PyTorch refuses ("step must be greater than
zero"): ``getitem``/``setitem``/``scatter_add`` flip those axes and use the
equivalent positive-step slice (the same positions in the same order), so
rules reading or writing with such a key get NumPy's semantics. The user's own
``x[::-1]`` on a tensor is PyTorch's indexing and fails as it does without
yota: write ``xp.flip(x, axis=0)`` there.

Writes follow NumPy: ``setitem`` with repeated integer indices keeps the last
value (PyTorch leaves it unspecified), ``scatter_add`` sums every repeat
(``index_put_(accumulate=True)``). Values are cast to ``x``'s dtype; a complex
value written into a real tensor keeps its real part, as gradients do.
"""
from __future__ import annotations

import functools

import array_api_compat.torch as namespace  # noqa: F401  (this backend's xp)
import numpy as np
import torch

from . import _memory

is_lazy = False
#: PyTorch has no negative slice steps: ``x[::-1]`` runs :func:`getitem`, which flips instead
replaces_getitem = True


def memory_owner(x):
    """The tensor whose storage ``x`` views (PyTorch's ``_base``); None for what no write reaches."""
    if not isinstance(x, torch.Tensor):
        return None
    while x._base is not None:
        x = x._base
    return x


def _layout(x):
    size = x.element_size()
    return _memory.Layout(x.data_ptr(), tuple(x.shape), tuple(s * size for s in x.stride()), size,
                          x.is_contiguous())


def overlaps(a, b) -> bool:
    return _memory.spans_meet(_layout(a), _layout(b))


def covers(a, b) -> bool:
    return _memory.covers(_layout(a), _layout(b))


def device(x):
    return x.device


def to_numpy(x):
    return x.detach().cpu().resolve_conj().resolve_neg().numpy()


def from_numpy(a, like):
    return torch.asarray(np.array(a, copy=True), device=like.device)


# --------------------------------------------------------------------------- keys

def _parts(key) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def _is_index_array(k) -> bool:
    return isinstance(k, list) or (isinstance(k, torch.Tensor) and k.dtype is not torch.bool)


def _axes_taken(k) -> int:
    """How many axes of x one key entry consumes."""
    if k is None or isinstance(k, bool):
        return 0
    if isinstance(k, torch.Tensor) and k.dtype is torch.bool:
        return k.ndim
    return 1


def _positive_steps(x, key):
    """``(axes, key2)``: ``flip(x, axes)[key2]`` reads what NumPy's ``x[key]`` reads,
    with every negative-step slice rewritten to a positive step; ``None`` when the
    key has no negative step."""
    parts = _parts(key)
    if not any(isinstance(k, slice) and k.step is not None and k.step < 0 for k in parts):
        return None
    fixed = sum(_axes_taken(k) for k in parts if k is not Ellipsis)
    axes, out, d = [], [], 0
    for k in parts:
        if k is Ellipsis:
            d += x.ndim - fixed
            out.append(k)
            continue
        if isinstance(k, slice) and k.step is not None and k.step < 0:
            n = x.shape[d]
            pos = range(*k.indices(n))
            k = slice(n - 1 - pos[0], n - pos[-1], -k.step) if len(pos) else slice(0, 0)
            axes.append(d)
        out.append(k)
        d += _axes_taken(k)
    return tuple(axes), tuple(out)


def _value(x, v):
    if not isinstance(v, torch.Tensor):
        return v
    if v.is_complex() and not x.is_complex():
        v = v.real
    return v if v.dtype == x.dtype else v.to(x.dtype)


def _may_repeat(key) -> bool:
    return any(isinstance(k, list) or (_is_index_array(k) and k.ndim > 0) for k in _parts(key))


def _positions(x, key):
    """The flat positions ``x[key]`` reads, shaped like ``x[key]`` (PyTorch's own
    indexing decides the layout)."""
    n = x.numel()
    return torch.arange(n, device=x.device).reshape(x.shape)[key]


# --------------------------------------------------------------------------- ops

def getitem(xp, x, key):
    flipped = _positive_steps(x, key)
    if flipped is not None:
        axes, key = flipped
        x = torch.flip(x, axes) if axes else x
    return x[key]


def _on_positive_steps(write):
    """``write(xp, x, key, value)`` for keys with negative steps too: the write goes to the
    flipped tensor with the positive-step key, and the result is flipped back."""
    @functools.wraps(write)
    def wrapped(xp, x, key, value):
        flipped = _positive_steps(x, key)
        if flipped is None:
            return write(xp, x, key, value)
        axes, key2 = flipped
        return torch.flip(write(xp, torch.flip(x, axes), key2, value), axes) if axes else write(xp, x, key2, value)

    return wrapped


@_on_positive_steps
def setitem(xp, x, key, value):
    """``x`` with ``x[key] = value``, a new tensor; the last of repeated indices wins."""
    value = _value(x, value)
    if not _may_repeat(key):
        y = x.clone()
        y[key] = value
        return y
    # repeated positions: pick the last write to each position explicitly
    pos = _positions(x, key)
    m = pos.numel()
    flat = x.reshape(-1)
    vals = torch.broadcast_to(torch.as_tensor(value, dtype=x.dtype, device=x.device), pos.shape).reshape(-1)
    pos = pos.reshape(-1)
    last = torch.full((flat.shape[0],), -1, dtype=torch.int64, device=x.device)
    last = last.scatter_reduce(0, pos, torch.arange(m, device=x.device), reduce="amax")
    hit = last >= 0
    out = torch.where(hit, vals[last.clamp(min=0)], flat) if m else flat.clone()
    return out.reshape(x.shape)


@_on_positive_steps
def scatter_add(xp, x, key, values):
    """``x`` with ``values`` added at ``x[key]``, a new tensor; repeats accumulate."""
    values = _value(x, values)
    parts = _parts(key)
    if not any(_is_index_array(k) for k in parts):
        # each position at most once
        y = x.clone()
        y[key] = y[key] + values
        return y
    if all(_is_index_array(k) for k in parts):
        idx = tuple(torch.as_tensor(k, dtype=torch.int64, device=x.device) for k in parts)
        target = x[idx].shape
        v = torch.broadcast_to(torch.as_tensor(values, dtype=x.dtype, device=x.device), target)
        return x.clone().index_put_(idx, v, accumulate=True)
    # integer arrays beside slices, None, ... or masks: scatter the flat positions
    pos = _positions(x, key)
    v = torch.broadcast_to(torch.as_tensor(values, dtype=x.dtype, device=x.device), pos.shape)
    flat = x.reshape(-1).clone()
    flat.index_put_((pos.reshape(-1),), v.reshape(-1), accumulate=True)
    return flat.reshape(x.shape)
