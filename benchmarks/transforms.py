#!/usr/bin/env python
"""Transformations on CPU: forward mode (jvp), Hessian-vector products (hvp)
and checkpointing, yota against JAX and PyTorch, with handwritten NumPy as the
reference.

    python benchmarks/transforms.py                   # everything
    python benchmarks/transforms.py --only jvp,hvp --impl yota,jax
    python benchmarks/transforms.py --only ckpt       # memory and time with / without checkpoints
    python benchmarks/transforms.py --markdown
    python benchmarks/transforms.py --self-check      # handwritten code vs finite differences

Workloads (float32):

  jvp   J(params) @ t of the MLP forward (784-512-512-10, batch 256): the logits
        and their tangent. yota.jvp / jax.jit(jax.jvp) / torch.func.jvp.
  hvp   H(params) @ t of the MLP's softmax cross-entropy. yota.hvp /
        jax.jit of jax.jvp(jax.grad(f), ...) / torch.func.jvp(torch.func.grad(f), ...).
  ckpt  value and parameter gradients of a 64-block residual tanh MLP (width 256,
        batch 4096, h = h + tanh(h @ W + b), loss = sum(h*h) / batch), without and
        with one checkpoint per block: yota.checkpoint, torch.utils.checkpoint
        (use_reentrant=False), jax.checkpoint. Memory is measured as the
        tracemalloc peak (NumPy-backed: handwritten, yota) and as the RSS peak in a
        separate memory worker (every library); `*-out` columns subtract what the
        returned gradients hold (256 MiB), and the `vs` columns compare each
        checkpointed row with the same library without checkpoints.
"""
from __future__ import annotations

import functools
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import harness  # noqa: E402
import _peers  # noqa: E402
from _common import check_grads_fd  # noqa: E402
from losses import mlp_forward, mlp_loss, res_block, res_loss  # noqa: E402
from cpu import glorot, mlp_make, mlp_numpy  # noqa: E402

f32, f64 = np.float32, np.float64


# --------------------------------------------------------------------------- data

def tangents_like(rng, params):
    return tuple((0.1 * rng.standard_normal(p.shape)).astype(p.dtype) for p in params)


def mlp_data(smoke, dtype=f32):
    rng = np.random.default_rng(0)
    params, (X, Y) = mlp_make(rng, smoke, dtype)
    return params, X, Y, tangents_like(rng, params)


def res_make(smoke, dtype=f32):
    rng = np.random.default_rng(0)
    blocks, width, batch = (3, 8, 4) if smoke else (64, 256, 4096)
    params = []
    for _ in range(blocks):
        params += [glorot(rng, width, width, dtype), (0.1 * rng.standard_normal(width)).astype(dtype)]
    return tuple(params), rng.standard_normal((batch, width)).astype(dtype)


# --------------------------------------------------------------------------- handwritten

def jvp_numpy(params, X, t):
    """(logits, their tangent along t), forward mode by hand."""
    W1, b1, W2, b2, W3, b3 = params
    V1, v1, V2, v2, V3, v3 = t
    H1 = np.tanh(X @ W1 + b1)
    dH1 = (1 - H1 * H1) * (X @ V1 + v1)
    H2 = np.tanh(H1 @ W2 + b2)
    dH2 = (1 - H2 * H2) * (dH1 @ W2 + H1 @ V2 + v2)
    return H2 @ W3 + b3, dH2 @ W3 + H2 @ V3 + v3


def hvp_numpy(params, X, Y, t):
    """H @ t of mlp_loss: the backward pass of mlp_numpy and its tangent along t
    (forward over reverse, by hand). Rows of Y sum to one."""
    W1, b1, W2, b2, W3, b3 = params
    V1, v1, V2, v2, V3, v3 = t
    n = X.shape[0]
    H1 = np.tanh(X @ W1 + b1)
    dH1 = (1 - H1 * H1) * (X @ V1 + v1)
    H2 = np.tanh(H1 @ W2 + b2)
    dH2 = (1 - H2 * H2) * (dH1 @ W2 + H1 @ V2 + v2)
    Z = H2 @ W3 + b3
    dZ = dH2 @ W3 + H2 @ V3 + v3
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    P = E / E.sum(axis=1, keepdims=True)
    GZ = (P - Y) / n                                             # gradient at Z
    tGZ = P * (dZ - (P * dZ).sum(axis=1, keepdims=True)) / n     # its tangent
    GH2 = GZ @ W3.T
    tGH2 = tGZ @ W3.T + GZ @ V3.T
    S2 = 1 - H2 * H2
    GA2 = GH2 * S2
    tGA2 = tGH2 * S2 - 2 * GH2 * H2 * dH2
    GH1 = GA2 @ W2.T
    tGH1 = tGA2 @ W2.T + GA2 @ V2.T
    tGA1 = tGH1 * (1 - H1 * H1) - 2 * GH1 * H1 * dH1
    return (X.T @ tGA1, tGA1.sum(0), dH1.T @ GA2 + H1.T @ tGA2, tGA2.sum(0),
            dH2.T @ GZ + H2.T @ tGZ, tGZ.sum(0))


