"""grad, vjp, trace, gradtape, compile, reset: the front door and the cache."""
from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from typing import Any, Callable

from . import backends, codegen, errors  # noqa: F401
from .gradtape import backward
from .rules import registry
from .tape import Tape, Var
from .tangents import (ARRAY, FUNC, METHOD, NOTANGENT, TUPLE, ZERO, ZeroTangent, flatten,
                       compile_builder, leaf_paths, unflatten)
from .tangents import _KIND
from .tracer import Context, Tracer, _is_float, active_contexts

__all__ = ["grad", "vjp", "trace", "gradtape", "compile", "reset", "cache_info", "MAX_ENTRIES", "MAX_VARIANTS"]

#: At most this many (function, argument signature) entries are kept (LRU).
MAX_ENTRIES = 512
#: At most this many guarded variants (control-flow paths) per entry (oldest dropped).
MAX_VARIANTS = 32

_CACHE: "OrderedDict[tuple, _Entry]" = OrderedDict()
_LOCK = threading.RLock()
_STATS = {"traces": 0, "hits": 0, "guard_misses": 0}


def _spec(x):
    if type(x) is Tracer:
        v = x.val
        return (Tracer, type(v), tuple(getattr(v, "shape", ())), getattr(v, "dtype", None))
    return (type(x), x.shape, x.dtype)


class _Variant:
    __slots__ = ("fn", "bwd", "finish", "uses", "tape")

    def __init__(self, fn, finish, uses, tape, bwd=None):
        self.fn = fn
        self.finish = finish
        self.uses = uses
        self.tape = tape
        self.bwd = bwd


class _Entry:
    __slots__ = ("variants", "backend")

    def __init__(self, backend):
        self.variants: list[_Variant] = []
        self.backend = backend


def _on_rule_change(target) -> None:
    with _LOCK:
        _FAST.clear()
        for key in [k for k, e in _CACHE.items() if any(target in v.uses for v in e.variants)]:
            del _CACHE[key]


registry.on_change(_on_rule_change)


def reset() -> None:
    """Empty every cache."""
    with _LOCK:
        _CACHE.clear()
        _FAST.clear()
        backends._BY_TYPES.clear()
        for k in _STATS:
            _STATS[k] = 0


def cache_info() -> dict:
    """Counters: traces, cache hits, guard misses, and the number of entries."""
    with _LOCK:
        return dict(_STATS, entries=len(_CACHE), variants=sum(len(e.variants) for e in _CACHE.values()))


# --------------------------------------------------------------------------- seeds

def _seed_key(seed):
    if seed is None:
        return None, []
    if isinstance(seed, str):
        if seed != "ones":
            raise errors.SeedError(f"seed={seed!r} is not understood: use None (scalar output), "
                                   f"'ones', or an array shaped like the output")
        return "ones", []
    tree, leaves = flatten(seed, _spec)
    return ("array", tree), leaves


def _backend(leaves):
    for x in leaves:
        if type(x) is Tracer:
            return x.ctx.ns, x.ctx.ext_ns
    return backends.select(leaves)


# --------------------------------------------------------------------------- the call path

def grad(f: Callable, *args: Any, seed: Any = None, wrt: int | tuple[int, ...] | None = None
         ) -> tuple[Any, tuple]:
    """``(value, (fn_grad, *arg_grads))`` of ``f(*args)``.

    ``seed=None`` needs a scalar output; ``"ones"`` seeds with ones shaped like the
    output; an array is the output cotangent (a vector-Jacobian product).
    ``wrt`` (optional) picks the gradients to compute by their position in the
    result, 0 for ``f`` itself and ``i + 1`` for ``args[i]``; the others come
    back as ``NoTangent()`` and cost nothing (data arrays, labels).
    """
    return _call("grad", f, args, seed, _wrt(wrt))


def vjp(f: Callable, *args: Any, wrt: int | tuple[int, ...] | None = None) -> tuple[Any, Callable]:
    """``(value, pullback)``; ``pullback(cotangent)`` returns ``(fn_grad, *arg_grads)``."""
    value, backward_half = _call("vjp", f, args, None, _wrt(wrt))

    def pullback(cotangent):
        try:
            return backward_half(cotangent)
        except errors.GuardFailed:
            # a size check in the backward half failed (data-dependent shapes):
            # the whole gradient, traced for these values
            return grad(f, *args, seed=cotangent, wrt=wrt)[1]

    return value, pullback


