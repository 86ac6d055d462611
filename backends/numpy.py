"""NumPy: scatter-add through ``np.add.at``; everything else is array-api-compat's.

Both operations accept any key NumPy's ``x[key]`` accepts (ints, slices,
``...``, ``None``, boolean masks alone or among other entries, several integer
arrays broadcasting together) and return a new array of ``x``'s dtype; ``x``
is never modified.
"""
from __future__ import annotations

import array_api_compat.numpy as namespace  # noqa: F401  (this backend's xp)
import numpy as np

from ._generic import device, to_float  # noqa: F401  (part of this backend's ext)
from ._reuse import reuse_buffers

unknown_size_advice = ""

is_lazy = False


def _repeats(key) -> bool:
    # Only integer arrays (ndim >= 1) can name one position twice.
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, list):
            return True
        if isinstance(k, np.ndarray) and k.ndim > 0 and k.dtype != np.bool_:
            return True
    return False


def _value(x, v):
    # Writes cast to x's dtype (a float64 cotangent into a float32 buffer);
    # a complex value into a real array keeps the real part, as gradients do.
    if isinstance(v, np.ndarray | np.generic) and np.iscomplexobj(v) and not np.iscomplexobj(x):
        return v.real
    return v


def setitem(xp, x, key, value):
    y = np.array(x, copy=True)
    y[key] = _value(y, value)
    return y


def scatter_add(xp, x, key, values):
    y = np.array(x, copy=True)
    if _repeats(key):
        np.add.at(y, key, _value(y, values))
    else:
        y[key] += _value(y, values)
    return y


def transform(tape):
    """Elementwise results go into dead temporaries' buffers (``out=``), and
    sums call the ufunc reduction directly (``np.sum``'s Python wrapper costs
    about a microsecond a call, which small models pay on every op)."""
    tape = reuse_buffers(tape, lambda name: getattr(np, name))
    sums = [i for i, op in enumerate(tape.ops) if op.kind == "call" and op.fn == "sum"
            and set(op.kwargs) <= {"axis", "keepdims"}]
    if not sums:
        return tape
    tape, (reduce,) = tape.with_consts([np.add.reduce])
    new_ops = list(tape.ops)
    for i in sums:
        op = new_ops[i]
        new_ops[i] = op.replace(fn=reduce, kwargs={"axis": op.kwargs.get("axis"),
                                                   **{k: v for k, v in op.kwargs.items() if k != "axis"}})
    return tape.replace(ops=tuple(new_ops))


def getitem(xp, x, key):
    return x[key]


def as_array(x):
    # NumPy hands back 0-d results as scalars (np.float64); gradients mirror 0-d arrays
    return np.asarray(x) if isinstance(x, np.generic) else x


def to_numpy(x):
    return np.asarray(x)


#: global arrays up to this size are guarded by their contents
CONTENT_GUARD_SIZE = 64


def content_key(x):
    if isinstance(x, np.ndarray) and x.size <= CONTENT_GUARD_SIZE:
        return (x.dtype.str, x.shape, x.tobytes())
    return None