def res_numpy(params, X):
    Ws, bs = params[::2], params[1::2]
    Hs, Ts = [X], []
    for W, b in zip(Ws, bs):
        T = np.tanh(Hs[-1] @ W + b)
        Ts.append(T)
        Hs.append(Hs[-1] + T)
    H = Hs[-1]
    n = X.shape[0]
    dH = (2 / n) * H
    grads = [None] * len(params)
    for i in reversed(range(len(Ws))):
        dA = dH * (1 - Ts[i] * Ts[i])
        grads[2 * i], grads[2 * i + 1] = Hs[i].T @ dA, dA.sum(0)
        dH = dH + dA @ Ws[i].T
    return np.sum(H * H) / n, tuple(grads)


# --------------------------------------------------------------------------- implementations

def _torch_tensors(torch, arrays):
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)


def _torch_digest(res):
    return None, tuple(_peers.torch_to_numpy(t) for t in harness._leaves(res))


def build_jvp(impl, smoke):
    params, X, _, t = mlp_data(smoke)
    if impl == "handwritten":
        return harness.Case(lambda: jvp_numpy(params, X, t))
    if impl == "yota":
        yota = _peers.import_yota()
        fwd = lambda p: mlp_forward(p, X)  # noqa: E731  (X is captured: an input of the tape)
        return harness.Case(lambda: yota.jvp(fwd, (params,), (t,)), digest=lambda r: (None, r),
                            before_first=yota.reset, info=_peers.yota_info(yota))
    if impl == "jax":
        jax, info = _peers.import_jax(False)
        import jax.numpy as jnp
        f = jax.jit(lambda p, t, X: jax.jvp(lambda q: mlp_forward(q, X, xp=jnp), (p,), (t,)))
        jp, jt, jX = (jax.tree_util.tree_map(jnp.asarray, a) for a in (params, t, X))
        return harness.Case(lambda: jax.block_until_ready(f(jp, jt, jX)), digest=lambda r: (None, r),
                            foreign_alloc=True, info=info)
    if impl == "torch":
        torch, info = _peers.import_torch()
        import array_api_compat.torch as tx
        from torch.func import jvp
        tp, tt, (tX,) = _torch_tensors(torch, params), _torch_tensors(torch, t), _torch_tensors(torch, (X,))
        fwd = lambda q: mlp_forward(q, tX, xp=tx)  # noqa: E731
        return harness.Case(lambda: jvp(fwd, (tp,), (tt,)), digest=_torch_digest, foreign_alloc=True, info=info)
    raise KeyError(impl)


def build_hvp(impl, smoke):
    params, X, Y, t = mlp_data(smoke)
    if impl == "handwritten":
        return harness.Case(lambda: hvp_numpy(params, X, Y, t), digest=lambda r: (None, r))
    if impl == "yota":
        yota = _peers.import_yota()
        loss = lambda p: mlp_loss(p, X, Y)  # noqa: E731
        return harness.Case(lambda: yota.hvp(loss, (params,), (t,))[1], digest=lambda r: (None, r),
                            before_first=yota.reset, info=_peers.yota_info(yota))
    if impl == "jax":
        jax, info = _peers.import_jax(False)
        import jax.numpy as jnp

        def hvp(p, t, X, Y):
            return jax.jvp(jax.grad(lambda q: mlp_loss(q, X, Y, xp=jnp)), (p,), (t,))[1]
        f = jax.jit(hvp)
        args = [jax.tree_util.tree_map(jnp.asarray, a) for a in (params, t, X, Y)]
        return harness.Case(lambda: jax.block_until_ready(f(*args)), digest=lambda r: (None, r),
                            foreign_alloc=True, info=info)
    if impl == "torch":
        torch, info = _peers.import_torch()
        import array_api_compat.torch as tx
        from torch.func import grad, jvp
        tp, tt = _torch_tensors(torch, params), _torch_tensors(torch, t)
        tX, tY = _torch_tensors(torch, (X, Y))
        g = grad(lambda q: mlp_loss(q, tX, tY, xp=tx))
        return harness.Case(lambda: jvp(g, (tp,), (tt,))[1], digest=_torch_digest, foreign_alloc=True, info=info)
    raise KeyError(impl)


