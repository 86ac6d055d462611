"""Reverse rules, one short rule per array-API function, grouped by family.

Importing this package registers them all in the op table (`yota.ops`). A rule
is ``rule(xp, *args, **kwargs) -> (y, pullback)``; ``pullback(g)`` returns one
cotangent per positional argument: an array, ``None`` for "not
differentiable", or a zero-argument function that computes it, called only
when that argument needs a gradient (so a constant's cotangent is never built).
"""
from . import creation, elementwise, fft, indexing, linalg, manipulation, reductions, searching  # noqa: F401
