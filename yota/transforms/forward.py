"""Forward mode: ``jvp``, ``linearize``, ``hvp``.

Derived from the reverse rules rather than written as forward rules (one rule
per function to keep, not two): ``u -> J^T u`` (``grad`` with ``seed=u``) is
linear in ``u``, so ``J v`` is the gradient of ``<J^T u, v>`` with respect to
``u``, at any ``u``. The trace records both sweeps; dead-code elimination then
keeps only what ``J v`` needs: the forward values, the factors the rules'
pullbacks multiply by (``cos(x)`` for ``sin``), and the transposed pullbacks,
which are the tangent propagation. ``u``'s value is never read.

``hvp`` is reverse over reverse: the gradient of ``<grad f(x), v>``.
"""
from __future__ import annotations

from typing import Any, Callable

from .. import api, errors
from ._trees import check_tangents, leaves, materialize, vdot, zeros_like


def _name(f) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


def _vjp_dot(f, primals, tangents, u):
    """<J^T u, v> for f at primals."""
    _, g = api.grad(f, *primals, seed=u)
    return vdot(tuple(g[1:]), tuple(tangents), tuple(primals))


def _jvp_body(f, primals, tangents):
    y = f(*primals)
    _, g = api.grad(_vjp_dot, f, primals, tangents, zeros_like(y), wrt=4)
    return y, materialize(g[4], y)  # zeros where no input reaches the output, as in JAX


def jvp(f: Callable, primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    """``(f(*primals), J(primals) @ tangents)``; ``tangents`` mirror ``primals``."""
    check_tangents(primals, tangents, "yota.jvp")
    return api.evaluate(_jvp_body, f, tuple(primals), tuple(tangents), label=f"jvp({_name(f)})")


def linearize(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """``(f(*primals), f_jvp)``: ``f_jvp(*tangents)`` gives ``J @ tangents``
    without running the forward pass again."""
    primals = tuple(primals)
    example = zeros_like(primals)
    value, pushforward = api._call("linearize", _jvp_body, (f, primals, example), None)
    n_tangents = len(leaves(primals))

    def f_jvp(*tangents):
        check_tangents(primals, tangents, "yota.linearize")
        got = leaves(tuple(tangents))
        if len(got) != n_tangents:
            raise errors.ArgumentError(f"f_jvp takes tangents like the primals ({n_tangents} arrays)")
        return pushforward(tuple(tangents))

    return value, f_jvp


def _grad_dot(f, primals, tangents):
    """<grad f(primals), v>."""
    _, g = api.grad(f, *primals)
    return vdot(tuple(g[1:]), tuple(tangents), tuple(primals))


def _hvp_body(f, primals, tangents):
    y = f(*primals)
    _, g = api.grad(_grad_dot, f, primals, tangents, wrt=2)
    hv = g[2]
    return y, (hv[0] if len(primals) == 1 else hv)


def hvp(f: Callable, primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    """``(f(*primals), H(primals) @ tangents)`` for a scalar ``f``: one array for
    one primal, a tuple like ``primals`` for several."""
    check_tangents(primals, tangents, "yota.hvp")
    return api.evaluate(_hvp_body, f, tuple(primals), tuple(tangents), label=f"hvp({_name(f)})")

