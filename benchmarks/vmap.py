#!/usr/bin/env python
"""Batched transformations on CPU: per-example gradients, Jacobians, Hessians;
yota against JAX (jitted) and torch.func, with handwritten NumPy as the reference.

    python benchmarks/vmap.py                      # everything
    python benchmarks/vmap.py --only perex --impl yota,jax
    python benchmarks/vmap.py --markdown
    python benchmarks/vmap.py --self-check         # handwritten code vs finite differences

Workloads:

  perex     per-example gradients of the MLP 784-512-512-10 (softmax cross-entropy of
            one example), batch 256, f32: the 256 gradients of every parameter,
            stacked (411 MiB for W1 alone). yota:
            yota.vmap(lambda p, x, y: yota.grad(loss1, p, x, y, wrt=1)[1][1], in_axes=(None, 0, 0));
            yota-loop: a Python loop of yota.grad over the examples, stacked;
            jax.jit(jax.vmap(jax.grad(loss1), in_axes=(None, 0, 0)));
            torch.func.vmap(torch.func.grad(loss1), in_dims=(None, 0, 0)).
  jacobian  the 256x256 Jacobian of x -> tanh(W @ x + b) (W 256x256, f32) by reverse
            and by forward mode: yota.jacrev / yota.jacfwd, jax.jit(jax.jacrev / jacfwd),
            torch.func.jacrev / jacfwd.
  hessian   the 64x64 Hessian of the Rosenbrock function, f64: yota.hessian,
            jax.jit(jax.hessian), torch.func.hessian.
"""
from __future__ import annotations

import os
import sys

import numpy as np
from array_api_compat import array_namespace

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import harness  # noqa: E402
import _peers  # noqa: E402
from _common import check_grads_fd  # noqa: E402
from losses import mlp_loss, mlp_loss_one  # noqa: E402
from cpu import mlp_make  # noqa: E402

f32, f64 = np.float32, np.float64


# --------------------------------------------------------------------------- functions and data

def tanh_layer(x, W, b, xp=None):
    xp = xp or array_namespace(x)
    return xp.tanh(W @ x + b)


def rosenbrock(x, xp=None):
    xp = xp or array_namespace(x)
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def perex_data(smoke, dtype=f32):
    params, (X, Y) = mlp_make(np.random.default_rng(0), smoke, dtype)
    return params, X, Y


def layer_data(smoke, dtype=f32):
    rng = np.random.default_rng(0)
    n = 5 if smoke else 256
    W = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(dtype)
    return rng.standard_normal(n).astype(dtype), W, (0.1 * rng.standard_normal(n)).astype(dtype)


def rosen_data(smoke):
    return np.random.default_rng(0).uniform(-1.5, 1.5, 6 if smoke else 64)


# --------------------------------------------------------------------------- handwritten

def perex_numpy(params, X, Y):
    """The gradient of each example's loss (a batch of one: no 1/n), stacked."""
    W1, b1, W2, b2, W3, b3 = params
    H1 = np.tanh(X @ W1 + b1)
    H2 = np.tanh(H1 @ W2 + b2)
    Z = H2 @ W3 + b3
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    dZ = E / E.sum(axis=1, keepdims=True) - Y     # rows of Y sum to one
    dA2 = (dZ @ W3.T) * (1 - H2 * H2)
    dA1 = (dA2 @ W2.T) * (1 - H1 * H1)
    return (X[:, :, None] * dA1[:, None, :], dA1, H1[:, :, None] * dA2[:, None, :], dA2,
            H2[:, :, None] * dZ[:, None, :], dZ)


def jacobian_numpy(x, W, b):
    y = np.tanh(W @ x + b)
    return (1 - y * y)[:, None] * W


def rosen_grad_numpy(x):
    g = np.zeros_like(x)
    r = x[1:] - x[:-1] ** 2
    g[:-1] = -400 * x[:-1] * r - 2 * (1 - x[:-1])
    g[1:] += 200 * r
    return g


def hessian_numpy(x):
    """Tridiagonal: d2/dx_i^2 = 1200 x_i^2 - 400 x_{i+1} + 2 (i < n-1) + 200 (i > 0),
    d2/dx_i dx_{i+1} = -400 x_i."""
    n = x.shape[0]
    H = np.zeros((n, n), x.dtype)
    d = np.zeros(n, x.dtype)
    d[:-1] = 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    idx = np.arange(n)
    H[idx, idx] = d
    H[idx[:-1], idx[1:]] = H[idx[1:], idx[:-1]] = -400 * x[:-1]
    return H


