"""From a `Traced` call to a cache `Variant`: the pass pipeline, the split of a
vjp into its two halves, code generation for the backend, and the function
that turns the flat outputs back into ``(value, grads)``.
"""
from __future__ import annotations

import threading
from typing import Callable

from . import collector, errors, passes, views
from .cache import Variant
from .flatten import Seq, compile_builder, count_leaves, flatten
from .tape import GUARD, Tape, Var
from .tangents import NOTANGENT, ZERO
from .tracing import Traced, spec

__all__ = ["make_variant", "make_finisher", "split_vjp"]


class _CompileOnFirstUse:
    """The compiled function of a variant, made when the variant is first run.

    The first call's result comes from the trace itself, so optimizing and
    compiling can wait for the second call, and a call made once (a shape seen
    once) never pays for them: for a long trace they cost as much as tracing."""

    __slots__ = ("todo", "fn", "lock", "variant")

    def __init__(self, traced: Traced):
        self.todo = (traced.tape, traced.backend, traced.kind)  # not the trace's values: they may be large
        self.fn = None
        self.lock = threading.Lock()
        self.variant = None  # set by make_variant; its fn becomes the compiled one (no wrapper per call)

    def __call__(self, xp, ext, *leaves):
        fn = self.fn
        if fn is None:
            with self.lock:
                if self.fn is None:
                    tape, backend, kind = self.todo
                    try:
                        with collector.paused():  # (a long tape's passes make as many objects as its trace)
                            self.fn = passes.lower(passes.optimize(tape), backend, kind)
                    except errors.YotaError:
                        raise
                    except Exception as e:  # yota's own failure, not the values': never taken for one
                        raise errors.YotaError(f"compiling the traced tape failed: {type(e).__name__}: {e}") from e
                    self.todo = None
                    if self.variant is not None:
                        self.variant.fn = self.fn
                        self.variant = None
                fn = self.fn
        return fn(xp, ext, *leaves)


def make_variant(traced: Traced, tape: Tape | None = None) -> Variant:
    """Optimize, lower and wrap ``traced``; ``tape`` overrides the optimized tape.

    A plain call compiles on first use (see `_CompileOnFirstUse`); a vjp, a
    linearize and a nested call run their compiled function at once."""
    locs = [op.loc for op in (tape or traced.tape).ops if op.kind == GUARD]
    if tape is None and not traced.nested and traced.kind in ("trace", "grad"):
        lazy = _CompileOnFirstUse(traced)
        lazy.variant = Variant(lazy, make_finisher(traced), traced.guards, traced.rules, locs)
        lazy.variant.apart = _apart(traced)
        return lazy.variant
    tape = passes.optimize(traced.tape) if tape is None else tape
    backend = None if traced.nested else traced.backend
    if traced.kind in ("vjp", "linearize"):
        if traced.kind == "linearize":  # value: y; the tangent half: J v from the tangent inputs
            n_y = count_leaves(traced.out_tree.items[0])
            tape = tape.replace(n_value=n_y)
            seeds = list(tape.inputs[len(tape.inputs) - traced.split:])
        else:
            seeds = traced.seed_vars
        fwd_tape, bwd_tape = split_vjp(tape, seeds)
        fn = passes.lower(fwd_tape, backend, "forward")
        if traced.kind == "linearize":  # the call's tangent leaves are the pushforward's, not the forward's
            fn = _drop_last(fn, traced.split)
        bwd = passes.lower(bwd_tape, backend, "backward" if traced.kind == "vjp" else "tangent")
        inputs = set(fwd_tape.inputs)
        callers = tuple(i for i, o in enumerate(fwd_tape.outputs[fwd_tape.n_value:])
                        if isinstance(o, Var) and o.id in inputs)
        finish = make_finisher(traced, bwd, callers)
    else:
        fn = passes.lower(tape, backend, traced.kind)
        finish = make_finisher(traced)
    v = Variant(fn, finish, traced.guards, traced.rules, locs)
    v.extra = tape
    v.apart = _apart(traced)
    return v


def _apart(traced: Traced):
    """For a trace that wrote into an argument's memory: the check that a call's arguments share no
    memory, with each other or with an array read outside them. The trace followed the plain
    program's writes for the sharing it saw (none: a call whose arguments share memory and that
    writes is not cached); another call's views (``f(x, x[:2])`` after ``f(x, y)``) would see
    writes that the tape does not make."""
    if not traced.writes_memory or traced.nested:
        return None
    owner = traced.backend.memory_owner
    # the guards hold these arrays by identity: the same ones on every call the variant serves
    outside = traced.guards.arrays() if traced.guards is not None else []
    return lambda leaves: views.apart(owner, leaves, outside)


def _drop_last(fn, n):
    def forward(xp, ext, *leaves):
        return fn(xp, ext, *leaves[:len(leaves) - n])
    return forward


def _conversions(traced: Traced, n_grads: int) -> dict:
    """Per gradient leaf, what makes it mirror its argument: a float for a Python
    float (a lazy library keeps a lazy 0-d array), an array for a 0-d array."""
    if traced.nested:
        return {}
    backend = traced.backend
    conv: dict = {}
    if not backend.is_lazy:
        for i in traced.float_leaves:
            conv[i] = _float_or_zero(backend.to_float)
    as_array = backend.as_array
    if getattr(as_array, "__name__", "") != "_same":
        floats = set(traced.float_leaves)
        tape = traced.tape
        for i in range(n_grads):
            # only a 0-d gradient can come back as a scalar: the others cost nothing per call
            t = tape.types.get(tape.inputs[i]) if i < len(tape.inputs) else None
            if i not in floats and (t is None or t.shape == ()):
                conv[i] = _array_or_zero(as_array)
    return conv