def _wrt(wrt):
    if wrt is None:
        return None
    return (wrt,) if isinstance(wrt, int) else tuple(sorted(wrt))


_FAST: dict = {}
_FunctionType = type(_spec)


def _call(kind, f, args, seed, wrt=None):
    # Fast path for the common call grad(plain_function, *arrays): a key made
    # without walking any structure, mapped to the entry the full key found.
    fast_key = None
    if seed is None and type(f) is _FunctionType and f.__closure__ is None:
        fast = _fast_signature(args)
        if fast is not None:
            fast_key = (kind, f, wrt, fast[0])
            hit = _FAST.get(fast_key)
            if hit is not None:
                xp, ext = hit.backend
                for variant in hit.variants:
                    try:
                        out = variant.fn(xp, ext, *fast[1])
                    except errors.GuardFailed:
                        continue
                    _STATS["hits"] += 1
                    return variant.finish(out, xp, ext)
    tree, leaves = flatten((f, args), _spec)
    skey, sleaves = _seed_key(seed)
    key = (kind, tree, skey, wrt)
    entry = _CACHE.get(key)
    if entry is not None:
        all_leaves = leaves + sleaves if sleaves else leaves
        xp, ext = entry.backend or _backend(leaves)
        for variant in entry.variants:
            try:
                out = variant.fn(xp, ext, *all_leaves)
            except errors.GuardFailed:
                continue
            _STATS["hits"] += 1
            with _LOCK:
                if key in _CACHE:
                    _CACHE.move_to_end(key)
                if fast_key is not None and entry.backend is not None and len(_FAST) < 4 * MAX_ENTRIES:
                    _FAST[fast_key] = entry
            return variant.finish(out, xp, ext)
        _STATS["guard_misses"] += 1
    return _trace_and_cache(kind, key, tree, leaves, skey, sleaves, seed, wrt)


def _trace_and_cache(kind, key, tree, leaves, skey, sleaves, seed, wrt=None):
    built = _build(kind, tree, leaves, skey, sleaves, seed, wrt)
    tape = built["tape"]
    has_tracers = any(type(x) is Tracer for x in leaves)
    bwd = None
    if kind == "vjp":
        fn, bwd = _split_vjp(tape, built)
    else:
        # A backend may rewrite the tape for its library (NumPy buffer reuse,
        # CuPy kernel fusion); the tape the user sees stays as traced.
        ext = built["backend"][1]
        rewrite = None if has_tracers else getattr(ext, "transform_tape", None)
        fn = codegen.compile_tape(rewrite(tape) if rewrite else tape, kind)
    finish = _finisher(kind, built, bwd)
    variant = _Variant(fn, finish, tape.functions_used(), tape, bwd)
    with _LOCK:
        entry = _CACHE.get(key)
        if entry is None:
            entry = _CACHE[key] = _Entry(None if has_tracers else built["backend"])
            while len(_CACHE) > MAX_ENTRIES:
                _CACHE.popitem(last=False)
                _FAST.clear()
        entry.variants.insert(0, variant)
        del entry.variants[MAX_VARIANTS:]
        _STATS["traces"] += 1
    if has_tracers or kind == "vjp":
        # Nested grad: run the compiled function on the outer Tracers so the
        # work is recorded on the outer tape. vjp: its forward half gives the residuals.
        all_leaves = leaves + sleaves
        xp, ext = _backend(leaves)
        return finish(fn(xp, ext, *all_leaves), xp, ext)
    return built["result"]


