"""``checkpoint(f)``: rematerialisation.

A call of the checkpointed function on traced values is recorded as one op
(``checkpoint(f)(...)``) that runs ``f``'s compiled forward and keeps only
its result; the op's pullback traces ``grad(f, ..., seed=g)`` at that point of
the backward sweep, so ``f``'s intermediates are recomputed there and freed
after use. The op carries this rule everywhere the tape goes (nested grad,
``jvp``, ``vmap``), so the recomputation happens at every level.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from .. import api, errors
from ..flatten import flatten_call, unflatten
from ..ops import batching, rrule
from ..primitives import Primitive
from ..tracer import Tracer
from ._trees import leaves, opaque, structure

__all__ = ["checkpoint"]


class _Structured:
    """``f`` as a function of flat leaves (what ops take), for one call structure."""

    def __init__(self, f, tree, out_tree):
        self.f, self.tree, self.out_tree = f, tree, out_tree

    def __call__(self, *flat):
        fn, args = unflatten(self.tree, iter(flat).__next__)
        return tuple(leaves(fn(*args)))


class checkpoint:
    """``checkpoint(f)``: the same function, whose intermediates are recomputed in
    the backward pass instead of being stored."""

    def __init__(self, f: Callable, name: str | None = None):
        if not callable(f):
            raise errors.ArgumentError(f"checkpoint needs a function, got {type(f).__name__}")
        self.f = f
        self.name = name or getattr(f, "__name__", "f")
        self._ops: dict = {}
        functools.update_wrapper(self, f)

    def __call__(self, *args: Any) -> Any:
        tree, flat = flatten_call(self.f, args, lambda x: ())
        if not any(type(x) is Tracer for x in flat):
            return self.f(*args)
        prim, out_tree = self._op(tree, flat)
        out = prim(*flat)
        return unflatten(out_tree, iter(out).__next__)

    def _op(self, tree, flat):
        found = self._ops.get(tree)
        if found is None:
            concrete = [x.val if type(x) is Tracer else x for x in flat]
            fn, args = unflatten(tree, iter(concrete).__next__)
            out_tree = structure(api.evaluate(self.f, *args))
            structured = _Structured(self.f, tree, out_tree)
            found = self._ops[tree] = (_checkpoint_op(structured, self.name), out_tree)
        return found


def _checkpoint_op(structured: _Structured, name: str) -> Primitive:
    flat_f = opaque(structured, structured.f)

    def forward(*flat):
        # the compiled forward of f (cached): on Dask it builds the graph lazily
        return tuple(api.evaluate(flat_f, *flat))

    forward.__name__ = f"checkpoint({name})"
    prim = Primitive(forward, pure=True, sizes_follow_arguments=True)

    @rrule(prim)
    def _(xp, *flat):
        out = prim(*flat)

        def pullback(gs):
            _, g = api._call("grad", flat_f, flat, tuple(gs), label=f"recompute {name}")
            return tuple(g[1:])

        return out, pullback

    @batching(prim)
    def _(xp, dims, *flat):
        # the batched block is a checkpointed block too (recomputed in the backward pass)
        from .vmap import vmap
        axes = tuple(0 if d is not None else None for d in dims)
        out = checkpoint(vmap(flat_f, in_axes=axes), name)(*flat)
        return tuple(out), tuple(0 for _ in out)

    return prim


