"""grad, vjp, trace, gradtape, compile, reset: the front door.

Every call takes the same path: flatten ``(f, args)`` into a structure and
leaves (`flatten.py`), look the structure up in the cache (`cache.py`) and run
the first variant whose guards hold; on a miss, trace the call (`tracing.py`,
`gradtape.py`), optimize and compile it (`passes/`, `codegen.py`) into a new
variant (`program.py`), store it, and return this call's result.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from . import backends, cache, codegen, collector, errors, passes
from .flatten import _KIND, _LEAF, Leaf, count_leaves, flatten_call, slot_names
from .program import make_finisher, make_variant
from .tape import Tape, dtype_name
from .tracer import Tracer
from .tracing import device_of, names, seed_key, spec, trace_call

__all__ = ["grad", "vjp", "trace", "gradtape", "compile", "reset", "cache_info", "evaluate"]


def reset() -> None:
    """Empty every cache: compiled tapes, generated sources, backends' own caches."""
    cache.reset()
    backends.reset()
    codegen.forget_sources()


backends.on_settings_change(reset)


def cache_info() -> dict:
    """Counters: traces, cache hits, guard misses, calls traced again because an operation raised on
    their values (`raised`), and the number of entries and variants."""
    return cache.info()


# --------------------------------------------------------------------------- arguments

def check_wrt(wrt, n_args: int):
    """``wrt`` as a sorted tuple of gradient positions (0 = f, i + 1 = args[i]), checked."""
    if wrt is None:
        return None
    if type(wrt) is int and 0 <= wrt <= n_args:  # the common case, once per call
        return (wrt,)
    items = (wrt,) if isinstance(wrt, int) and not isinstance(wrt, bool) else wrt
    if not isinstance(items, (tuple, list)) or not items:
        raise errors.ArgumentError(f"wrt={wrt!r}: pass an int or a tuple of ints, the positions of the "
                                   f"gradients to compute (0 for the function, i + 1 for args[i])")
    for w in items:
        if not isinstance(w, int) or isinstance(w, bool):
            raise errors.ArgumentError(f"wrt={wrt!r}: {w!r} is not an int position")
        if not 0 <= w <= n_args:
            raise errors.ArgumentError(f"wrt={wrt!r}: position {w} is out of range; with {n_args} argument(s) "
                                       f"the positions are 0 (the function) to {n_args}")
    return tuple(sorted(set(items)))


def _check_callable(f):
    if not callable(f):
        raise errors.ArgumentError(f"the first argument must be the function to differentiate, got "
                                   f"{type(f).__name__}")


def _backend(leaves):
    for x in leaves:
        if type(x) is Tracer:
            return x.ctx.ext_ns
    return backends.select(leaves)


# --------------------------------------------------------------------------- the call path

def grad(f: Callable, *args: Any, seed: Any = None, wrt: int | tuple[int, ...] | None = None
         ) -> tuple[Any, tuple]:
    """``(value, (fn_grad, *arg_grads))`` of ``f(*args)``.

    ``seed=None`` needs a real scalar output; ``"ones"`` seeds with ones shaped
    like the output; an array is the output cotangent (a vector-Jacobian
    product). ``wrt`` (optional) picks the gradients to compute by their
    position in the result, 0 for ``f`` itself and ``i + 1`` for ``args[i]``;
    the others come back as ``NoTangent()`` and cost nothing.
    """
    _check_callable(f)
    return _call("grad", f, args, seed, check_wrt(wrt, len(args)))


def vjp(f: Callable, *args: Any, wrt: int | tuple[int, ...] | None = None) -> tuple[Any, Callable]:
    """``(value, pullback)``; ``pullback(cotangent)`` returns ``(fn_grad, *arg_grads)``."""
    _check_callable(f)
    w = check_wrt(wrt, len(args))
    value, backward_half = _call("vjp", f, args, None, w)

    def pullback(cotangent):
        try:
            return backward_half(cotangent)
        except errors.GuardFailed:
            # a size check in the backward half failed (data-dependent shapes):
            # the whole gradient, traced for these values
            return grad(f, *args, seed=cotangent, wrt=w)[1]

    return value, pullback


_FunctionType = type(_backend)


