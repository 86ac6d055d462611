"""array-api-strict, the standard's reference library: its arrays wrap NumPy arrays, views
included (``x[1:]`` shares ``x``'s memory), so what a write reaches is NumPy's answer, and
NumPy's floating-point error settings (``np.errstate``) are its own."""
from __future__ import annotations

from . import numpy as _numpy

is_lazy = False


def memory_owner(x):
    return _numpy.memory_owner(getattr(x, "_array", None))


def overlaps(a, b) -> bool:
    return _numpy.overlaps(a._array, b._array)


def covers(a, b) -> bool:
    return _numpy.covers(a._array, b._array)


float_errors = _numpy.float_errors
float_errors_raising = _numpy.float_errors_raising