def _fast_signature(args):
    """Arrays, tuples/lists of arrays, and objects whose fields are all arrays
    (a dataclass of parameters): their signature and leaves, or None."""
    kinds = _KIND
    sig = []
    leaves = []
    for a in args:
        t = type(a)
        if kinds.get(t) is ARRAY:
            sig.append((t, a.shape, a.dtype))
            leaves.append(a)
            continue
        if t is tuple or t is list:
            items = a
            inner = [t]
        elif t not in _NOT_OBJECTS and (d := getattr(a, "__dict__", None)) and type(d) is dict:
            items = d.values()
            inner = [t, tuple(d)]
        else:
            return None
        for b in items:
            tb = type(b)
            if kinds.get(tb) is not ARRAY:
                return None
            inner.append((tb, b.shape, b.dtype))
            leaves.append(b)
        sig.append(tuple(inner))
    return tuple(sig), leaves


_NOT_OBJECTS = frozenset({_FunctionType, type(_spec.__call__), type(inspect), type})


def _to_float(g):
    return g if isinstance(g, ZeroTangent) or type(g) is Tracer else float(g)


def _keep(g):
    return g


def _finisher(kind, built, bwd):
    tree, out_tree, n_value = built["tree"], built["out_tree"], built["n_value"]
    fnode, argsnode = tree[1]
    # (fn_grad, *arg_grads): the function's part, then each argument's
    build_grads = compile_builder((TUPLE, (fnode,) + tuple(argsnode[1])), "tangent", built["float_leaves"])
    build_value = compile_builder(out_tree, "value")

    def grads_of(flat, ext):
        g = build_grads(flat, _keep if getattr(ext, "is_lazy", False) else _to_float)
        return g if g[0] is not NOTANGENT else (ZERO, *g[1:])

    if kind == "trace":
        return lambda out, xp, ext: build_value(out, None)
    if kind == "grad":
        def finish(out, xp, ext):
            return build_value(out, None), grads_of(out[n_value:], ext)
        return finish

    def finish_vjp(out, xp, ext):
        value = build_value(out, None)
        residuals = out[n_value:]

        def pullback(cotangent):
            ctree, cleaves = flatten(cotangent, _spec)
            if len(cleaves) != built["n_out_arrays"]:
                raise errors.SeedError(f"the cotangent passed to the pullback has {len(cleaves)} arrays; the "
                                       f"output has {built['n_out_arrays']}")
            return grads_of(bwd(xp, ext, *residuals, *cleaves), ext)

        return value, pullback

    return finish_vjp


# --------------------------------------------------------------------------- tracing

def _owners(tree) -> list[int]:
    """For each leaf, its position in the result: 0 for f, i + 1 for args[i]."""
    fnode, argsnode = tree[1]
    out = [0] * len(leaf_paths(fnode, ""))
    for i, node in enumerate(argsnode[1]):
        out += [i + 1] * len(leaf_paths(node, ""))
    return out


def _names(tree) -> list[str]:
    fnode, argsnode = tree[1]
    fobj = fnode[4].obj if fnode[0] == FUNC else None
    fname = getattr(fobj, "__name__", None) or "f"
    params: list[str] = []
    if fobj is not None:
        try:
            params = [p.name for p in inspect.signature(fobj).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = []
    names = leaf_paths(fnode, fname)
    for i, node in enumerate(argsnode[1]):
        names += leaf_paths(node, params[i] if i < len(params) else f"arg{i}")
    return names


def _title(tree) -> str:
    fnode, argsnode = tree[1]
    fobj = fnode[4].obj if fnode[0] == FUNC else None
    if fnode[0] == METHOD:
        fobj = fnode[1]
    name = getattr(fobj, "__qualname__", None) or (fnode[1].__name__ if isinstance(fnode[1], type) else "f")
    params: list[str] = []
    try:
        params = [p.name for p in inspect.signature(fobj).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)] if fobj is not None else []
    except (TypeError, ValueError):
        pass
    if fnode[0] == METHOD and params:
        params = params[1:]
    n = len(argsnode[1])
    shown = [params[i] if i < len(params) else f"arg{i}" for i in range(n)]
    return f"{name}({', '.join(shown)})"


