"""Batching: the tape pass behind `yota.vmap`.

`batch_tape` takes a per-example tape (traced on one example) and the full
batched inputs, and interprets the tape op by op on them, recording the
batched computation onto a new tape: an op none of whose arguments is
batched is recorded as it is; an op with a batched argument calls its
batching rule from the op table. Batched values always carry the batch on
axis 0 (inputs are moved there first), so a rule only ever sees batched
arguments of the form ``(B, *example_shape)``.

A batching rule is ``rule(xp, dims, *args, **kwargs) -> (out, out_dims)``:
``dims[i]`` is ``0`` where positional argument ``i`` is batched and None
where not (for a sequence argument, a tuple of those), ``dims.kw[name]`` the
same for keyword arguments; ``xp`` records plain calls; ``out_dims`` is ``0``
or None (a tuple for several results). Rules live by family in this package
and register with ``@ops.batching(name)``; `_util.py` has the helpers they
share. An op without a rule (a user's primitive) runs once per example.
"""
from __future__ import annotations

from typing import Any, Sequence

from .. import errors, ops
from ..tape import CALL, GUARD, Const, DeviceOf, DType, Op, Tape, Var
from ..tracer import PRIM, Context, Tracer

__all__ = ["batch_tape", "Dims"]


class Dims(tuple):
    """Per positional argument: 0 (batched) or None; ``kw`` for keyword arguments."""

    kw: dict

    def __new__(cls, items, kw=None):
        self = super().__new__(cls, items)
        self.kw = kw or {}
        return self

    def __getitem__(self, i):
        if isinstance(i, str):
            return self.kw.get(i)
        try:
            return tuple.__getitem__(self, i)
        except IndexError:
            return None


def _dim_of(x, dim_of_var):
    if type(x) is Tracer:
        return dim_of_var.get(id(x))
    if isinstance(x, (tuple, list)):
        ds = tuple(_dim_of(y, dim_of_var) for y in x)
        return ds if any(d is not None for d in ds) else None
    return None


def batch_tape(tape: Tape, values: Sequence[Any], in_dims: Sequence[int | None], backend,
               size: int) -> tuple[Context, list, list]:
    """Record the batched computation: the context holding it, the output
    Tracers (or literals), and each output's batch dim (0 or None).

    ``values`` are the full inputs (one per tape input), ``in_dims`` where each
    carries the batch (an axis, or None), ``size`` the batch size.
    """
    xp = backend.namespace
    ctx = Context(xp, backend, tape.title + " (vmap)")
    ctx.mode = PRIM
    env: dict[int, Any] = {}
    dims: dict[int, int | None] = {}  # var -> batch dim of its batched value
    by_id: dict[int, int | None] = {}  # id(tracer) -> dim, for the rules' arguments
    for v, name, val, d in zip(tape.inputs, tape.input_names, values, in_dims):
        t = ctx.input(val, name, diff=False)
        if d is not None and d != 0:
            t = ctx.record("moveaxis", (t, d, 0), {})
        env[v], dims[v] = t, (0 if d is not None else None)
    for op in tape.ops:
        if op.kind == GUARD:
            var, expected = op.args
            if op.fn == "shape" and dims.get(var.id) is not None:
                continue  # the batched op that made it checked its own size (a rule's data-dependent call)
            if dims.get(var.id) is not None:
                raise errors.BatchedControlFlowError("vmap: a guard on a batched value (use xp.where)",
                                                     where=op.loc or None)
            ctx.tape.append(Op(GUARD, (), op.fn, (Var(env[var.id].vid), expected), section=op.section, loc=op.loc))
            continue
        if op.kind != CALL:
            continue
        fn = tape.consts[op.fn.index] if isinstance(op.fn, Const) else op.fn
        args = _decode(op.args, env, tape, backend)
        kwargs = _decode(op.kwargs, env, tape, backend)
        by_id.clear()
        for v in op.uses():
            if v in env and type(env[v]) is Tracer:
                by_id[id(env[v])] = dims.get(v)
        adims = Dims([_dim_of(a, by_id) for a in args], {k: _dim_of(a, by_id) for k, a in kwargs.items()})
        if all(d is None for d in adims) and all(d is None for d in adims.kw.values()):
            out, odims = ctx.record(fn, args, kwargs), None
        else:
            entry = ops.lookup(fn)
            rule = entry.batch if entry is not None else None
            ctx.note = f"vmap {entry.label if entry is not None else fn}"
            try:
                out, odims = rule(ctx.ns, adims, *args, **kwargs) if rule is not None else \
                    _per_example(ctx, fn, args, kwargs, adims, size)
            finally:
                ctx.note = ""
        _bind(op.outs, out, odims, env, dims, op.out_type is not None)
    outs, out_dims = [], []
    for o in tape.outputs:
        if isinstance(o, Var):
            t = env[o.id]
            outs.append(t)
            out_dims.append(dims.get(o.id))
        else:  # a literal or a constant of the tape (a value no input reaches): the same for every example
            outs.append(_decode(o, env, tape, backend))
            out_dims.append(None)
    return ctx, outs, out_dims


def _decode(x, env, tape, backend):
    """Tape arguments back to values: variables, dtypes by name, devices, constants."""
    def walk(a):
        t = type(a)
        if t is Var:
            return env[a.id]
        if t is DType:
            return getattr(backend.namespace, a.name)
        if t is DeviceOf:
            return backend.device(env[a.var.id].val)
        if t is Const:
            return tape.consts[a.index]
        if t is tuple:
            return tuple(walk(y) for y in a)
        if t is list:
            return [walk(y) for y in a]
        if t is dict:
            return {k: walk(v) for k, v in a.items()}
        if t is slice:
            return slice(walk(a.start), walk(a.stop), walk(a.step))
        return a

    return walk(x)


def _bind(outs, out, odims, env, dims, several):
    if not several:
        env[outs[0]] = out
        dims[outs[0]] = odims if not isinstance(odims, tuple) else odims[0]
        return
    items = list(out)
    ds = odims if isinstance(odims, (tuple, list)) else (odims,) * len(items)
    for v, t, d in zip(outs, items, ds):
        env[v], dims[v] = t, d


def _per_example(ctx, fn, args, kwargs, dims, size):
    """No batching rule: run the op once per example and stack the results."""
    xp = ctx.ns

    def pick(a, d, i):
        if d is None:
            return a
        if isinstance(d, tuple):
            return type(a)(pick(x, dx, i) for x, dx in zip(a, d))
        return a[i, ...]

    results = []
    for i in range(size):
        ai = tuple(pick(a, dims[j], i) for j, a in enumerate(args))
        ki = {k: pick(v, dims.kw.get(k), i) for k, v in kwargs.items()}
        results.append(ctx.record(fn, ai, ki))
    first = results[0]
    if isinstance(first, (tuple, list)):
        stacked = [xp.stack([r[j] for r in results]) for j in range(len(first))]
        return type(first)(stacked) if type(first) in (tuple, list) else tuple(stacked), 0
    return xp.stack(results), 0


# the rules, by family
from . import creation, elementwise, fft, indexing, linalg, manipulation, reductions, searching  # noqa: E402,F401
