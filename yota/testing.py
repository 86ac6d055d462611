"""check_grad: compare yota's gradients with central finite differences and the
vector-Jacobian identity. Usable for your own rules:

    yota.testing.check_grad(lambda x: xp.sum(my_fn(x)), x)

Testing code may look at results on the host, so this module (alone in yota/)
converts arrays to NumPy to compare them.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import api, backends
from .flatten import flatten, flatten_call, leaf_gradients, unflatten
from .tangents import ZeroTangent
from .tape import dtype_name

__all__ = ["check_grad", "to_numpy"]


def to_numpy(x) -> np.ndarray:
    """A host copy of any backend's array (computes lazy ones, copies device ones)."""
    if isinstance(x, (int, float, complex)):
        return np.asarray(x)
    return np.asarray(backends.backend_of(x).to_numpy(x))


def _is_float_leaf(x) -> bool:
    if isinstance(x, float):
        return True
    kind = to_numpy_dtype_kind(x)
    return kind in ("f", "c")


def to_numpy_dtype_kind(x) -> str:
    dt = getattr(x, "dtype", None)
    if dt is None:
        return ""
    name = str(dt)
    if "complex" in name:
        return "c"
    if "float" in name:
        return "f"
    return "i"


def _like(x, values: np.ndarray):
    """``values`` as an array of x's backend (its device, its chunks)."""
    if isinstance(x, float):
        return float(values)
    return backends.backend_of(x).from_numpy(values, x)


def _leaf_dtype(x):
    dt = getattr(x, "dtype", None)
    return dtype_name(dt) if dt is not None else type(x).__name__


def check_grad(f: Callable, *args: Any, seed: Any = None, rtol: float = 1e-5, atol: float = 1e-7,
               eps: float = 1e-6, directions: int = 2, full: int | None = None, twice: bool = True,
               check_vjp: bool = True, rng: int = 0) -> None:
    """Check ``yota.grad(f, *args)`` against central finite differences in float64.

    Non-scalar outputs are checked through a random cotangent ``u``: the gradient
    of ``<u, f(x)>`` (yota's vector-Jacobian product with ``seed=u``) must match
    finite differences of ``<u, f(x)>`` along random directions (the VJP
    identity ``<u, J v> == <J^T u, v>``) and, for small inputs (``full``
    elements or fewer), elementwise. With ``twice`` it checks again at perturbed
    values, which must be served by the cached compiled function without a
    retrace (unless guards send it down another path). ``yota.vjp``'s pullback
    is checked to agree with ``grad``.
    """
    rs = np.random.default_rng(rng)
    _check_at(f, args, seed, rtol, atol, eps, directions, full, check_vjp, rs, first=True)
    if twice:
        tree, leaves = flatten_call(f, args, lambda x: ())
        moved = []
        for x in leaves:
            if _is_float_leaf(x):
                xn = to_numpy(x)
                step = 0.1 * rs.standard_normal(xn.shape) * (1 + np.abs(xn))
                if np.iscomplexobj(xn):
                    step = step + 0.1j * rs.standard_normal(xn.shape)
                new = (xn + step).astype(xn.dtype) if not isinstance(x, float) else float(xn + step)
                moved.append(_like(x, new) if not isinstance(x, float) else new)
                if not isinstance(x, float) and _leaf_dtype(moved[-1]) != _leaf_dtype(x):
                    moved[-1] = backends.backend_of(x).namespace.astype(moved[-1], x.dtype)
            else:
                moved.append(x)
        f2, args2 = unflatten(tree, iter(moved).__next__)
        before = api.cache_info()["traces"]
        _check_at(f2, args2, seed, rtol, atol, eps, directions, full, False, rs, first=False)
        after = api.cache_info()
        if after["traces"] != before and not after["guard_misses"]:
            raise AssertionError("the second call retraced instead of using the cached compiled function")