def _build(kind, tree, leaves, skey, sleaves, seed, wrt=None):
    real = [x.val if type(x) is Tracer else x for x in leaves]
    sreal = [x.val if type(x) is Tracer else x for x in sleaves]
    xp, ext = backends.select(real + sreal)
    backends.check_devices(real)
    names = _names(tree)
    ctx = Context(xp, ext, _title(tree))
    tracers = [ctx.input(v, n) for v, n in zip(real, names)]
    if wrt is not None:
        owners = _owners(tree)
        for t, owner in zip(tracers, owners):
            t.diff = t.diff and owner in wrt
    # The user's code may rebind a tracer (x[i] = ...); the inputs are these:
    inputs = [(t.vid, t.val) for t in tracers]
    f2, args2 = unflatten(tree, iter(tracers).__next__)
    stack = active_contexts()
    stack.append(ctx)
    try:
        out = f2(*args2)
    finally:
        stack.pop()
    out_tree, out_leaves = flatten(out, _out_spec)
    tape = ctx.tape
    outputs = [_encode_out(ctx, o) for o in out_leaves]
    built = {"tape": tape, "tree": tree, "out_tree": out_tree, "n_value": len(outputs),
             "backend": (xp, ext), "float_leaves": [], "n_grads": 0,
             "n_out_arrays": sum(1 for o in out_leaves if hasattr(o, "shape"))}
    if kind == "trace":
        tape.outputs = outputs
        tape.n_value = len(outputs)
        _finalize(tape)
        built["result"] = unflatten(out_tree, iter([_concrete(o) for o in out_leaves]).__next__)
        return built
    seeds = _seeds(ctx, kind, out_leaves, skey, sreal, seed)
    ct = backward(ctx, out_leaves, seeds)
    grads = []
    concrete_grads = []
    for i, (var, val) in enumerate(inputs):
        if not _is_float(val) or (wrt is not None and owners[i] not in wrt):
            grads.append(tape.const(NOTANGENT, "NoTangent()"))
            concrete_grads.append(NOTANGENT)
            continue
        if isinstance(val, float):
            built["float_leaves"].append(i)
        c = ct.get(var)
        if c is None:
            grads.append(tape.const(ZERO, "ZeroTangent()"))
            concrete_grads.append(ZERO)
        else:
            grads.append(Var(c.vid))
            concrete_grads.append(c.val)
    tape.outputs = outputs + grads
    tape.n_value = len(outputs)
    built["n_grads"] = len(grads)
    built["seed_vars"] = [s.vid for s in seeds if type(s) is Tracer] if kind == "vjp" else []
    _finalize(tape)
    if kind == "grad":
        fin = _finisher("grad", built, None)
        built["result"] = fin([_concrete(o) for o in out_leaves] + concrete_grads, xp, ext)
    return built


def _finalize(tape: Tape) -> None:
    tape.simplify()
    tape.eliminate_common_subexpressions()
    tape.factor()
    tape.eliminate_dead_code()


def _out_spec(x):
    return ("out",)


def _concrete(o):
    return o.val if type(o) is Tracer else o


def _encode_out(ctx, o):
    if type(o) is Tracer:
        if o.ctx is not ctx:
            raise errors.ForeignTracerError()
        return Var(o.vid)
    if isinstance(o, (int, float, complex, bool)) and not isinstance(o, float) or (
            isinstance(o, float) and o == o and abs(o) != float("inf")):
        return o
    return ctx.tape.const(o)


def _seeds(ctx, kind, out_leaves, skey, sreal, seed):
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
    ctx.tape.section = 1
    if skey == "ones" or skey is None:
        return [_ones(ns, o) for o in out_leaves]
    if len(sreal) != len(out_leaves):
        raise errors.SeedError(f"seed has {len(sreal)} arrays but the output has {len(out_leaves)}")
    seeds = []
    for s, o in zip(sreal, out_leaves):
        if tuple(getattr(s, "shape", ())) != tuple(getattr(o, "shape", ())):
            raise errors.SeedError(f"seed shape {tuple(s.shape)} does not match the output shape "
                                   f"{tuple(getattr(o, 'shape', ()))}")
        seeds.append(ctx.input(s, "seed"))
    return seeds


def _ones(ns, o):
    if type(o) is not Tracer:
        return None
    if hasattr(o.val, "shape"):
        return ns.ones_like(o)
    return ns.asarray(1.0)


