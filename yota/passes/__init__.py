"""Tape -> tape rewrites, and the one pipeline every kind of call goes through.

``optimize(tape)`` runs the engine's passes (each a pure function of a tape, in
its own module, testable alone); ``lower(tape, backend)`` then applies the
backend's own rewrite (NumPy buffer reuse, CuPy kernel fusion), compiles, and
lets the backend wrap the result (CUDA graphs). grad, vjp (both halves),
trace, compile, the transformations and nested calls all come through here.
"""
from __future__ import annotations

from .. import codegen
from ..tape import Tape
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .factor import factor
from .fold import fold_fills
from .shapes import simplify_shapes

__all__ = ["optimize", "lower", "PIPELINE", "simplify_shapes", "fold_fills", "eliminate_common_subexpressions",
           "factor", "eliminate_dead_code"]

PIPELINE = (simplify_shapes, fold_fills, eliminate_common_subexpressions, factor, eliminate_dead_code)


def _getitem_through_backend(tape: Tape) -> Tape:
    """Every ``x[key]`` as the backend's ``getitem`` (its library's own indexing
    reads some keys wrongly or refuses them: Dask, PyTorch's negative steps)."""
    if not any(op.fn == "__getitem__" for op in tape.ops):
        return tape
    return tape.replace(ops=tuple(op.replace(fn="ext.getitem") if op.fn == "__getitem__" else op
                                  for op in tape.ops))


def optimize(tape: Tape) -> Tape:
    for p in PIPELINE:
        tape = p(tape)
    return tape


def lower(tape: Tape, backend, name: str = "f"):
    """The function that runs ``tape`` (already optimized) on ``backend``'s arrays,
    or, with ``backend=None``, on Tracers of an outer trace (a nested call)."""
    if backend is not None and backend.replaces_getitem:
        tape = _getitem_through_backend(tape)
    final = backend.transform(tape) if backend is not None else tape
    fn = codegen.compile_tape(final, name, traced=backend is None,
                              operators_as_calls=bool(getattr(backend, "operators_via_namespace", False)))
    return backend.wrap(fn, final) if backend is not None else fn
