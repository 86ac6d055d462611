"""Small helpers on structures of arrays that the transformations share."""
from __future__ import annotations

from typing import Any

from .. import errors
from ..flatten import flatten, leaf_gradients, unflatten
from ..tangents import ZeroTangent
from ..tracer import is_float


def _spec(x):
    return ()


def leaves(tree: Any) -> list:
    return flatten(tree, _spec)[1]


def structure(tree: Any):
    return flatten(tree, _spec)[0]


def namespace_of(*trees):
    """The array namespace of the first array leaf (a Tracer's tracing namespace; the backend's
    for a library without ``__array_namespace__``, such as PyTorch)."""
    from .. import backends
    for t in trees:
        for x in leaves(t):
            ns = getattr(x, "__array_namespace__", None)
            if ns is not None:
                return ns()
            if hasattr(x, "shape") and hasattr(x, "dtype"):
                return backends.backend_of(x).namespace
    return backends.default().namespace


def zeros_like(tree: Any):
    xp = namespace_of(tree)
    out = [xp.zeros_like(x) if hasattr(x, "shape") else 0.0 * x for x in leaves(tree)]
    return unflatten(structure(tree), iter(out).__next__)


def materialize(grad: Any, like: Any):
    """``grad`` (a gradient or tangent structure mirroring ``like``) with ``like``'s structure
    and a zero array (or 0.0) wherever it holds a ZeroTangent: what JAX returns there."""
    xp = None
    out = []
    for g, x in zip(leaf_gradients(structure(like), grad), leaves(like)):
        if isinstance(g, ZeroTangent):
            if hasattr(x, "shape"):
                xp = xp or namespace_of(like)
                g = xp.zeros_like(x)
            else:
                g = 0.0 * x
        out.append(g)
    return unflatten(structure(like), iter(out).__next__)


def vdot(grads: Any, tangents: Any, primals: Any):
    """sum_i <grads_i, tangents_i> over the leaves of ``primals``, which both mirror (a
    ZeroTangent anywhere in ``grads`` and non-float leaves count 0)."""
    la, lb = leaf_gradients(structure(primals), grads), leaves(tangents)
    if len(la) != len(lb):
        raise errors.ArgumentError(f"tangents have {len(lb)} arrays where the primals have {len(la)}")
    xp = namespace_of(grads, tangents)
    total = None
    for x, y in zip(la, lb):
        if isinstance(x, ZeroTangent) or isinstance(y, ZeroTangent) or y is None or not is_float(x):
            continue
        if "complex" in str(getattr(x, "dtype", type(x))) or "complex" in str(getattr(y, "dtype", type(y))):
            raise errors.ArgumentError("forward mode (jvp, linearize, hvp, jacfwd) is implemented for real "
                                       "arrays; split complex values into real and imaginary parts")
        term = xp.sum(x * y) if hasattr(x, "shape") else x * y
        total = term if total is None else total + term
    return 0.0 if total is None else total


def check_tangents(primals: tuple, tangents: tuple, what: str) -> None:
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise errors.ArgumentError(f"{what}: primals and tangents must be tuples (one entry per argument of f)")
    if len(primals) != len(tangents):
        raise errors.ArgumentError(f"{what}: {len(primals)} primals but {len(tangents)} tangents")
    sp, st = structure(tuple(primals)), structure(tuple(tangents))
    lp, lt = leaves(tuple(primals)), leaves(tuple(tangents))
    if len(lp) != len(lt):
        raise errors.ArgumentError(f"{what}: the tangents' structure differs from the primals' ({len(lt)} arrays "
                                   f"for {len(lp)})")
    for p, t in zip(lp, lt):
        ps, ts = tuple(getattr(p, "shape", ())), tuple(getattr(t, "shape", ()))
        if ps != ts:
            raise errors.ArgumentError(f"{what}: a tangent of shape {ts} for a primal of shape {ps}")
    del sp, st


def opaque(fn, wrapped):
    """A callable that the cache keys by identity (flatten sees no fields, so
    ``fn``'s own closure is not taken apart again); ``__wrapped__`` lets the
    guards find the code it runs."""
    cls = type(f"yota_{getattr(wrapped, '__name__', 'fn')}", (), {
        "__slots__": (), "__call__": lambda self, *a: fn(*a), "__wrapped__": wrapped,
        "__name__": getattr(wrapped, "__name__", "fn")})
    return cls()
