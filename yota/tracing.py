"""Tracing one call: the user's function runs on Tracers, and (for gradients)
the reverse sweep is recorded after it.

`trace_call` takes the flattened ``(f, args)`` of a call and returns a
`Traced`: the tape as recorded (not yet optimized), the structure of the
result, which leaves get gradients, the concrete outputs of this first call,
the rules applied and the globals read. `program.py` turns it into a runnable
variant.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from . import backends, errors, guards, ops, writes
from .flatten import Func, Method, Obj, Partial, Static, count_leaves, flatten, leaf_paths, unflatten
from .gradtape import backward
from .tape import Tape, Var
from .tangents import NOTANGENT, ZERO
from .tracer import Context, Tracer, active_contexts, is_float

__all__ = ["Traced", "trace_call", "spec", "out_spec", "seed_key", "names", "title", "owners", "device_of"]


@dataclass
class Traced:
    kind: str                       # "trace", "grad", "vjp" or "linearize"
    tape: Tape                      # as recorded
    tree: Any                       # structure of (f, args)
    out_tree: Any                   # structure of f's result
    backend: Any
    n_value: int                    # value leaves at the front of the tape's outputs
    n_out_arrays: int               # array leaves of the result (a cotangent has one per array)
    float_leaves: list = field(default_factory=list)   # argument leaves that are Python floats
    seed_vars: list = field(default_factory=list)      # vjp: the cotangent inputs
    outputs: list = field(default_factory=list)        # this call's concrete flat outputs
    rules: set = field(default_factory=set)
    guards: Any = None
    nested: bool = False            # traced inside another trace (inputs were Tracers)
    wrote: bool = False             # it wrote into the caller's objects: not cached (a cached call would not)
    split: int = 0                  # linearize: the trailing leaves that are tangents
    writes_memory: bool = False     # it wrote into an argument's memory: the arguments' sharing matters
    shared_memory: bool = False     # ... and arguments shared memory in this call: not cached
    caught: str = ""                # where the code caught an error the library raised on these values


def spec(x):
    if type(x) is Tracer:
        v = x.val
        device = device_of(v)
        return (Tracer, type(v), device(v) if device is not None else None, tuple(getattr(v, "shape", ())),
                getattr(v, "dtype", None))
    device = device_of(x)
    if device is None:
        return (type(x), x.shape, x.dtype)
    return (type(x), device(x), x.shape, x.dtype)


_DEVICES: dict = {}


def device_of(x):
    """None for an array of a library with one device (NumPy, Dask); else the function giving an
    array's device as a part of the key: the traced code may branch on ``x.device`` (``if x.device
    == cpu``), so the same shapes on two devices are two keys."""
    t = type(x)
    hit = _DEVICES.get(t, _DEVICES)
    if hit is not _DEVICES:
        return hit
    b = backends.backend_of(x) if hasattr(x, "shape") else None
    if b is None or b.one_device:
        _DEVICES[t] = None
        return None

    def key(a, device=b.device):
        d = device(a)
        try:
            hash(d)
            return d
        except TypeError:
            return repr(d)

    _DEVICES[t] = key
    return key


def out_spec(x):
    return ("out",)


def seed_key(seed):
    if seed is None:
        return None, []
    if isinstance(seed, str):
        if seed != "ones":
            raise errors.SeedError(f"seed={seed!r} is not understood: use None (scalar output), "
                                   f"'ones', or an array shaped like the output")
        return "ones", []
    tree, leaves = flatten(seed, spec)
    return ("array", tree), leaves


# --------------------------------------------------------------------------- names

def _fn_object(fnode):
    t = type(fnode)
    if t is Func:
        return fnode.carry.obj
    if t is Method:
        return fnode.func
    if t is Partial:
        return _fn_object(fnode.func)
    if t is Obj:
        return getattr(fnode.cls, "__call__", None)
    if t is Static:
        return fnode.carry.obj if fnode.carry is not None else fnode.value
    return None


def _params(fobj) -> list[str]:
    try:
        return [p.name for p in inspect.signature(fobj).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def names(tree) -> list[str]:
    """Human names of every leaf of ``(f, args)``: ``m.W``, ``X``, ``loss.w``."""
    fnode, argsnode = tree.items
    fobj = _fn_object(fnode)
    fname = getattr(fobj, "__name__", None) or "f"
    params = _params(fobj) if fobj is not None else []
    if type(fnode) in (Method, Obj) and params:
        params = params[1:]
    out = leaf_paths(fnode, fname)
    for i, node in enumerate(argsnode.items):
        out += leaf_paths(node, params[i] if i < len(params) else f"arg{i}")
    return out


def title(tree) -> str:
    fnode, argsnode = tree.items
    fobj = _fn_object(fnode)
    name = getattr(fobj, "__qualname__", None) or getattr(type(fobj), "__name__", "f")
    params = _params(fobj) if fobj is not None else []
    if type(fnode) in (Method, Obj) and params:
        params = params[1:]
    shown = [params[i] if i < len(params) else f"arg{i}" for i in range(len(argsnode.items))]
    return f"{name}({', '.join(shown)})"


def owners(tree) -> list[int]:
    """For each leaf, its position in the gradient tuple: 0 for f, i + 1 for args[i]."""
    fnode, argsnode = tree.items
    out = [0] * count_leaves(fnode)
    for i, node in enumerate(argsnode.items):
        out += [i + 1] * count_leaves(node)
    return out


# --------------------------------------------------------------------------- tracing

def trace_call(kind: str, tree, leaves: list, skey, sleaves: list, wrt=None, aux: bool = False,
               batched: set | None = None, origin=None, inner: bool = False) -> Traced:
    """``origin``: the call ``(f, args)`` that ``tree`` was flattened from, whose objects take
    the trace's writes (`yota.writes`). ``inner``: the arguments are values of an enclosing
    trace (vmap inside a traced function passes their examples)."""
    made: list = []
    try:
        return _trace_call(kind, tree, leaves, skey, sleaves, wrt, aux, batched, made, origin, inner)
    finally:
        for ctx in made:  # the rules' closures and snapshots form cycles with the context: free them now
            ctx.release()


def _trace_call(kind, tree, leaves, skey, sleaves, wrt, aux, batched, made, origin=None, inner=False) -> Traced:
    """Trace one call. ``kind``: "trace" (the forward tape), "grad" (forward and
    backward; the seed from ``skey``/``sleaves``) or "vjp" (the cotangents become
    inputs). With ``aux`` the function returns ``(value, aux)`` and only the value
    is differentiated. ``batched`` (vmap) names the leaves that stand for a
    batch: a branch on a value depending on them is an error."""
    nested = any(type(x) is Tracer for x in leaves) or any(type(x) is Tracer for x in sleaves)
    real = [x.val if type(x) is Tracer else x for x in leaves]
    sreal = [x.val if type(x) is Tracer else x for x in sleaves]
    backend = backends.select(real + sreal)
    backend.check_inputs(real)
    if backend.prepare_inputs is not None:
        real = list(backend.prepare_inputs(real))
    xp = backend.namespace
    ctx = Context(xp, backend, title(tree))
    made.append(ctx)
    own = owners(tree)
    tracers = []
    forward_only = kind in ("trace", "linearize")  # nothing is differentiated here: no rules to run
    for v, n, owner in zip(real, names(tree), own):
        diff = not forward_only and is_float(v) and (wrt is None or owner in wrt)
        tracers.append(ctx.input(v, n, diff))
    # The user's code may rebind a tracer (x[i] = ...); the inputs are these:
    inputs = [(t.vid, t.val) for t in tracers]
    if batched is not None:
        ctx.batched = {tracers[i].vid for i in batched}
        ctx.on_guard = _no_batched_branches(ctx)
    record: list = []
    f2, args2 = unflatten(tree, iter(tracers).__next__, record)
    read = guards.collect(tree)
    ctx.views.inputs(tracers)
    ctx.views.guards = read
    stack, raised = active_contexts(), errors.watched()
    stack.append(ctx)
    raised.append(ctx.raised)
    try:
        out = f2(*args2)
    finally:
        stack.pop()
        raised.pop()
    _check_caught(ctx)
    caught = _caught_failure(ctx)
    if nested or inner:
        _check_inner_writes(ctx, tracers, inputs)
    wrote = writes.after_trace(ctx, record, writes.originals(tree, origin) if origin is not None else None,
                               [(t, vid, leaf) for t, (vid, _), leaf in zip(tracers, inputs, leaves)],
                               writes.passed_through(tree), read)
    _check_output(out, kind)
    # the rules the trace applied ran the user's code too (a rule of a primitive reading a global)
    read = read + guards.collect(None, [e.rule.fn for e in map(ops.lookup, ctx.rules_used)
                                        if e is not None and e.rule is not None])
    out_tree, out_leaves = flatten(out, out_spec)
    if ctx.views.stale:
        ctx.views.check(out_leaves)
    outputs = [_encode_out(ctx, o) for o in out_leaves]
    traced = Traced(kind, None, tree, out_tree, backend, len(outputs),
                    sum(1 for o in out_leaves if hasattr(o, "shape")), guards=read, nested=nested)
    traced.wrote = wrote
    traced.caught = caught
    traced.writes_memory, traced.shared_memory = ctx.views.written, ctx.views.shared_inputs
    concrete = [_concrete(o) for o in out_leaves]
    if kind in ("trace", "linearize"):
        traced.tape = ctx.tape.freeze(outputs, len(outputs))
        traced.outputs = concrete
        traced.rules = ctx.rules_used | _recorded(traced.tape)
        return traced
    if aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise errors.OutputError(f"with has_aux=True the function must return a pair (value, aux); it "
                                     f"returned {type(out).__name__}")
        n_diff = len(flatten(out[0], out_spec)[1])
        seeds = _seeds(ctx, kind, out_leaves[:n_diff], skey, sreal) + [None] * (len(out_leaves) - n_diff)
    else:
        seeds = _seeds(ctx, kind, out_leaves, skey, sreal)
    ct = backward(ctx, out_leaves, seeds)
    if aux:
        traced.n_out_arrays = sum(1 for o in out_leaves[:n_diff] if hasattr(o, "shape"))
    grads, concrete_grads = [], []
    for i, (var, val) in enumerate(inputs):
        if not is_float(val) or (wrt is not None and own[i] not in wrt):
            grads.append(ctx.tape.const(NOTANGENT, "NoTangent()"))
            concrete_grads.append(NOTANGENT)
            continue
        if isinstance(val, float):
            traced.float_leaves.append(i)
        c = ct.get(var)
        if c is None:
            grads.append(ctx.tape.const(ZERO, "ZeroTangent()"))
            concrete_grads.append(ZERO)
        else:
            grads.append(Var(c.vid))
            concrete_grads.append(c.val)
    traced.tape = ctx.tape.freeze(outputs + grads, len(outputs))
    traced.seed_vars = [s.vid for s in seeds if type(s) is Tracer] if kind == "vjp" else []
    traced.outputs = concrete + concrete_grads
    traced.rules = ctx.rules_used | _recorded(traced.tape)
    return traced


def _check_inner_writes(ctx, tracers, inputs):
    """A transformation inside a traced function (an inner grad, vmap) ran a function that wrote
    into its argument: in NumPy the enclosing code's array changes too, which the enclosing trace
    would not see."""
    for t, (vid, _) in zip(tracers, inputs):
        if t.vid != vid or id(t) in ctx.views.stale:
            raise errors.UntraceableError(
                "a write into an argument of a function that a transformation runs inside a traced "
                "function (yota.grad, vjp, vmap or checkpoint of it)",
                "in NumPy the write changes the enclosing code's array as well, which the enclosing trace "
                "cannot follow. Copy the argument before writing into it: x = xp.asarray(x, copy=True)")


def _check_caught(ctx):
    """The traced code returned, so each error yota raised to it was caught somewhere: by the user's
    code (the frame its traceback starts at), that code then did what the plain call does not."""
    for e in ctx.raised:
        tb = e.__traceback__
        if tb is not None and errors._user_file(tb.tb_frame.f_code.co_filename):
            raise errors.CaughtError(e, f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}")


def _caught_failure(ctx) -> str:
    """Where the traced code caught an error that the library raised on this trace's values
    (``except LinAlgError:`` around a Cholesky factorization, ``except FloatingPointError``), or "".
    Such a trace is the plain call's for values that raise there, and only for those: it is not
    cached (a cached call whose operation raises traces again instead, `cache.run`)."""
    for e in ctx.failed:
        tb = e.__traceback__
        if tb is not None and errors._user_file(tb.tb_frame.f_code.co_filename):
            return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
    return ""


def _no_batched_branches(ctx):
    def check(var, kind):
        if var in ctx.batched:
            what = "its size depends on the values" if kind == "shape" else f"a Python {kind} decides a branch"
            raise errors.BatchedControlFlowError(
                f"inside vmap, a value that differs between the examples of the batch is used where Python "
                f"needs one answer ({what}); both branches cannot be taken at once. Write the choice "
                f"elementwise with xp.where(cond, a, b) (JAX: jnp.where), or move the branch outside vmap.")
    return check


def _recorded(tape: Tape) -> set:
    return {f for f in tape.functions_used() if ops.hashable(f)}


_NOT_VALUES = (type(None), str, bytes)


def _check_output(out, kind):
    if inspect.isgenerator(out) or inspect.iscoroutine(out) or inspect.isasyncgen(out):
        if inspect.iscoroutine(out):
            out.close()
        raise errors.OutputError(f"the function returned a {type(out).__name__}: yota differentiates what a "
                                 f"function returns, so it must return its arrays (a generator or coroutine "
                                 f"would run after the trace). Collect the values and return them.")
    if kind != "trace" and isinstance(out, _NOT_VALUES):
        raise errors.OutputError(f"the function returned {out!r}, not an array or a structure of arrays"
                                 + (" (a missing `return`?)" if out is None else "") + ".")

    def labelled(o, depth=0):
        # a labelled array (an object with .dims and an array in .data), found by duck typing
        # in the output or its tuples, lists and dicts
        if isinstance(o, (tuple, list)) and depth < 8:
            return next((hit for item in o if (hit := labelled(item, depth + 1)) is not None), None)
        if isinstance(o, dict) and depth < 8:
            return labelled(list(o.values()), depth + 1)
        if type(o) is Tracer or isinstance(o, _NOT_VALUES + (int, float, complex)):
            return None
        dims, data = getattr(o, "dims", None), getattr(o, "data", None)
        if isinstance(dims, tuple) and (type(data) is Tracer or (hasattr(data, "shape") and hasattr(data, "dtype"))):
            return o
        return None

    hit = labelled(out)
    if hit is not None:
        # flattened, its coordinates and attributes would count as outputs of their own
        raise errors.OutputError(
            f"the function returned a labelled array ({type(hit).__name__} with dims {tuple(hit.dims)!r}), "
            f"which is not an array-API array: yota differentiates what array-API code returns. Return its "
            f"array, `.data` (e.g. `return result.data`), and put the labels back outside the differentiated "
            f"function.")


def _concrete(o):
    return o.val if type(o) is Tracer else o


def _encode_out(ctx, o):
    if type(o) is Tracer:
        if o.ctx is not ctx:
            raise errors.ForeignTracerError()
        return Var(o.vid)
    if isinstance(o, (bool, int, str)) or o is None:
        return o
    if hasattr(o, "shape") and not isinstance(o, (float, complex)):
        if ctx.ext.embeds_tracers(o):
            raise errors.WrappedTracerError(backends.library_name(o))
        lib = backends.library_name(o)
        if lib != ctx.ext.name and lib not in getattr(ctx.ext, "result_libraries", ()):
            # another library's array that yota never saw being made: it was
            # computed from a value outside the arguments (a global Dask array
            # with NumPy arguments), and whatever traced values went into it are lost
            raise errors.MixedTraceError(lib, ctx.ext.name)
    return ctx.tape.const(o, repr(o) if isinstance(o, (float, complex)) else None)


def _seeds(ctx, kind, out_leaves, skey, sreal):
    ns = ctx.ns
    if kind == "vjp":
        return [ctx.input(ns.ones_like(o).val if type(o) is Tracer else o * 0 + 1, "cotangent")
                if hasattr(o, "shape") or type(o) is Tracer else None for o in out_leaves]
    if skey is None:
        shapes = [tuple(getattr(o, "shape", ())) for o in out_leaves]
        if len(out_leaves) != 1 or shapes[0] != ():
            what = (f"an array of shape {shapes[0]}" if len(out_leaves) == 1
                    else f"a structure of {len(out_leaves)} values")
            raise errors.SeedError(
                f"yota.grad: the function returned {what}, but seed=None needs a scalar output (a 0-d "
                f"array or a Python float). Pass seed='ones' to seed with ones, or seed=<array shaped like "
                f"the output> for a vector-Jacobian product, or reduce the output to a scalar.")
        o = out_leaves[0]
        if isinstance(o, complex) or (type(o) is Tracer and "complex" in str(o.dtype)):
            raise errors.SeedError(
                "yota.grad: the function returned a complex scalar, and seed=None is for real outputs (the "
                "gradient of a complex output depends on the cotangent: JAX asks for holomorphic=True). "
                "Return a real loss (xp.real(z), xp.abs(z) ** 2), or pass seed=<a complex 0-d array> for "
                "that vector-Jacobian product.")
    ctx.tape.section = "backward"
    if skey == "ones" or skey is None:
        return [_ones(ns, o) for o in out_leaves]
    if len(sreal) != len(out_leaves):
        raise errors.SeedError(f"seed has {len(sreal)} arrays but the output has {len(out_leaves)}")
    seeds = []
    for s, o in zip(sreal, out_leaves):
        if tuple(getattr(s, "shape", ())) != tuple(getattr(o, "shape", ())):
            raise errors.SeedError(f"seed shape {tuple(getattr(s, 'shape', ()))} does not match the output "
                                   f"shape {tuple(getattr(o, 'shape', ()))}")
        seeds.append(ctx.input(s, "seed"))
    return seeds


def _ones(ns, o):
    if type(o) is not Tracer:
        return None
    if hasattr(o.val, "shape"):
        return ns.ones_like(o)
    return ns.asarray(1.0)