def _split_vjp(tape: Tape, built):
    """Two functions from one tape: the forward half returns the value and the
    residuals the backward half needs; the backward half takes them and the cotangent."""
    seed_vars = set(built["seed_vars"])
    dep = set(seed_vars)
    fwd_ops, bwd_ops = [], []
    for op in tape.ops:
        if any(v in dep for v in op.uses()):
            dep.update(op.outs)
            bwd_ops.append(op)
        else:
            fwd_ops.append(op)
    n_value = tape.n_value
    grads = tape.outputs[n_value:]
    needed = []
    seen = set()
    for op in bwd_ops:
        for v in op.uses():
            if v not in dep and v not in seen:
                seen.add(v)
                needed.append(v)
    for g in grads:
        if isinstance(g, Var) and g.id not in dep and g.id not in seen:
            seen.add(g.id)
            needed.append(g.id)
    ft = Tape()
    ft.title, ft.consts, ft.nvars = tape.title + " forward", tape.consts, tape.nvars
    ft.inputs = [v for v in tape.inputs if v not in seed_vars]
    ft.ops = fwd_ops
    ft.outputs = tape.outputs[:n_value] + [Var(v) for v in needed]
    ft.n_value = n_value
    bt = Tape()
    bt.title, bt.consts, bt.nvars = tape.title + " backward", tape.consts, tape.nvars
    bt.inputs = needed + [v for v in tape.inputs if v in seed_vars]
    bt.ops = bwd_ops
    bt.outputs = list(grads)
    bt.n_value = 0
    return codegen.compile_tape(ft, "forward"), codegen.compile_tape(bt, "backward")


# --------------------------------------------------------------------------- tapes as values

def trace(f: Callable, *args: Any) -> tuple[Any, Tape]:
    """``(value, tape)``: the forward tape only."""
    tree, leaves = flatten((f, args), _spec)
    built = _build("trace", tree, leaves, None, [], None)
    tape = built["tape"]
    tape.meta = {"kind": "trace", "built": built}
    return built["result"], tape


def gradtape(f: Callable, *args: Any, seed: Any = None, wrt: int | tuple[int, ...] | None = None) -> Tape:
    """The tape with its derivative operations, not compiled; ``print`` it to debug."""
    tree, leaves = flatten((f, args), _spec)
    skey, sleaves = _seed_key(seed)
    built = _build("grad", tree, leaves, skey, sleaves, seed, _wrt(wrt))
    tape = built["tape"]
    tape.meta = {"kind": "grad", "built": built}
    return tape


def compile(tape: Tape) -> Callable:  # noqa: A001 - the public name is fixed by the design
    """A callable ``compiled(f, *args)`` that runs the tape on new values of the same structure."""
    kind = tape.meta.get("kind")
    if kind not in ("trace", "grad"):
        raise TypeError("yota.compile takes a tape from yota.trace or yota.gradtape")
    built = tape.meta["built"]
    fn = codegen.compile_tape(tape, kind)
    per_backend = {}  # ext -> the function with that backend's tape rewrite (fusion, buffer reuse)
    finish = _finisher(kind, built, None)
    n_leaves = len(tape.inputs)
    seed_leaves = n_leaves - len(_names(built["tree"]))

    def for_backend(ext):
        f = per_backend.get(ext)
        if f is None:
            rewrite = getattr(ext, "transform_tape", None)
            f = per_backend[ext] = codegen.compile_tape(rewrite(tape), kind) if rewrite else fn
        return f

    def compiled(f, *args, seed=None):
        tree, leaves = flatten((f, args), _spec)
        sleaves = _seed_key(seed)[1] if seed is not None else []
        if len(leaves) + len(sleaves) != n_leaves:
            raise TypeError(f"this compiled tape takes {n_leaves - seed_leaves} arrays; got {len(leaves)}")
        xp, ext = _backend(leaves)
        run = fn if any(type(x) is Tracer for x in leaves) else for_backend(ext)
        try:
            out = run(xp, ext, *leaves, *sleaves)
        except errors.GuardFailed:
            raise errors.YotaError("the values took another branch than the traced one (a guard failed); "
                                   "a compiled tape is one path: use yota.grad, which retraces") from None
        return finish(out, xp, ext)

    compiled.__yota_source__ = fn.__yota_source__
    compiled.tape = tape
    return compiled


