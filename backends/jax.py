"""JAX: writes through ``x.at[key]`` (JAX arrays are immutable).

``jax.numpy`` is the namespace (JAX implements the standard itself). Keys are
whatever ``x[key]`` accepts on JAX arrays outside ``jit`` (ints, slices of any
step, ``...``, ``None``, boolean masks, integer arrays). ``scatter_add`` is
``x.at[key].add(values)``, which sums repeated indices exactly. ``setitem`` is
``x.at[key].set(value)`` when no position can be named twice; with repeated
integer indices JAX leaves the surviving value unspecified, so the
array-API scatter (``_generic``, the last write wins, as in NumPy) is used.

Values are cast to ``x``'s dtype; a complex value written into a real array
keeps its real part, as gradients do. Float64 needs ``jax_enable_x64``, as
everywhere in JAX (without it JAX makes float32 arrays).
"""
from __future__ import annotations

import jax
import jax.numpy as namespace  # noqa: F401  (this backend's xp)
import numpy as np

from . import _generic

is_lazy = False


def device(x):
    return x.device


def content_guard(x, max_bytes):
    return None  # immutable: the same array holds the same values


def to_numpy(x):
    return np.asarray(x)


def from_numpy(a, like):
    return jax.device_put(namespace.asarray(a), like.device)


def _without_newaxes(x, key, value):
    # ``x.at[...]`` takes the key without None entries, and the value shaped for it
    parts = key if isinstance(key, tuple) else (key,)
    if not any(k is None for k in parts):
        return key, value
    bare = tuple(k for k in parts if k is not None)
    if hasattr(value, "shape"):
        value = namespace.reshape(namespace.broadcast_to(value, x[key].shape), x[bare].shape)
    return bare, value


def _value(x, v):
    if not hasattr(v, "dtype"):
        return v
    if namespace.iscomplexobj(v) and not namespace.iscomplexobj(x):
        v = namespace.real(v)
    return v if v.dtype == x.dtype else v.astype(x.dtype)


def setitem(xp, x, key, value):
    if _generic.may_repeat(xp, key):
        return _generic.setitem(xp, x, key, value)
    key, value = _without_newaxes(x, key, _value(x, value))
    return x.at[key].set(value)


def scatter_add(xp, x, key, values):
    key, values = _without_newaxes(x, key, _value(x, values))
    return x.at[key].add(values)


def getitem(xp, x, key):
    return x[key]