def _check_at(f, args, seed, rtol, atol, eps, directions, full, check_vjp, rs, first):
    tree, leaves = flatten_call(f, args, lambda x: ())
    value = f(*args)
    out_tree, outs = flatten(value, lambda x: ())
    scalar = len(outs) == 1 and to_numpy(outs[0]).shape == () and not np.iscomplexobj(to_numpy(outs[0]))
    if seed is None and not scalar:
        seed = [_like(o, rs.standard_normal(to_numpy(o).shape).astype(to_numpy(o).dtype)) for o in outs]
        seed = unflatten(out_tree, iter(seed).__next__)
    u = [to_numpy(s) for s in flatten(seed, lambda x: ())[1]] if seed is not None else [np.ones(())]
    val, g = api.grad(f, *args, seed=seed)
    grads = leaf_gradients(tree, (g[0], tuple(g[1:])))
    if len(grads) != len(leaves):
        raise AssertionError(f"gradient structure has {len(grads)} leaves, arguments have {len(leaves)}")
    np_val = [to_numpy(v) for v in flatten(val, lambda x: ())[1]]
    for a, b in zip(np_val, [to_numpy(o) for o in outs]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9, err_msg="yota's value differs from f's")
    if check_vjp and seed is not None:
        _, pullback = api.vjp(f, *args)
        gv = pullback(seed)
        alt = leaf_gradients(tree, (gv[0], tuple(gv[1:])))
        for i, (a, b) in enumerate(zip(grads, alt)):
            if isinstance(a, ZeroTangent) or isinstance(b, ZeroTangent):
                continue
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6, atol=1e-9,
                                       err_msg=f"vjp pullback and grad(seed=u) differ for leaf {i}")

    diff_idx = [i for i, x in enumerate(leaves) if _is_float_leaf(x)]
    low = any(_leaf_dtype(leaves[i]) in ("float32", "complex64") for i in diff_idx)
    tol_r = max(rtol, 2e-3) if low else rtol
    tol_a = max(atol, 1e-4) if low else atol
    x64 = {i: to_numpy(leaves[i]).astype(np.complex128 if np.iscomplexobj(to_numpy(leaves[i])) else np.float64)
           for i in diff_idx}
    gnp = {}
    for i in diff_idx:
        gi = grads[i]
        if isinstance(gi, ZeroTangent):
            gnp[i] = np.zeros_like(x64[i])
            continue
        if isinstance(leaves[i], float):
            lazy = backends.backend_of(gi).is_lazy and getattr(gi, "shape", None) == () if hasattr(gi, "shape") \
                else False
            if not isinstance(gi, float) and not lazy:
                raise AssertionError(f"the gradient of a Python float must be a float (or, on Dask, a lazy "
                                     f"0-d array), got {type(gi).__name__}")
        elif _leaf_dtype(gi) != _leaf_dtype(leaves[i]):
            raise AssertionError(f"gradient dtype {_leaf_dtype(gi)} differs from the input's "
                                 f"{_leaf_dtype(leaves[i])} (leaf {i})")
        elif backends.library_name(gi) != backends.library_name(leaves[i]) and not (
                backends.backend_of(gi).is_lazy and not backends.backend_of(leaves[i]).is_lazy):
            raise AssertionError(f"gradient is a {backends.library_name(gi)} array for a "
                                 f"{backends.library_name(leaves[i])} input (leaf {i})")
        elif type(gi) is not type(leaves[i]) and not backends.backend_of(gi).is_lazy:
            raise AssertionError(f"gradient is a {type(gi).__name__} for a {type(leaves[i]).__name__} input "
                                 f"(leaf {i}): gradients mirror their arguments")
        gnp[i] = to_numpy(gi).astype(x64[i].dtype)
        if gnp[i].shape != x64[i].shape:
            raise AssertionError(f"gradient shape {gnp[i].shape} differs from the input's {x64[i].shape}")

    def loss_at(point: dict) -> float:
        new = [(_like(leaves[i], point[i]) if i in point else leaves[i]) for i in range(len(leaves))]
        f2, args2 = unflatten(tree, iter(new).__next__)
        outs2 = flatten(f2(*args2), lambda x: ())[1]
        total = 0.0
        for o, ui in zip(outs2, u):
            total += float(np.real(np.sum(to_numpy(o).astype(np.complex128) * ui)))
        return total

    def fd(direction: dict) -> float:
        plus = {i: x64[i] + eps * direction[i] for i in direction}
        minus = {i: x64[i] - eps * direction[i] for i in direction}
        return (loss_at(plus) - loss_at(minus)) / (2 * eps)

    def inner(direction: dict) -> float:
        # JAX's convention for a complex input z = x + iy of a real loss:
        # g = dL/dx - i dL/dy, so the directional derivative along v is Re(sum(g v)).
        return float(sum(np.real(np.sum(gnp[i] * direction[i])) for i in direction))

    if not diff_idx:
        return
    for _ in range(directions):
        d = {}
        for i in diff_idx:
            d[i] = rs.standard_normal(x64[i].shape)
            if np.iscomplexobj(x64[i]):
                d[i] = d[i] + 1j * rs.standard_normal(x64[i].shape)
        want, got = fd(d), inner(d)
        if not np.isclose(got, want, rtol=tol_r * 10, atol=tol_a * 10 + 1e-6 * abs(want)):
            raise AssertionError(f"VJP identity failed ({'traced' if first else 'cached'} call): "
                                 f"<J^T u, v> = {got!r} but finite differences give <u, J v> = {want!r}")
    limit = full if full is not None else (24 if any(backends.backend_of(leaves[i]).is_lazy
                                                      for i in diff_idx) else 64)
    total = sum(x64[i].size for i in diff_idx)
    if total > limit:
        return
    for i in diff_idx:
        parts = [1.0] + ([1j] if np.iscomplexobj(x64[i]) else [])
        est = np.zeros_like(x64[i])
        for idx in np.ndindex(x64[i].shape if x64[i].shape else ()):
            for unit in parts:
                e = np.zeros_like(x64[i])
                e[idx] = unit
                est[idx] += fd({i: e}) * (1 if unit == 1.0 else -1j)
        ok = np.allclose(gnp[i], est, rtol=tol_r, atol=tol_a + tol_r * np.max(np.abs(est), initial=0))
        if not ok:
            raise AssertionError(f"gradient of leaf {i} ({'traced' if first else 'cached'} call) differs from "
                                 f"finite differences:\nyota:\n{gnp[i]}\nfinite differences:\n{est}")
