"""``vmap(f, in_axes=0, out_axes=0)``, as in JAX.

The call is traced on one example (the first slice of each batched argument),
with the batched inputs marked so that a Python branch on a batched value is
an error naming ``xp.where``; the per-example tape then goes through the
batching pass (`yota/batching/`) on the full arguments, and the batched tape
is compiled and cached like any other. Called on Tracers (inside ``grad``,
another ``vmap``, ``jvp``...), the compiled batched tape records onto the
outer trace, which differentiates or batches it in turn.

``in_axes``: an int or None for every argument, or a tuple with one entry per
argument, each an int, None, or a structure like the argument (a tuple, a
dict, an object of the same class) of those. Keyword arguments are batched
along axis 0, as in JAX. ``out_axes`` likewise for the result; an unbatched
result is broadcast along the batch unless its out axis is None.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from .. import backends, batching, cache, errors, passes
from ..cache import Variant
from ..flatten import (FloatLeaf, Leaf, Mapping, NamedTup, Obj, Seq, Static, children, compile_builder, count_leaves,
                       flatten_call)
from ..tape import Var
from ..tracer import Tracer
from ..tracing import spec, trace_call

__all__ = ["vmap"]


def vmap(f: Callable, in_axes: Any = 0, out_axes: Any = 0) -> Callable:
    """The batched function: ``f`` mapped over axis ``in_axes`` of its arguments."""
    if not callable(f):
        raise errors.ArgumentError(f"vmap needs a function, got {type(f).__name__}")

    @functools.wraps(f)
    def batched(*args: Any, **kwargs: Any):
        g = functools.partial(_with_kwargs, f, tuple(kwargs)) if kwargs else f
        full = args + tuple(kwargs.values())
        axes = (tuple(in_axes) + (0,) * len(kwargs)) if isinstance(in_axes, (tuple, list)) and kwargs else in_axes
        return _call(g, full, axes, out_axes)

    return batched


def _with_kwargs(f, names, *args):
    k = len(names)
    return f(*args[:len(args) - k], **dict(zip(names, args[len(args) - k:])))


# --------------------------------------------------------------------------- axes

def _leaf_axes(node, spec_) -> list:
    """The in axis of every leaf of one argument, from its ``in_axes`` entry."""
    out: list = []

    def walk(n, s):
        t = type(n)
        if t in (Leaf, FloatLeaf):
            if s is not None and not isinstance(s, int):
                raise errors.ArgumentError(f"vmap in_axes: {s!r} where an int or None was expected")
            out.append(s if t is Leaf else (None if s is None else _float_batched()))
            return
        kids = children(n)
        if s is None or isinstance(s, int):
            for _, c in kids:
                walk(c, s)
            return
        subs = _match(n, s)
        for (_, c), sc in zip(kids, subs):
            walk(c, sc)

    walk(node, spec_)
    return out


def _float_batched():
    raise errors.ArgumentError("vmap: a Python float has no axis to map over; pass an array, or None in "
                               "in_axes for that argument")


def _match(node, s) -> list:
    t = type(node)
    if t is Seq or t is NamedTup:
        if not isinstance(s, (tuple, list)) or len(s) != len(node.items):
            raise errors.ArgumentError(f"vmap in_axes: {s!r} does not match an argument with {len(node.items)} items")
        return list(s)
    if t is Mapping:
        if not isinstance(s, dict) or set(s) != set(node.keys):
            raise errors.ArgumentError(f"vmap in_axes: {s!r} does not match a dict with keys {list(node.keys)}")
        return [s[k] for k in node.keys]
    if t is Obj:
        if isinstance(s, dict):
            return [s.get(nm) for nm in node.names]
        if type(s) is node.cls:
            return [getattr(s, nm, None) for nm in node.names]
        raise errors.ArgumentError(f"vmap in_axes: give a {node.cls.__name__} (or a dict of its fields) of axes "
                                   f"for a {node.cls.__name__} argument, not {s!r}")
    raise errors.ArgumentError(f"vmap in_axes: {s!r} does not match the argument's structure")


def _axes_of_call(tree, in_axes) -> list:
    fnode, argsnode = tree.items
    axes = [None] * len(_leaf_axes(fnode, None))  # closures and bound objects are not mapped
    specs = in_axes if isinstance(in_axes, (tuple, list)) else [in_axes] * len(argsnode.items)
    if len(specs) != len(argsnode.items):
        raise errors.ArgumentError(f"vmap in_axes has {len(specs)} entries for {len(argsnode.items)} arguments")
    for node, s in zip(argsnode.items, specs):
        axes += _leaf_axes(node, s)
    return axes


def _normalize(axes, leaves) -> tuple:
    out = []
    for a, x in zip(axes, leaves):
        if a is None:
            out.append(None)
            continue
        nd = len(getattr(x, "shape", ()))
        if not -nd <= a < nd:
            raise errors.ArgumentError(f"vmap in_axes: axis {a} is out of range for an argument with {nd} axes")
        out.append(a % nd)
    return tuple(out)


# --------------------------------------------------------------------------- the call

def _call(f, args, in_axes, out_axes):
    tree, leaves = flatten_call(f, args, spec)
    axes = _normalize(_axes_of_call(tree, in_axes), leaves)
    sizes = {int(x.shape[a]) for x, a in zip(leaves, axes) if a is not None}
    if not sizes:
        raise errors.ArgumentError("vmap: no argument is mapped (every in_axes entry is None)")
    if len(sizes) > 1:
        raise errors.ArgumentError(f"vmap: the mapped axes have different sizes {sorted(sizes)}")
    size = sizes.pop()
    out_key = _hashable_axes(out_axes)
    key = ("vmap", tree, axes, out_key)
    entry = cache.lookup(key)
    nested = any(type(x) is Tracer for x in leaves)
    if entry is not None:
        backend = entry.backend or _tracing_backend(leaves)
        out = cache.run(entry, leaves, backend)
        if out is not cache.MISS:
            return out
    variant, first = _build(tree, leaves, axes, out_axes, size, nested)
    backend = variant.extra
    cache.store(key, None if nested else backend, variant, "yota.vmap")
    if nested:
        outer = _tracing_backend(leaves)
        return variant.finish(variant.fn(outer.namespace, outer, *leaves), outer)
    return variant.finish(first, backend)


def _tracing_backend(leaves):
    for x in leaves:
        if type(x) is Tracer:
            return x.ctx.ext_ns
    return backends.select(leaves)


def _hashable_axes(a):
    if isinstance(a, (list, tuple)):
        return tuple(_hashable_axes(x) for x in a)
    if isinstance(a, dict):
        return tuple(sorted((k, _hashable_axes(v)) for k, v in a.items()))
    return a


def _build(tree, leaves, axes, out_axes, size, nested):
    concrete = [x.val if type(x) is Tracer else x for x in leaves]
    backend = backends.select(concrete)
    examples = [_example(backend.namespace, x, a) for x, a in zip(concrete, axes)]
    traced = trace_call("trace", tree, examples, None, [], batched={i for i, a in enumerate(axes) if a is not None},
                        inner=nested)
    if traced.caught:
        raise errors.BatchedControlFlowError(
            f"inside vmap, the function caught an error the library raised on the first example "
            f"({traced.caught}); the other examples may not raise it, and one batch cannot take both "
            f"paths. Choose elementwise with xp.where, or move the try outside vmap.")
    tape = passes.optimize(traced.tape)
    ctx, outs, out_dims = batching.batch_tape(tape, concrete, axes, backend, size)
    out_axes_leaves = _out_axes(traced.out_tree, out_axes)
    final = []
    for o, d, oa in zip(outs, out_dims, out_axes_leaves):
        final.append(_place(ctx, ctx.ns, o, d, oa, size))  # recorded: the tracing namespace
    btape = passes.optimize(ctx.tape.freeze([_encode(ctx, o) for o in final], len(final)))
    fn = passes.lower(btape, None if nested else backend, "vmap")
    build = compile_builder(traced.out_tree, "value")
    variant = Variant(fn, lambda out, b: build(out), traced.guards, traced.rules | ctx.rules_used, [])
    variant.extra = backend
    return variant, [o.val if type(o) is Tracer else o for o in final]


def _example(xp, x, a):
    """The example the function is traced on: the first along the mapped axis, or zeros of an
    example's shape for an empty batch (the batched tape then runs on no examples, as in JAX)."""
    if a is None:
        return x
    if x.shape[a] == 0:
        return xp.zeros(tuple(s for i, s in enumerate(x.shape) if i != a), dtype=x.dtype)
    return x[(slice(None),) * a + (0, ...)]


