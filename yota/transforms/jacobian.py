"""``jacrev``, ``jacfwd`` (``jacobian`` is ``jacrev``) and ``hessian``, as in JAX.

``jacrev`` maps the VJP over the rows of an identity (one cotangent per output
element) with ``vmap``, so the forward pass runs once and the backward pass
once, batched; ``jacfwd`` maps the JVP over the columns (one tangent per input
element). Neither loops over basis vectors in Python. The result mirrors the
output structure; each leaf mirrors the argument (a tuple over ``argnums`` for
a tuple) with arrays of shape ``out.shape + in.shape``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from .. import api, errors
from ..flatten import unflatten
from ..tracer import is_float
from ._trees import leaves, materialize, namespace_of, structure
from .forward import jvp
from .value_and_grad import normalize_argnums
from .vmap import vmap

__all__ = ["jacrev", "jacfwd", "jacobian", "hessian"]


def _split_aux(out, has_aux):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise errors.OutputError("with has_aux=True the function must return a pair (value, aux)")
    return out


def _basis(xp, examples, like):
    """Identity rows split over ``examples``' leaves: a structure like ``examples``
    whose leaf i has shape (total, *leaf_i.shape)."""
    ls = leaves(examples)
    sizes = [int(_size(x)) for x in ls]
    total = sum(sizes)
    eye = xp.eye(total, dtype=like.dtype)
    parts, start = [], 0
    for x, n in zip(ls, sizes):
        parts.append(xp.reshape(eye[:, start:start + n], (total,) + tuple(getattr(x, "shape", ()))))
        start += n
    return unflatten(structure(examples), iter(parts).__next__), sizes, total


def _size(x):
    n = 1
    for s in getattr(x, "shape", ()):
        n *= s
    return n


def _check_real(args, nums, what):
    for i in nums:
        for x in leaves(args[i]):
            if not is_float(x):
                raise errors.ArgumentError(f"{what}: argument {i} has a non-floating leaf "
                                           f"({getattr(x, 'dtype', type(x).__name__)}); it has no Jacobian")
            if "complex" in str(getattr(x, "dtype", type(x))):
                raise errors.ArgumentError(f"{what} is implemented for real arrays")


# --------------------------------------------------------------------------- reverse

def _vjp_rows(f, args, nums, has_aux, u):
    _, g = api._call("grad", f, args, u, tuple(sorted({i + 1 for i in nums})), aux=has_aux)
    return tuple(materialize(g[i + 1], args[i]) for i in nums)


def _jacrev_body(f, args, nums, single, has_aux):
    y, aux = _split_aux(f(*args), has_aux)
    ys = leaves(y)
    if not ys:
        raise errors.OutputError("jacrev: the function returned no arrays")
    xp = namespace_of(y)
    like = next((v for v in ys if hasattr(v, "dtype")), None)
    like = xp.asarray(0.0) if like is None else like
    u, sizes, total = _basis(xp, y, like)
    rows = vmap(_vjp_rows, in_axes=(None, None, None, None, 0))(f, args, nums, has_aux, u)
    # rows[k]: argument nums[k]'s structure, leaves of shape (total, *leaf.shape)
    per_out = []
    start = 0
    for yv, n in zip(ys, sizes):
        out_shape = tuple(getattr(yv, "shape", ()))
        jac_k = []
        for k, i in enumerate(nums):
            arg_leaves = leaves(rows[k])
            blocks = [xp.reshape(r[start:start + n, ...], out_shape + tuple(r.shape[1:])) for r in arg_leaves]
            jac_k.append(unflatten(structure(args[i]), iter(blocks).__next__))
        per_out.append(jac_k[0] if single else tuple(jac_k))
        start += n
    jac = unflatten(structure(y), iter(per_out).__next__)
    return (jac, aux) if has_aux else jac


def _transform(body, name, f, argnums, has_aux):
    """``f``'s Jacobian function: ``body`` evaluated (traced once, cached) on the call's arguments."""
    @functools.wraps(f)
    def jac_f(*args: Any, **kwargs: Any):
        nums, single = normalize_argnums(argnums, len(args))
        _check_real(args, nums, name)
        g = functools.partial(f, **kwargs) if kwargs else f
        return api.evaluate(body, g, tuple(args), nums, single, has_aux)

    return jac_f


def jacrev(f: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """The function returning ``f``'s Jacobian, by reverse mode over its rows."""
    return _transform(_jacrev_body, "jacrev", f, argnums, has_aux)


jacobian = jacrev


# --------------------------------------------------------------------------- forward

class _Restricted:
    """``f`` as a function of the arguments in ``nums`` only (the others fixed)."""

    def __init__(self, f, args, nums, has_aux):
        self.f, self.args, self.nums, self.has_aux = f, args, nums, has_aux

    def __call__(self, *sel):
        full = list(self.args)
        for i, s in zip(self.nums, sel):
            full[i] = s
        out = self.f(*full)
        return out[0] if self.has_aux else out


def _jvp_cols(f, args, nums, has_aux, v):
    h = _Restricted(f, args, nums, has_aux)
    _, jv = jvp(h, tuple(args[i] for i in nums), tuple(v))
    return jv


def _jacfwd_body(f, args, nums, single, has_aux):
    y, aux = _split_aux(f(*args), has_aux)
    ys = leaves(y)
    sel = tuple(args[i] for i in nums)
    xp = namespace_of(sel)
    like = next((v for v in leaves(sel) if hasattr(v, "dtype")), None)
    like = xp.asarray(0.0) if like is None else like
    v, sizes, total = _basis(xp, sel, like)
    cols = vmap(_jvp_cols, in_axes=(None, None, None, None, 0))(f, args, nums, has_aux, v)
    # cols: y's structure, leaves of shape (total, *out.shape)
    col_leaves = leaves(cols)
    per_out = []
    for yv, c in zip(ys, col_leaves):
        out_shape = tuple(getattr(yv, "shape", ()))
        jac_k = []
        start = 0
        for k, i in enumerate(nums):
            blocks = []
            for x in leaves(args[i]):
                n = _size(x)
                block = c[start:start + n, ...]  # (n, *out_shape)
                block = xp.moveaxis(block, 0, -1) if out_shape else block
                blocks.append(xp.reshape(block, out_shape + tuple(getattr(x, "shape", ()))))
                start += n
            jac_k.append(unflatten(structure(args[i]), iter(blocks).__next__))
        per_out.append(jac_k[0] if single else tuple(jac_k))
    jac = unflatten(structure(y), iter(per_out).__next__)
    return (jac, aux) if has_aux else jac


def jacfwd(f: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """The function returning ``f``'s Jacobian, by forward mode over its columns."""
    return _transform(_jacfwd_body, "jacfwd", f, argnums, has_aux)


def hessian(f: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """``jacfwd(jacrev(f, argnums), argnums)``."""
    return jacfwd(jacrev(f, argnums), argnums)