# --------------------------------------------------------------------------- implementations

def _tensors(torch, arrays):
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)


def _torch_digest(res):
    return None, tuple(_peers.torch_to_numpy(t) for t in harness._leaves(res))


def _arrays(res):
    return None, res


def build_perex(impl, smoke):
    params, X, Y = perex_data(smoke)
    if impl == "handwritten":
        return harness.Case(lambda: perex_numpy(params, X, Y), digest=_arrays)
    if impl in ("yota", "yota-loop"):
        yota = _peers.import_yota()
        info = _peers.yota_info(yota)
        if impl == "yota":
            f = yota.vmap(lambda p, x, y: yota.grad(mlp_loss_one, p, x, y, wrt=1)[1][1], in_axes=(None, 0, 0))
            return harness.Case(lambda: f(params, X, Y), digest=_arrays, before_first=yota.reset, info=info)

        def loop():
            gs = [yota.grad(mlp_loss_one, params, X[i], Y[i], wrt=1)[1][1] for i in range(X.shape[0])]
            return tuple(np.stack(k) for k in zip(*gs))
        return harness.Case(loop, digest=_arrays, before_first=yota.reset, info=info)
    if impl == "jax":
        jax, info = _peers.import_jax(False)
        import jax.numpy as jnp
        f = jax.jit(jax.vmap(jax.grad(lambda p, x, y: mlp_loss_one(p, x, y, xp=jnp)), in_axes=(None, 0, 0)))
        jp, jX, jY = tuple(jnp.asarray(p) for p in params), jnp.asarray(X), jnp.asarray(Y)
        return harness.Case(lambda: jax.block_until_ready(f(jp, jX, jY)), digest=_arrays, foreign_alloc=True,
                            info=info)
    if impl == "torch":
        torch, info = _peers.import_torch()
        import array_api_compat.torch as tx
        from torch.func import grad, vmap
        tp, (tX, tY) = _tensors(torch, params), _tensors(torch, (X, Y))
        f = vmap(grad(lambda p, x, y: mlp_loss_one(p, x, y, xp=tx)), in_dims=(None, 0, 0))
        return harness.Case(lambda: f(tp, tX, tY), digest=_torch_digest, foreign_alloc=True, info=info)
    raise KeyError(impl)


def build_jacobian(impl, smoke):
    x, W, b = layer_data(smoke)
    family, _, mode = impl.partition("-")
    if impl == "handwritten":
        return harness.Case(lambda: jacobian_numpy(x, W, b), digest=lambda r: (None, (r,)))
    if family == "yota":
        yota = _peers.import_yota()
        jac = {"jacrev": yota.jacrev, "jacfwd": yota.jacfwd}[mode](tanh_layer)
        return harness.Case(lambda: jac(x, W, b), digest=lambda r: (None, (r,)), before_first=yota.reset,
                            info=_peers.yota_info(yota))
    if family == "jax":
        jax, info = _peers.import_jax(False)
        import jax.numpy as jnp
        jac = jax.jit(getattr(jax, mode)(lambda x, W, b: tanh_layer(x, W, b, xp=jnp)))
        args = tuple(jnp.asarray(a) for a in (x, W, b))
        return harness.Case(lambda: jax.block_until_ready(jac(*args)), digest=lambda r: (None, (r,)),
                            foreign_alloc=True, info=info)
    if family == "torch":
        torch, info = _peers.import_torch()
        import array_api_compat.torch as tx
        import torch.func
        jac = getattr(torch.func, mode)(lambda x, W, b: tanh_layer(x, W, b, xp=tx))
        args = _tensors(torch, (x, W, b))
        return harness.Case(lambda: jac(*args), digest=_torch_digest, foreign_alloc=True, info=info)
    raise KeyError(impl)