def _encode(ctx, o):
    if type(o) is Tracer:
        return Var(o.vid)
    return ctx.tape.const(o, repr(o)) if not isinstance(o, (bool, int, str, type(None))) else o


def _out_axes(out_tree, out_axes) -> list:
    if out_axes is None or isinstance(out_axes, int):
        return [out_axes] * count_leaves(out_tree)
    return _leaf_axes_out(out_tree, out_axes)


def _leaf_axes_out(node, s) -> list:
    out: list = []

    def walk(n, sp):
        if type(n) in (Leaf, FloatLeaf) or type(n) is Static:
            out.append(sp)
            return
        if sp is None or isinstance(sp, int):
            for _, c in children(n):
                walk(c, sp)
            return
        for (_, c), sc in zip(children(n), _match(n, sp)):
            walk(c, sc)

    walk(node, s)
    return out


def _place(ctx, xp, o, d, out_axis, size):
    if type(o) is not Tracer:
        if out_axis is None:
            return o
        o = xp.asarray(o)
        d = None
    if out_axis is None:
        if d is not None:
            raise errors.ArgumentError("vmap out_axes=None for a result that differs between the examples; "
                                       "give it an out axis")
        return o
    if d is None:  # the same for every example: broadcast along the batch, as JAX does
        o = xp.broadcast_to(xp.expand_dims(o, axis=0), (size,) + tuple(o.shape))
    nd = o.ndim
    if not -nd <= out_axis < nd:
        raise errors.ArgumentError(f"vmap out_axes: axis {out_axis} is out of range for a result with {nd} axes")
    out_axis %= nd
    return o if out_axis == 0 else xp.moveaxis(o, 0, out_axis)

