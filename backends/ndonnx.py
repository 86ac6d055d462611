"""ndonnx: the library's own namespace; host copies through ``unwrap_numpy``
(NumPy's ``asarray`` would wrap an ndonnx array in a 0-d object array).

ndonnx implements the standard closely: it has no ``linalg`` or ``fft``
extension, indexes only with keys that name every axis (or hold ``...``), and
follows the 2024.12 revision (``expand_dims`` takes one axis). Its arrays are
mutable, so writes take ``_generic``'s ``copy`` + ``__setitem__`` path.
"""
from __future__ import annotations

import ndonnx
import numpy as np

is_lazy = False


def to_numpy(x):
    return x.unwrap_numpy() if isinstance(x, ndonnx.Array) else np.asarray(x)


def from_numpy(a, like):
    return ndonnx.asarray(np.asarray(a))
