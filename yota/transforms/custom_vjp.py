"""``custom_vjp``: a reverse rule for one function, without the global registry.

    @yota.custom_vjp
    def f(x, y): ...
    def f_fwd(x, y): return f(x, y), residuals
    def f_bwd(residuals, g): return (gx, gy)      # one cotangent per argument
    f.defvjp(f_fwd, f_bwd)

On traced values the call is recorded as one op, ``f_fwd``'s, whose results
are ``f``'s value and the residuals. Its rule sends the value's cotangent
through ``f_bwd`` (recorded as ordinary ops, so higher orders differentiate
``f_bwd``), and a residual's cotangent (which only higher orders produce)
through the ordinary derivative of ``f_fwd``, as JAX does. Arguments named in
``nondiff_argnums`` are static: they are part of the cache key, passed to
``f_bwd`` first, and get no cotangent.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable

from .. import api, errors
from ..flatten import flatten_call, unflatten
from ..ops import rrule
from ..primitives import Primitive
from ..tangents import ZeroTangent
from ..tracer import Tracer
from ._trees import leaves, opaque, structure

__all__ = ["custom_vjp"]


class custom_vjp:
    #: the functions it calls, for the cache's guards (yota/guards.py)
    __yota_runs__ = ("fun", "fwd", "bwd")

    def __init__(self, fun: Callable, nondiff_argnums: tuple[int, ...] = ()):
        if not callable(fun):
            raise errors.ArgumentError(f"custom_vjp needs a function, got {type(fun).__name__}")
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None
        self._ops: dict = {}
        self._in_fwd = threading.local()
        functools.update_wrapper(self, fun)

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """``fwd(*args) -> (value, residuals)``; ``bwd(*nondiff_args, residuals, g)
        -> tuple`` with one cotangent per differentiable argument."""
        self.fwd, self.bwd = fwd, bwd
        self._ops.clear()

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None:
            raise errors.ArgumentError(f"custom_vjp function {self.__name__!r} is called before .defvjp(fwd, bwd)")
        static = tuple(args[i] for i in self.nondiff_argnums)
        dyn = tuple(a for i, a in enumerate(args) if i not in self.nondiff_argnums)
        tree, flat = flatten_call(None, dyn, lambda x: ())
        if not any(type(x) is Tracer for x in flat) or getattr(self._in_fwd, "depth", 0):
            return self.fun(*args)  # untraced, or fwd calling the function itself: the primal
        key = (tree, tuple(_static_key(s) for s in static))
        op = self._ops.get(key)
        if op is None:
            op = self._ops[key] = _CustomOp(self, tree, static, flat)
        out = op.prim(*flat)
        return unflatten(op.y_tree, iter(out[:op.n_y]).__next__)


def _static_key(x):
    try:
        hash(x)
        return x
    except TypeError as e:
        raise errors.ArgumentError(f"custom_vjp: a nondiff_argnums argument must be hashable (it is part of "
                                   f"the cache key), got {type(x).__name__}") from e


class _CustomOp:
    """The op of one custom_vjp function for one argument structure."""

    def __init__(self, cv: custom_vjp, tree, static, flat):
        self.cv, self.tree, self.static = cv, tree, static
        concrete = [x.val if type(x) is Tracer else x for x in flat]
        y, res = self._fwd_structured(concrete)
        self.y_tree, self.res_tree = structure(y), structure(res)
        self.n_y, self.n_args = len(leaves(y)), len(flat)
        self.flat_fwd = opaque(self._flat_fwd, cv.fwd)
        name = getattr(cv.fun, "__name__", "f")

        def forward(*flat_args):
            return tuple(api.evaluate(self.flat_fwd, *flat_args))

        forward.__name__ = f"custom_vjp({name})"
        self.prim = Primitive(forward, pure=True, sparse_cotangents=True, sizes_follow_arguments=True)
        rrule(self.prim)(self._rule)

    def _args(self, flat):
        _, dyn = unflatten(self.tree, iter(flat).__next__)
        args, it = [], iter(dyn)
        n = len(self.static) + len(dyn)
        statics = dict(zip(self.cv.nondiff_argnums, self.static))
        for i in range(n):
            args.append(statics[i] if i in statics else next(it))
        return args, dyn

    def _fwd_structured(self, flat):
        args, _ = self._args(flat)
        state = self.cv._in_fwd
        state.depth = getattr(state, "depth", 0) + 1
        try:
            out = self.cv.fwd(*args)
        finally:
            state.depth -= 1
        if not (isinstance(out, tuple) and len(out) == 2):
            raise errors.RuleError(self.cv.__name__, TypeError(
                f"fwd must return (value, residuals), got {type(out).__name__}"))
        return out

    def _flat_fwd(self, *flat):
        y, res = self._fwd_structured(flat)
        return tuple(leaves(y)) + tuple(leaves(res))

    def _rule(self, xp, *flat):
        out = self.prim(*flat)
        ys, res_leaves = out[:self.n_y], out[self.n_y:]

        def pullback(gs):
            gy, gres = gs[:self.n_y], gs[self.n_y:]
            cts = [None] * self.n_args
            if any(g is not None for g in gy):
                y_ct = unflatten(self.y_tree, iter([g if g is not None else xp.zeros_like(y)
                                                    for g, y in zip(gy, ys)]).__next__)
                res = unflatten(self.res_tree, iter(res_leaves).__next__)
                got = self.cv.bwd(*self.static, res, y_ct)
                _, dyn = unflatten(self.tree, iter(flat).__next__)
                if not isinstance(got, (tuple, list)) or len(got) != len(dyn):
                    raise errors.RuleError(self.cv.__name__, TypeError(
                        f"bwd returned {len(got) if isinstance(got, (tuple, list)) else type(got).__name__} "
                        f"cotangents for {len(dyn)} differentiable arguments; return a tuple with one per "
                        f"argument (nondiff_argnums excluded)"))
                cts = _per_leaf(self.cv.__name__, dyn, got)
            if any(g is not None for g in gres):
                # only higher orders ask for this: the residuals' ordinary derivative
                seed = tuple(xp.zeros_like(y) for y in ys) + tuple(
                    g if g is not None else xp.zeros_like(r) for g, r in zip(gres, res_leaves))
                _, g2 = api.grad(self.flat_fwd, *flat, seed=seed)
                cts = [_add(a, b) for a, b in zip(cts, g2[1:])]
            return tuple(cts)

        return out, pullback


def _add(a, b):
    if a is None or isinstance(a, ZeroTangent):
        return None if isinstance(b, ZeroTangent) else b
    if b is None or isinstance(b, ZeroTangent):
        return a
    return a + b


def _per_leaf(name, dyn, got) -> list:
    """bwd's cotangents (one per argument, mirroring it) as one per leaf."""
    out = []
    for a, g in zip(dyn, got):
        n = len(leaves(a))
        if g is None or isinstance(g, ZeroTangent):
            out += [None] * n
            continue
        gl = leaves(g)
        if len(gl) != n:
            raise errors.RuleError(name, TypeError(
                f"bwd returned a cotangent with {len(gl)} arrays for an argument with {n}"))
        out += gl
    return out