def evaluate(f: Callable, *args: Any, label: str | None = None) -> Any:
    """``f(*args)``, traced once and then run from the cache (like ``jax.jit``);
    called on Tracers it records onto the outer trace, in a section named
    ``label``. The transformations are Python functions evaluated this way."""
    return _call("trace", f, args, None, label=label)


def replay(fn, leaves, label: str):
    """Run a compiled function on an outer trace's Tracers, its ops in a section named ``label``."""
    backend = _backend(leaves)
    ctx = backend._ctx
    before = ctx.tape.section
    ctx.tape.section = before if before.endswith(label) else f"{before}: {label}"
    try:
        return fn(backend.namespace, backend, *leaves), backend
    finally:
        ctx.tape.section = before


def _call(kind, f, args, seed, wrt=None, aux=False, label=None):
    # Fast path for the common call grad(plain_function, *arrays): a key made
    # without walking any structure, mapped to the entry the full key found.
    fast_key = None
    if seed is None and not aux and type(f) is _FunctionType and f.__closure__ is None:
        fast = _fast_signature(args)
        if fast is not None:
            fast_key = (kind, f, wrt, fast[0])
            entry = cache.fast_lookup(fast_key)
            if entry is not None:
                out = cache.run(entry, fast[1], entry.backend)
                if out is not cache.MISS:
                    return out
    tree, leaves = flatten_call(f, args, spec)
    skey, sleaves = seed_key(seed)
    all_leaves = leaves + sleaves if sleaves else leaves
    key = (kind, tree, skey, wrt, aux)
    entry = cache.lookup(key)
    if entry is not None:
        if entry.backend is not None:
            out = cache.run(entry, all_leaves, entry.backend)
        else:  # nested: recorded onto the outer trace, in its own section
            backend = _backend(leaves)
            ctx = backend._ctx
            before = ctx.tape.section
            name = label or f"{kind} {entry.title}"
            ctx.tape.section = before if before.endswith(name) else f"{before}: {name}"
            try:
                out = cache.run(entry, all_leaves, backend)
            finally:
                ctx.tape.section = before
        if out is not cache.MISS:
            cache.touch(key)
            if fast_key is not None:
                cache.remember_fast(fast_key, entry)
            return out
    with collector.paused():
        traced = trace_call(kind, tree, leaves, skey, sleaves, wrt, aux, origin=(f, tuple(args)))
        if kind == "linearize":
            traced.split = count_leaves(tree.items[1].items[-1])
        variant = make_variant(traced)
    if not traced.wrote and not traced.caught and not (traced.writes_memory and traced.shared_memory):
        cache.store(key, None if traced.nested else traced.backend, variant, traced.tape.title, fast_key)
    if traced.nested:
        # run the compiled function on the outer Tracers, so that the work is
        # recorded on the outer tape
        out, backend = replay(variant.fn, all_leaves, label or f"{kind} {traced.tape.title}")
        return variant.finish(out, backend)
    if kind in ("vjp", "linearize"):  # the forward half gives the residuals
        backend = _backend(leaves)
        return variant.finish(variant.fn(backend.namespace, backend, *all_leaves), backend)
    return variant.finish(traced.outputs, traced.backend)


def _fast_signature(args):
    """Arrays, tuples/lists of arrays, and objects whose fields are all arrays
    (a dataclass of parameters): their signature and leaves, or None."""
    sig = []
    leaves = []
    known = _ARRAY_TYPE_CACHE.get
    for a in args:
        t = type(a)
        k = known(t) or _is_array_type(t, a)  # True, or the device of a library with several
        if k:
            sig.append((t, a.shape, a.dtype) if k is True else (t, k(a), a.shape, a.dtype))
            leaves.append(a)
            continue
        if t is tuple or t is list:
            items = a
            inner = [t]
        elif t not in _NOT_OBJECTS and (d := getattr(a, "__dict__", None)) and type(d) is dict \
                and not slot_names(t):  # (fields in slots too: the full walk)
            items = d.values()
            inner = [t, tuple(d)]
        else:
            return None
        for b in items:
            tb = type(b)
            k = known(tb) or _is_array_type(tb, b)
            if not k:
                return None
            inner.append((tb, b.shape, b.dtype) if k is True else (tb, k(b), b.shape, b.dtype))
        leaves.extend(items)
        sig.append(tuple(inner))
    return tuple(sig), leaves


