"""NumPy: scatter-add through ``np.add.at``; everything else is array-api-compat's."""
from __future__ import annotations

import array_api_compat.numpy as namespace
import numpy as np

from ._generic import device, to_float  # noqa: F401  (part of this backend's ext)

is_lazy = False


def _np_key(key):
    # Traced keys arrive as arrays already; lists would change NumPy's meaning.
    return key


def setitem(xp, x, key, value):
    y = np.array(x, copy=True)
    y[key] = value
    return y


def scatter_add(xp, x, key, values):
    y = np.array(x, copy=True)
    np.add.at(y, key, values)
    return y