def build_hessian(impl, smoke):
    x = rosen_data(smoke)
    if impl == "handwritten":
        return harness.Case(lambda: hessian_numpy(x), digest=lambda r: (None, (r,)))
    if impl == "yota":
        yota = _peers.import_yota()
        hess = yota.hessian(rosenbrock)
        return harness.Case(lambda: hess(x), digest=lambda r: (None, (r,)), before_first=yota.reset,
                            info=_peers.yota_info(yota))
    if impl == "jax":
        jax, info = _peers.import_jax(True)
        import jax.numpy as jnp
        hess = jax.jit(jax.hessian(lambda x: rosenbrock(x, xp=jnp)))
        jx = jnp.asarray(x)
        return harness.Case(lambda: jax.block_until_ready(hess(jx)), digest=lambda r: (None, (r,)),
                            foreign_alloc=True, info=info)
    if impl == "torch":
        torch, info = _peers.import_torch()
        import array_api_compat.torch as tx
        from torch.func import hessian
        hess = hessian(lambda x: rosenbrock(x, xp=tx))
        (tx_,) = _tensors(torch, (x,))
        return harness.Case(lambda: hess(tx_), digest=_torch_digest, foreign_alloc=True, info=info)
    raise KeyError(impl)


BUILDERS = {"perex": build_perex, "jacobian": build_jacobian, "hessian": build_hessian}


def build_case(workload, impl, options):
    return BUILDERS[workload](impl, options.get("smoke", False))


# --------------------------------------------------------------------------- self check

def _close(a, b, rtol=1e-6):
    return bool(np.allclose(a, b, rtol=rtol, atol=rtol * max(float(np.max(np.abs(b))), 1e-300)))


def self_check(verbose=True):
    """Handwritten per-example gradients, Jacobian and Hessian against central
    differences (float64, small sizes)."""
    failures = {}
    params, X, Y = perex_data(True, f64)
    G = perex_numpy(params, X, Y)
    problems = []
    for i in range(X.shape[0]):
        loss_i = lambda p: mlp_loss(p, X[i:i + 1], Y[i:i + 1])  # noqa: E731
        problems += [f"example {i}: {p}" for p in
                     check_grads_fd(loss_i, params, loss_i(params), tuple(g[i] for g in G))]
    failures["perex"] = problems
    x, W, b = layer_data(True, f64)
    J = jacobian_numpy(x, W, b)
    h = 1e-6
    fd = np.stack([(tanh_layer(x + h * e, W, b) - tanh_layer(x - h * e, W, b)) / (2 * h) for e in np.eye(x.size)], 1)
    failures["jacobian"] = [] if _close(J, fd) else [f"max err {np.max(np.abs(J - fd)):.3g}"]
    x = rosen_data(True)
    problems = check_grads_fd(lambda p: rosenbrock(p[0]), (x,), rosenbrock(x), (rosen_grad_numpy(x),))
    Hfd = np.stack([(rosen_grad_numpy(x + h * e) - rosen_grad_numpy(x - h * e)) / (2 * h) for e in np.eye(x.size)], 1)
    if not _close(hessian_numpy(x), Hfd, 1e-5):
        problems.append(f"hessian max err {np.max(np.abs(hessian_numpy(x) - Hfd)):.3g}")
    failures["hessian"] = problems
    if verbose:
        for k, v in failures.items():
            print(f"  {k:<9} {'ok' if not v else 'FAILED: ' + '; '.join(v)}")
    return {k: v for k, v in failures.items() if v}


SUITE = harness.Suite(
    module_file=__file__,
    title="Batched transformations on CPU: per-example gradients, Jacobians, Hessians",
    doc=__doc__,
    workloads=[
        harness.Workload("perex", "per-example gradients, MLP 784-512-512-10, batch 256, f32",
                         ["handwritten", "yota", "yota-loop", "jax", "torch"],
                         compare={"yota": "yota-loop"}),
        harness.Workload("jacobian", "256x256 Jacobian of tanh(W @ x + b), f32",
                         ["handwritten", "yota-jacrev", "yota-jacfwd", "jax-jacrev", "jax-jacfwd",
                          "torch-jacrev", "torch-jacfwd"]),
        harness.Workload("hessian", "64x64 Hessian of the Rosenbrock function, f64",
                         ["handwritten", "yota", "jax", "torch"]),
    ],
    worker_env=lambda impl, options: _peers.worker_env_for_checkout(),
)


def main(argv=None):
    return harness.main_with_self_check(SUITE, self_check, "per-example gradients / Jacobian / Hessian", argv)


if __name__ == "__main__":
    sys.exit(main())
