"""Small helpers every module of the Dask backend shares: coercion to a Dask
array, axis normalisation, and unknown (``nan``) sizes."""
from __future__ import annotations

import math
import operator

import dask.array as da


def as_dask(x):
    """A Dask array for ``x`` (Dask arrays pass through)."""
    if isinstance(x, da.Array):
        return x
    return da.asarray(x)


def norm_axis(axis, ndim):
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise IndexError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def isnan(d):
    """Whether a size or chunk length is Dask's "unknown" (``nan``)."""
    return isinstance(d, float) and math.isnan(d)


def has_unknown(shape) -> bool:
    return any(isnan(d) for d in shape)


def has_unknown_chunks(x) -> bool:
    return any(isnan(c) for cs in x.chunks for c in cs)
