"""NumPy-style code on Tracers: ``np.exp(x)``, ``x.sum()`` map onto the same rules."""
from __future__ import annotations

from . import errors


def ufunc(ctx, ufunc, method, inputs, kwargs):
    raise errors.ForeignLibraryError("numpy", getattr(ufunc, "__name__", str(ufunc)))


def function(ctx, func, args, kwargs):
    raise errors.ForeignLibraryError("numpy", getattr(func, "__name__", str(func)))


def method(tracer, name):
    raise AttributeError(f"traced arrays have no attribute {name!r}")
