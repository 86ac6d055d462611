"""Elementwise functions: the standard's broadcasting does the batching, once
every batched operand has the rank of the result (its batch axis in front)."""
from __future__ import annotations

from .. import ops
from ..primitives import stop_gradient
from ._util import aligned, batch_size_any, batched, example_ndim, is_array, namespace_fn


def _example_rank(args, dims) -> int:
    return max((example_ndim(a, d) for a, d in zip(args, dims) if is_array(a)), default=0)


def elementwise(name):
    def rule(xp, dims, *args, **kwargs):
        r = _example_rank(args, dims)
        for k, a in kwargs.items():  # clip's min/max may be keywords
            if is_array(a):
                r = max(r, example_ndim(a, dims.kw.get(k)))
        if name == "clip" and dims[0] is None:
            # clip's result has x's shape (array-api-strict does not broadcast x
            # against its bounds): x takes the batch's shape first
            args = (batched(xp, args[0], None, batch_size_any(dims, args, kwargs)),) + args[1:]
            dims = type(dims)((0,) + tuple(dims[1:]), dims.kw)
        new = tuple(aligned(xp, a, d, r) for a, d in zip(args, dims))
        kw = {k: aligned(xp, a, dims.kw.get(k), r) for k, a in kwargs.items()}
        return namespace_fn(xp, name)(*new, **kw), 0

    rule.__name__ = f"batch_{name}"
    return rule


for _name, _entry in list(ops.OPS.items()):
    if isinstance(_name, str) and _entry.elementwise:
        ops.batching(_name)(elementwise(_name))

# astype, where and stop_gradient batch the same way
ops.batching("astype")(elementwise("astype"))
ops.batching("where")(elementwise("where"))


@ops.batching("stop_gradient")
def _(xp, dims, x):
    return stop_gradient(x), dims[0]