def _float_or_zero(to_float):
    def f(g):
        return g if g is ZERO or g is NOTANGENT else to_float(g)
    return f


def _array_or_zero(as_array):
    def f(g):
        return g if g is ZERO or g is NOTANGENT else as_array(g)
    return f


def _own_copies(residuals, callers: tuple, backend) -> list:
    """The residuals that may be the caller's own memory, copied where the library's arrays can be
    written: an argument the backward half reads (``x`` of ``x @ W``: ``callers``), and any view
    (``x.T``, ``x[:, :1]``: memory owned by another array). The pullback then keeps the values of
    the call, as JAX's does, whatever the caller writes into its arrays later."""
    residuals = list(residuals)
    if backend is None:
        return residuals  # nested: the residuals are the outer trace's values
    owner, xp = backend.memory_owner, backend.namespace
    for i, r in enumerate(residuals):
        o = owner(r)
        if o is not None and (o is not r or i in callers):
            residuals[i] = xp.asarray(r, copy=True)
    return residuals


def _still_read_as_traced(traced: Traced) -> None:
    """A global array the backward half reads (by reference, as the tape does) written in place
    since the call: the pullback would compute with its new values."""
    g = traced.guards
    if g is not None and len(g) and not g.arrays_unchanged():
        raise errors.StaleTapeError(
            "an array the function reads outside its arguments (a global, a class attribute) was written "
            "in place since this vjp/linearize call, and the pullback reads it: it would compute with the "
            "new values. Call the pullback before changing the array, or pass the array as an argument "
            "(the pullback then keeps the values of the call).")


def make_finisher(traced: Traced, bwd: Callable | None = None, callers: tuple = ()) -> Callable:
    tree, out_tree, n_value = traced.tree, traced.out_tree, traced.n_value
    fnode, argsnode = tree.items
    grad_tree = Seq(tuple, (fnode,) + tuple(argsnode.items))
    n_grads = len(traced.tape.outputs) - n_value
    build_grads = compile_builder(grad_tree, "tangent", _conversions(traced, n_grads))
    build_value = compile_builder(out_tree, "value")

    def grads_of(flat):
        g = build_grads(flat)
        return g if g[0] is not NOTANGENT else (ZERO, *g[1:])

    kind = traced.kind
    if kind == "trace":
        return lambda out, backend: build_value(out)
    if kind == "linearize":
        return _linearize_finisher(traced, bwd, callers)
    if kind == "grad":
        return lambda out, backend: (build_value(out), grads_of(out[n_value:]))

    n_arrays = traced.n_out_arrays

    def finish_vjp(out, backend):
        value = build_value(out)
        residuals = _own_copies(out[n_value:], callers, None if traced.nested else backend)
        xp = backend.namespace

        def pullback(cotangent):
            _still_read_as_traced(traced)
            _, cleaves = flatten(cotangent, spec)
            if len(cleaves) != n_arrays:
                raise errors.SeedError(f"the cotangent passed to the pullback has {len(cleaves)} arrays; the "
                                       f"output has {n_arrays}")
            return grads_of(bwd(xp, backend, *residuals, *cleaves))

        return value, pullback

    return finish_vjp


def _linearize_finisher(traced: Traced, bwd: Callable, callers: tuple = ()) -> Callable:
    y_node = traced.out_tree.items[0]
    n_y = count_leaves(y_node)
    build_y = compile_builder(y_node, "value")
    build_jv = compile_builder(traced.out_tree.items[1], "value")
    n_t = traced.split

    def finish(out, backend):
        value = build_y(out[:n_y])
        residuals = _own_copies(out[n_y:], callers, None if traced.nested else backend)
        xp = backend.namespace

        def pushforward(tangents):
            _still_read_as_traced(traced)
            _, tleaves = flatten(tangents, spec)
            if len(tleaves) != n_t:
                raise errors.ArgumentError(f"the tangents have {len(tleaves)} arrays; the primals have {n_t}")
            return build_jv(bwd(xp, backend, *residuals, *tleaves))

        return value, pushforward

    return finish


def split_vjp(tape: Tape, seed_vars: list) -> tuple[Tape, Tape]:
    """Two tapes from one: the forward half returns the value and the residuals
    the backward half needs; the backward half takes them and the cotangent."""
    seeds = set(seed_vars)
    dep = set(seeds)
    fwd_ops, bwd_ops = [], []
    for op in tape.ops:
        if any(v in dep for v in op.uses()):
            dep.update(op.outs)
            bwd_ops.append(op)
        else:
            fwd_ops.append(op)
    grads = tape.outputs[tape.n_value:]
    needed: list[int] = []
    seen: set = set()
    for op in bwd_ops:
        for v in op.uses():
            if v not in dep and v not in seen:
                seen.add(v)
                needed.append(v)
    for g in grads:
        if isinstance(g, Var) and g.id not in dep and g.id not in seen:
            seen.add(g.id)
            needed.append(g.id)
    fwd = tape.replace(title=tape.title + " forward", inputs=tuple(v for v in tape.inputs if v not in seeds),
                       input_names=tuple(n for v, n in zip(tape.inputs, tape.input_names) if v not in seeds),
                       ops=tuple(fwd_ops), outputs=tape.outputs[:tape.n_value] + tuple(Var(v) for v in needed))
    bwd = tape.replace(title=tape.title + " backward",
                       inputs=tuple(needed) + tuple(v for v in tape.inputs if v in seeds),
                       input_names=tuple(f"%{v}" for v in needed) + tuple(
                           n for v, n in zip(tape.inputs, tape.input_names) if v in seeds),
                       ops=tuple(bwd_ops), outputs=tuple(grads), n_value=0)
    return fwd, bwd