_ARRAY_TYPE_CACHE: dict = {}


def _is_array_type(t, x):
    """True for an array type of a library with one device; for one with several, the function
    giving an array's device (`tracing.device_of`: part of the key); False for anything else."""
    r = _ARRAY_TYPE_CACHE.get(t)
    if r is None:
        if _KIND.get(t) is not _LEAF:
            return False  # not seen by flatten yet: ask again later
        r = _ARRAY_TYPE_CACHE[t] = device_of(x) or True
    return r


_NOT_OBJECTS = frozenset({_FunctionType, type(_backend.__call__), type(inspect), type})


# --------------------------------------------------------------------------- tapes as values

def trace(f: Callable, *args: Any) -> tuple[Any, Tape]:
    """``(value, tape)``: the forward tape only."""
    _check_callable(f)
    tree, leaves = flatten_call(f, args, spec)
    traced = trace_call("trace", tree, leaves, None, [], origin=(f, tuple(args)))
    tape = traced.tape.replace(meta={"traced": traced})
    return make_finisher(traced)(traced.outputs, traced.backend), tape


def gradtape(f: Callable, *args: Any, seed: Any = None, wrt: int | tuple[int, ...] | None = None) -> Tape:
    """The tape with its derivative operations (optimized, not compiled); ``print`` it to debug."""
    _check_callable(f)
    tree, leaves = flatten_call(f, args, spec)
    skey, sleaves = seed_key(seed)
    traced = trace_call("grad", tree, leaves, skey, sleaves, check_wrt(wrt, len(args)), origin=(f, tuple(args)))
    return passes.optimize(traced.tape).replace(meta={"traced": traced})


def compile(tape: Tape) -> Callable:  # noqa: A001 - the public name is fixed by the design
    """A callable ``compiled(f, *args)`` that runs the tape on new values of the same structure."""
    traced = tape.meta.get("traced")
    if traced is None or traced.kind not in ("trace", "grad"):
        raise TypeError("yota.compile takes a tape from yota.trace or yota.gradtape")
    optimized = passes.optimize(tape)
    finish = make_finisher(traced)
    per_backend: dict = {}
    n_leaves = len(tape.inputs)
    n_args = len(names(traced.tree))
    plain = passes.lower(optimized, None, traced.kind)

    def compiled(f, *args, seed=None):
        tree, leaves = flatten_call(f, args, spec)
        if _shape_free(tree) != _shape_free(traced.tree):
            raise errors.StaleTapeError("this compiled tape was traced for another function or argument "
                                        "structure than the one passed now; trace this function with "
                                        "yota.gradtape / yota.trace (or call yota.grad, which traces as needed)")
        sleaves = seed_key(seed)[1] if seed is not None else []
        if len(leaves) + len(sleaves) != n_leaves:
            raise TypeError(f"this compiled tape takes {n_args} arrays (and {n_leaves - n_args} seed arrays); "
                            f"got {len(leaves)} and {len(sleaves)}")
        if traced.guards is not None and not traced.guards.check():
            raise errors.StaleTapeError(f"{traced.guards.first_change()} changed since this tape was traced; "
                                        "trace again (yota.grad retraces by itself)")
        backend = _backend(leaves)
        if isinstance(backend, backends.Backend):
            run = per_backend.get(backend.name)
            if run is None:
                run = per_backend[backend.name] = passes.lower(optimized, backend, traced.kind)
        else:
            run = plain
        try:
            out = run(backend.namespace, backend, *leaves, *sleaves)
        except errors.GuardFailed:
            raise errors.YotaError("the values took another branch than the traced one (a guard failed); "
                                   "a compiled tape is one path: use yota.grad, which retraces") from None
        return finish(out, backend)

    compiled.__yota_source__ = plain.__yota_source__
    compiled.tape = tape
    return compiled


def _shape_free(tree):
    """The structure with each leaf's library left out (a tape traced on one
    library runs on another), its shape and dtype kept (the tape fixes them)."""
    if type(tree) is Leaf:
        return ("leaf", tuple(tree.spec[-2]), dtype_name(tree.spec[-1]))
    if isinstance(tree, tuple):
        return tuple(_shape_free(x) for x in tree)
    return tree
