#!/usr/bin/env python
"""CPU benchmark: value + gradient, yota vs handwritten NumPy vs peers.

    python benchmarks/cpu.py                    # every workload, every implementation
    python benchmarks/cpu.py --quick            # 3 rounds instead of 5
    python benchmarks/cpu.py --only mlp,tiny --impl yota,torch
    python benchmarks/cpu.py --only longloop-4000,longloop-20000   # first calls, fresh processes
    python benchmarks/cpu.py --markdown         # tables for pasting into a README
    python benchmarks/cpu.py --self-check       # handwritten gradients vs finite differences

Each workload has one loss written against the array API (``xp``) and one
handwritten NumPy forward + backward, which is the reference: every
implementation's value and gradients are compared with it (a mismatch is
printed loudly and marked), and ``ratio`` is time / handwritten time in the
same round. Every implementation runs in its own process, one at a time, in
interleaved rounds (see harness.py and README.md).

Implementations: handwritten NumPy; yota (``yota.grad(loss, params, *data,
wrt=1)``: parameter gradients only, like the others); HIPS autograd; PyTorch
(CPU, ``torch.autograd.grad``); JAX (``jax.jit(jax.value_and_grad)``, x64 for
float64 workloads); for the chain also a handwritten numexpr version (fused
expressions on all cores: the physical ceiling). A missing peer shows as
``unavailable``.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np
from array_api_compat import array_namespace

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import harness  # noqa: E402
from _common import check_grads_fd  # noqa: E402
from losses import chain_loss, mlp_loss  # noqa: E402
import _peers  # noqa: E402

f32, f64 = np.float32, np.float64


# --------------------------------------------------------------------------
# Workloads: loss(params, *data, xp=None) in array-API style (yota calls it
# without xp, so it picks its namespace with array_namespace like user code);
# numpy_vg(params, *data) -> (value, grads of params) written by hand;
# make(rng, smoke) -> (params, data), tiny sizes when smoke.
# --------------------------------------------------------------------------

@dataclass
class Spec:
    name: str
    desc: str
    make: object
    loss: object
    numpy_vg: object
    impls: list = field(default_factory=lambda: ["handwritten", "yota", "autograd", "torch", "jax"])
    kind: str = "steady"
    compare: dict = field(default_factory=dict)


def glorot(rng, m, n, dtype):
    return (rng.standard_normal((m, n)) / np.sqrt(m)).astype(dtype)


# --- mlp: 784 -> 512 -> 512 -> 10, tanh, softmax cross-entropy -------------

def mlp_make(rng, smoke=False, dtype=f32):
    batch, sizes = (4, (6, 5, 4, 3)) if smoke else (256, (784, 512, 512, 10))
    params = []
    for m, n in zip(sizes, sizes[1:]):
        params += [glorot(rng, m, n, dtype), (0.1 * rng.standard_normal(n)).astype(dtype)]
    X = rng.random((batch, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], batch)]  # one-hot
    return tuple(params), (X, Y)


def mlp_numpy(params, X, Y):
    W1, b1, W2, b2, W3, b3 = params
    H1 = np.tanh(X @ W1 + b1)
    H2 = np.tanh(H1 @ W2 + b2)
    Z = H2 @ W3 + b3
    Z -= Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    S = E.sum(axis=1, keepdims=True)
    n = X.shape[0]
    loss = -np.sum(Y * (Z - np.log(S))) / n
    dZ = (E / S - Y) / n          # rows of Y sum to one (one-hot)
    dA2 = (dZ @ W3.T) * (1 - H2 * H2)
    dA1 = (dA2 @ W2.T) * (1 - H1 * H1)
    return loss, (X.T @ dA1, dA1.sum(0), H1.T @ dA2, dA2.sum(0), H2.T @ dZ, dZ.sum(0))


# --- tiny: per-call overhead ------------------------------------------------

def tiny_make(rng, smoke=False, n=8):
    return tuple(rng.standard_normal(n) for _ in range(3)), ()


def tiny_loss(params, xp=None):
    x, w, b = params
    xp = xp or array_namespace(x)
    return xp.sum(xp.tanh(x * w + b))


def tiny_numpy(params):
    x, w, b = params
    t = np.tanh(x * w + b)
    d = 1 - t * t
    return t.sum(), (d * w, d * x, d)


# --- chain: long elementwise chain over 2M float64 -----------------------

def chain_make(rng, smoke=False):
    return (rng.standard_normal(64 if smoke else 2_000_000),), ()


def chain_numpy(params):
    (y,) = params
    ys = []
    for _ in range(6):
        ys.append(y)
        y = np.sin(y) * 1.01 + y * 0.5
    g = np.cos(ys[-1]) * 1.01 + 0.5
    for y_i in reversed(ys[:-1]):
        g *= np.cos(y_i) * 1.01 + 0.5
    return y.sum(), (g,)


def chain_numexpr_vg(ne):
    """The chain with one fused numexpr expression per step, forward and backward."""
    def vg(params):
        (y,) = params
        ys = []
        for _ in range(6):
            ys.append(y)
            y = ne.evaluate("sin(y) * 1.01 + y * 0.5")
        yi = ys[-1]
        g = ne.evaluate("cos(yi) * 1.01 + 0.5")
        for yi in reversed(ys[:-1]):
            ne.evaluate("g * (cos(yi) * 1.01 + 0.5)", out=g)
        return y.sum(), (g,)
    return vg


# --- attention: one head, 256 x 64 -----------------------------------------

def attention_make(rng, smoke=False, dtype=f32):
    n, d = (5, 3) if smoke else (256, 64)
    params = tuple(glorot(rng, d, d, dtype) for _ in range(3))
    return params, (rng.standard_normal((n, d)).astype(dtype),)


def attention_loss(params, X, xp=None):
    xp = xp or array_namespace(X)
    Wq, Wk, Wv = params
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    S = (Q @ K.T) / math.sqrt(Q.shape[1])
    E = xp.exp(S - xp.max(S, axis=1, keepdims=True))
    A = E / xp.sum(E, axis=1, keepdims=True)
    O = A @ V
    return xp.sum(O * O)


def attention_numpy(params, X):
    Wq, Wk, Wv = params
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    scale = 1 / math.sqrt(Q.shape[1])
    S = (Q @ K.T) * scale
    E = np.exp(S - S.max(axis=1, keepdims=True))
    A = E / E.sum(axis=1, keepdims=True)
    O = A @ V
    dO = 2 * O
    dA = dO @ V.T
    dS = A * (dA - (dA * A).sum(axis=1, keepdims=True)) * scale
    dQ, dK, dV = dS @ K, dS.T @ Q, A.T @ dO
    return np.sum(O * O), (X.T @ dQ, X.T @ dK, X.T @ dV)


# --- deep: 20 layers x 64 units, batch 64 ----------------------------------

def deep_make(rng, smoke=False, dtype=f32):
    layers, width, batch = (3, 4, 5) if smoke else (20, 64, 64)
    params = []
    for _ in range(layers):
        params += [glorot(rng, width, width, dtype), (0.1 * rng.standard_normal(width)).astype(dtype)]
    return tuple(params), (rng.standard_normal((batch, width)).astype(dtype),)


def deep_loss(params, X, xp=None):
    xp = xp or array_namespace(X)
    H = X
    for W, b in zip(params[::2], params[1::2]):
        H = xp.tanh(H @ W + b)
    return xp.mean(H * H)


def deep_numpy(params, X):
    Ws, Hs = params[::2], [X]
    for W, b in zip(Ws, params[1::2]):
        Hs.append(np.tanh(Hs[-1] @ W + b))
    H = Hs[-1]
    dH = 2 * H / H.size
    grads = []
    for i in reversed(range(len(Ws))):
        dA = dH * (1 - Hs[i + 1] * Hs[i + 1])
        grads += [dA.sum(0), Hs[i].T @ dA]
        dH = dA @ Ws[i].T
    return np.mean(H * H), tuple(reversed(grads))


# --- gelu_ln: y = layernorm(gelu(x @ W + b)), 512 x 1024 ---------------------

GELU_C = math.sqrt(2 / math.pi)   # tanh form of GELU: the array API has no erf
GELU_A = 0.044715
LN_EPS = 1e-5


def gelu_ln_make(rng, smoke=False, dtype=f32):
    n, d = (4, 6) if smoke else (512, 1024)
    W = glorot(rng, d, d, dtype)
    b = (0.1 * rng.standard_normal(d)).astype(dtype)
    scale = (1 + 0.1 * rng.standard_normal(d)).astype(dtype)
    shift = (0.1 * rng.standard_normal(d)).astype(dtype)
    return (W, b, scale, shift), (rng.standard_normal((n, d)).astype(dtype),)


def gelu_ln_loss(params, X, xp=None):
    xp = xp or array_namespace(X)
    W, b, scale, shift = params
    Z = X @ W + b
    G = 0.5 * Z * (1.0 + xp.tanh(GELU_C * (Z + GELU_A * (Z * Z * Z))))
    mu = xp.mean(G, axis=-1, keepdims=True)
    D = G - mu
    var = xp.mean(D * D, axis=-1, keepdims=True)
    Y = D / xp.sqrt(var + LN_EPS) * scale + shift
    return xp.sum(Y * Y)


def gelu_ln_numpy(params, X):
    W, b, scale, shift = params
    Z = X @ W + b
    Z2 = Z * Z
    T = np.tanh(GELU_C * (Z + GELU_A * (Z2 * Z)))
    G = 0.5 * Z * (1 + T)
    D = G - G.mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt((D * D).mean(axis=-1, keepdims=True) + LN_EPS)
    Hn = D * rstd
    Y = Hn * scale + shift
    dY = 2 * Y
    dHn = dY * scale
    # layer norm backward: project out the mean and the Hn direction of each row
    dG = rstd * (dHn - dHn.mean(axis=-1, keepdims=True) - Hn * (dHn * Hn).mean(axis=-1, keepdims=True))
    # d gelu / dz = (1 + T) / 2 + z (1 - T^2) c (1 + 3 a z^2) / 2
    dZ = dG * (0.5 * (1 + T) + (0.5 * GELU_C) * Z * (1 - T * T) * (1 + (3 * GELU_A) * Z2))
    return np.sum(Y * Y), (X.T @ dZ, dZ.sum(0), (dY * Hn).sum(0), dY.sum(0))


# --- longloop: first call on a long Python loop ------------------------------

def longloop_make(rng, smoke=False):
    return (rng.standard_normal(8),), ()


def longloop_loss(n):
    def loss(params, xp=None):
        (x,) = params
        xp = xp or array_namespace(x)
        for _ in range(n):
            x = xp.tanh(x) * 1.0001
        return xp.sum(x)
    loss.__name__ = f"longloop_{n}"
    return loss


def longloop_numpy(n):
    def vg(params):
        (x,) = params
        d = np.ones_like(x)
        for _ in range(n):
            t = np.tanh(x)
            d *= (1 - t * t) * 1.0001
            x = t * 1.0001
        return x.sum(), (d,)
    return vg


def _longloop(n):
    return Spec(f"longloop-{n}", f"first call: {n}x x = tanh(x)*1.0001 on 8 f64 elements, grad of sum(x) "
                f"(fresh process each)", longloop_make, longloop_loss(n), longloop_numpy(n),
                impls=["handwritten", "yota", "autograd", "torch"], kind="first",
                compare={"yota": "autograd", "torch": "autograd"})


SPECS = {s.name: s for s in [
    Spec("mlp", "MLP 784-512-512-10, batch 256, tanh, softmax CE, f32", mlp_make, mlp_loss, mlp_numpy),
    Spec("tiny", "sum(tanh(x*w+b)), 8 elements, f64", tiny_make, tiny_loss, tiny_numpy),
    Spec("chain", "6x y=sin(y)*1.01+y*0.5, 2M elements, f64", chain_make, chain_loss, chain_numpy,
         impls=["handwritten", "numexpr", "yota", "autograd", "torch", "jax"]),
    Spec("attention", "1-head attention 256x64, grads Wq/Wk/Wv, f32", attention_make, attention_loss,
         attention_numpy),
    Spec("deep", "20 tanh layers x 64, batch 64, mean(out^2), f32", deep_make, deep_loss, deep_numpy),
    Spec("gelu_ln", "y = layernorm(gelu(x@W+b)) (tanh GELU, learned scale/shift), x 512x1024, W 1024x1024, "
         "loss sum(y*y), grads W/b/scale/shift, f32", gelu_ln_make, gelu_ln_loss, gelu_ln_numpy),
    _longloop(4000),
    _longloop(20000),
]}


# --------------------------------------------------------------------------
# Implementations, built inside the worker: (spec, params, data) -> Case.
# ``call`` is one value + gradient, synchronised; the digest is
# (value, gradients) as NumPy arrays.
# --------------------------------------------------------------------------

def make_handwritten(spec, params, data):
    return harness.Case(lambda: spec.numpy_vg(params, *data))


def make_numexpr(spec, params, data):
    if spec.name != "chain":
        raise ImportError("numexpr: only the chain has a numexpr version")
    ne, info = _peers.import_numexpr()
    vg = chain_numexpr_vg(ne)
    return harness.Case(lambda: vg(params), info=info)


def make_yota(spec, params, data):
    yota = _peers.import_yota()

    def call():
        # wrt=1: gradients of the parameters only, like the handwritten code
        val, g = yota.grad(spec.loss, params, *data, wrt=1)
        return val, g[1]
    return harness.Case(call, before_first=yota.reset, info=_peers.yota_info(yota))


def make_autograd(spec, params, data):
    autograd, info = _peers.import_autograd()
    import autograd.numpy as anp
    vg = autograd.value_and_grad(lambda p: spec.loss(p, *data, xp=anp))
    return harness.Case(lambda: vg(params), info=info)


def make_torch(spec, params, data):
    torch, info = _peers.import_torch()
    import array_api_compat.torch as tx
    tp = tuple(torch.from_numpy(p.copy()).requires_grad_() for p in params)
    td = tuple(torch.from_numpy(d) for d in data)

    def call():
        val = spec.loss(tp, *td, xp=tx)
        return val.detach(), torch.autograd.grad(val, tp)

    def digest(res):
        val, grads = res
        return float(val), tuple(_peers.torch_to_numpy(g) for g in grads)
    return harness.Case(call, digest, foreign_alloc=True, info=info)


def make_jax(spec, params, data):
    jax, info = _peers.import_jax(_peers.is_f64(*params, *data))
    import jax.numpy as jnp
    jp = tuple(jnp.asarray(p) for p in params)
    jd = tuple(jnp.asarray(d) for d in data)
    f = jax.jit(jax.value_and_grad(lambda p, *d: spec.loss(p, *d, xp=jnp)))
    return harness.Case(lambda: jax.block_until_ready(f(jp, *jd)), foreign_alloc=True, info=info)


IMPLS = {
    "handwritten": make_handwritten,
    "numexpr": make_numexpr,
    "yota": make_yota,
    "autograd": make_autograd,
    "torch": make_torch,
    "jax": make_jax,
}


def build_case(workload, impl, options):
    spec = SPECS[workload]
    if options.get("smoke") and spec.kind == "first":
        spec = _longloop(50)  # the smoke run checks the code path, not the length
    params, data = spec.make(np.random.default_rng(0), options.get("smoke", False))
    return IMPLS[impl](spec, params, data)


# --------------------------------------------------------------------------
# Self check: every handwritten gradient against finite differences of the
# array-API loss, at small sizes in float64.
# --------------------------------------------------------------------------

def self_check(verbose=True):
    failures = {}
    rng = np.random.default_rng(1)
    for name, spec in SPECS.items():
        if name == "longloop-20000":
            continue  # same code as longloop-4000
        params, data = spec.make(rng, True)
        params = tuple(np.asarray(p, f64) for p in params)
        data = tuple(np.asarray(d, f64) for d in data)
        if name.startswith("longloop"):
            spec = _longloop(50)
        value, grads = spec.numpy_vg(params, *data)
        problems = check_grads_fd(lambda p: spec.loss(p, *data), params, value, grads)
        if problems:
            failures[name] = problems
        if verbose:
            print(f"  {name:<16} {'ok' if not problems else 'FAILED: ' + '; '.join(problems)}")
    return failures


SUITE = harness.Suite(
    module_file=__file__,
    title="CPU benchmark: value + gradient, yota vs handwritten NumPy vs peers",
    doc=__doc__,
    workloads=[harness.Workload(s.name, s.desc, s.impls, kind=s.kind, compare=s.compare) for s in SPECS.values()],
    worker_env=lambda impl, options: _peers.worker_env_for_checkout(),
)


def main(argv=None):
    return harness.main_with_self_check(SUITE, self_check, "gradients", argv)


if __name__ == "__main__":
    sys.exit(main())