def build_ckpt(impl, smoke):
    params, X = res_make(smoke)
    family, _, variant = impl.partition("-")
    ckpt = variant == "ckpt"
    if impl == "handwritten":
        return harness.Case(lambda: res_numpy(params, X))
    if family == "yota":
        yota = _peers.import_yota()
        block = yota.checkpoint(res_block) if ckpt else res_block
        loss = lambda p, X: res_loss(p, X, block=block)  # noqa: E731

        def call():
            val, g = yota.grad(loss, params, X, wrt=1)
            return val, g[1]
        return harness.Case(call, before_first=yota.reset, info=_peers.yota_info(yota))
    if family == "torch":
        torch, info = _peers.import_torch()
        import array_api_compat.torch as tx
        from torch.utils.checkpoint import checkpoint
        tp = tuple(t.requires_grad_() for t in _torch_tensors(torch, params))
        (tX,) = _torch_tensors(torch, (X,))
        plain = functools.partial(res_block, xp=tx)
        block = (lambda h, W, b: checkpoint(plain, h, W, b, use_reentrant=False)) if ckpt else plain

        def call():
            val = res_loss(tp, tX, xp=tx, block=block)
            return val.detach(), torch.autograd.grad(val, tp)

        def digest(res):
            return float(res[0]), tuple(_peers.torch_to_numpy(g) for g in res[1])
        return harness.Case(call, digest, foreign_alloc=True, info=info)
    if family == "jax":
        jax, info = _peers.import_jax(False)
        import jax.numpy as jnp
        plain = functools.partial(res_block, xp=jnp)
        block = jax.checkpoint(plain) if ckpt else plain
        f = jax.jit(jax.value_and_grad(lambda p, X: res_loss(p, X, xp=jnp, block=block)))
        jp, jX = tuple(jnp.asarray(p) for p in params), jnp.asarray(X)
        del params, X  # the worker keeps one copy of the model, the library's
        return harness.Case(lambda: jax.block_until_ready(f(jp, jX)), foreign_alloc=True, info=info)
    raise KeyError(impl)


BUILDERS = {"jvp": build_jvp, "hvp": build_hvp, "ckpt": build_ckpt}


def build_case(workload, impl, options):
    return BUILDERS[workload](impl, options.get("smoke", False))


# --------------------------------------------------------------------------- self check

def _close(a, b, rtol=1e-6):
    return np.allclose(a, b, rtol=rtol, atol=rtol * max(float(np.max(np.abs(b))), 1e-300))


def self_check(verbose=True):
    """The handwritten jvp, hvp and residual-MLP gradient against central
    differences (float64, small sizes)."""
    failures = {}
    params, X, Y, t = mlp_data(True, f64)
    h = 1e-6

    def shifted(s):
        return tuple(p + s * v for p, v in zip(params, t))
    Z, dZ = jvp_numpy(params, X, t)
    fd = (mlp_forward(shifted(h), X) - mlp_forward(shifted(-h), X)) / (2 * h)
    problems = [] if _close(Z, mlp_forward(params, X)) else ["forward value"]
    problems += [] if _close(dZ, fd) else [f"jvp: max err {np.max(np.abs(dZ - fd)):.3g}"]
    failures["jvp"] = problems
    hv = hvp_numpy(params, X, Y, t)
    gp, gm = mlp_numpy(shifted(h), X, Y)[1], mlp_numpy(shifted(-h), X, Y)[1]
    failures["hvp"] = [f"hvp[{i}]: max err {np.max(np.abs(a - (p - m) / (2 * h))):.3g}"
                       for i, (a, p, m) in enumerate(zip(hv, gp, gm)) if not _close(a, (p - m) / (2 * h), 1e-5)]
    rp, rX = res_make(True, f64)
    value, grads = res_numpy(rp, rX)
    failures["ckpt"] = check_grads_fd(lambda p: res_loss(p, rX), rp, value, grads)
    if verbose:
        for k, v in failures.items():
            print(f"  {k:<6} {'ok' if not v else 'FAILED: ' + '; '.join(v)}")
    return {k: v for k, v in failures.items() if v}


SUITE = harness.Suite(
    module_file=__file__,
    title="Transformations on CPU: jvp, hvp, checkpointing",
    doc=__doc__,
    workloads=[
        harness.Workload("jvp", "jvp of the MLP forward 784-512-512-10, batch 256, f32 (logits and tangent)",
                         ["handwritten", "yota", "jax", "torch"]),
        harness.Workload("hvp", "hvp of the MLP softmax cross-entropy, batch 256, f32",
                         ["handwritten", "yota", "jax", "torch"]),
        harness.Workload("ckpt", "64 residual tanh blocks, width 256, batch 4096, f32: value + parameter "
                         "gradients, without / with one checkpoint per block",
                         ["handwritten", "yota", "yota-ckpt", "torch", "torch-ckpt", "jax", "jax-ckpt"],
                         compare={"yota-ckpt": "yota", "torch-ckpt": "torch", "jax-ckpt": "jax"},
                         rss=True, above_result=True),
    ],
    worker_env=lambda impl, options: _peers.worker_env_for_checkout(),
)


def main(argv=None):
    return harness.main_with_self_check(SUITE, self_check, "jvp / hvp / gradients", argv)


if __name__ == "__main__":
    sys.exit(main())
