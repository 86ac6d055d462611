#!/usr/bin/env python
"""CPU benchmark: value + gradient, yota vs handwritten NumPy vs peers.

    python benchmarks/cpu.py                 # all workloads, all implementations
    python benchmarks/cpu.py --quick         # fewer repeats
    python benchmarks/cpu.py --only mlp,tiny --impl numpy,yota
    python benchmarks/cpu.py --markdown      # table for pasting into a README

Each workload has one loss written against the array API (``xp``) and one
handwritten NumPy forward + backward, which is the baseline: ``ratio`` is
median time / handwritten median time from the same run (<= 1.0 is faster
than handwritten). Every implementation's value and gradient are checked
against the handwritten ones before timing; a mismatch is printed loudly and
the row is marked, the run goes on.

Peers are used when importable: HIPS autograd, PyTorch (CPU), JAX (CPU, jit).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from losses import chain_loss, mlp_loss  # noqa: E402,F401
from _common import (  # noqa: E402
    first_call, fmt_bytes, fmt_ratio, fmt_time, median, peak_memory,
    print_machine, print_table, time_fn,
)

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # CPU benchmark: don't probe for GPUs

f32, f64 = np.float32, np.float64


# --------------------------------------------------------------------------
# Workloads: loss(params, *data, xp=None) in array-API style (yota calls it
# without xp, so it picks its namespace with array_namespace like user code);
# numpy_vg(params, *data) -> (value, grads of params) written by hand.
# --------------------------------------------------------------------------

@dataclass
class Workload:
    name: str
    desc: str
    make: object       # rng -> (params tuple, data tuple)
    loss: object       # (params, *data, xp=None) -> scalar
    numpy_vg: object   # (params, *data) -> (value, tuple of grads)


def glorot(rng, m, n, dtype):
    return (rng.standard_normal((m, n)) / np.sqrt(m)).astype(dtype)


# --- mlp: 784 -> 512 -> 512 -> 10, tanh, softmax cross-entropy -------------

def mlp_make(rng, batch=256, sizes=(784, 512, 512, 10)):
    params = []
    for m, n in zip(sizes, sizes[1:]):
        params += [glorot(rng, m, n, f32), (0.1 * rng.standard_normal(n)).astype(f32)]
    X = rng.random((batch, sizes[0]), dtype=f32)
    Y = np.eye(sizes[-1], dtype=f32)[rng.integers(0, sizes[-1], batch)]  # one-hot
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
    dZ = (E / S - Y) / n
    dA2 = (dZ @ W3.T) * (1 - H2 * H2)
    dA1 = (dA2 @ W2.T) * (1 - H1 * H1)
    return loss, (X.T @ dA1, dA1.sum(0), H1.T @ dA2, dA2.sum(0), H2.T @ dZ, dZ.sum(0))


# --- tiny: per-call overhead ------------------------------------------------

def tiny_make(rng, n=8):
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

def chain_make(rng, n=2_000_000):
    return (rng.standard_normal(n),), ()


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


# --- attention: one head, 256 x 64 -----------------------------------------

def attention_make(rng, n=256, d=64):
    params = tuple(glorot(rng, d, d, f32) for _ in range(3))
    return params, (rng.standard_normal((n, d)).astype(f32),)


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

def deep_make(rng, layers=20, width=64, batch=64):
    params = []
    for _ in range(layers):
        params += [glorot(rng, width, width, f32), (0.1 * rng.standard_normal(width)).astype(f32)]
    return tuple(params), (rng.standard_normal((batch, width)).astype(f32),)


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


WORKLOADS = {w.name: w for w in [
    Workload("mlp", "MLP 784-512-512-10, batch 256, tanh, softmax CE, f32", mlp_make, mlp_loss, mlp_numpy),
    Workload("tiny", "sum(tanh(x*w+b)), 8 elements, f64", tiny_make, tiny_loss, tiny_numpy),
    Workload("chain", "6x y=sin(y)*1.01+y*0.5, 2M elements, f64", chain_make, chain_loss, chain_numpy),
    Workload("attention", "1-head attention 256x64, grads Wq/Wk/Wv, f32", attention_make, attention_loss, attention_numpy),
    Workload("deep", "20 tanh layers x 64, batch 64, mean(out^2), f32", deep_make, deep_loss, deep_numpy),
]}


# --------------------------------------------------------------------------
# Implementations: factory(workload, params, data) -> Impl. ``call`` is what
# gets timed (one value + gradient, synchronised); ``to_numpy`` turns its
# result into (float value, tuple of ndarray grads) for the check only.
# --------------------------------------------------------------------------

@dataclass
class Impl:
    call: object
    to_numpy: object = None
    before_first: object = None   # run (untimed) before the first call
    foreign_alloc: bool = False   # arrays allocated outside tracemalloc's view


def _np_result(res):
    val, grads = res
    return float(val), tuple(np.asarray(g) for g in grads)


def make_numpy(w, params, data):
    return Impl(lambda: w.numpy_vg(params, *data))


def _import_yota():
    try:
        import yota
    except ImportError:
        # running from a checkout that is not installed
        sys.path.insert(0, os.path.dirname(HERE))
        import yota
    return yota


def make_yota(w, params, data):
    yota = _import_yota()
    if not hasattr(yota, "grad"):
        raise ImportError(f"yota at {os.path.dirname(yota.__file__)} has no grad() yet")

    def call():
        # wrt=1: gradients of the parameters only, like the handwritten code
        val, g = yota.grad(w.loss, params, *data, wrt=1)
        return val, g[1]
    return Impl(call, before_first=yota.reset)


def make_autograd(w, params, data):
    import autograd
    import autograd.numpy as anp
    vg = autograd.value_and_grad(lambda p: w.loss(p, *data, xp=anp))
    return Impl(lambda: vg(params))


def make_torch(w, params, data):
    import torch
    import array_api_compat.torch as tx
    tp = tuple(torch.from_numpy(p.copy()).requires_grad_() for p in params)
    td = tuple(torch.from_numpy(d) for d in data)

    def call():
        val = w.loss(tp, *td, xp=tx)
        return val.detach(), torch.autograd.grad(val, tp)

    def to_numpy(res):
        val, grads = res
        return float(val), tuple(g.numpy() for g in grads)
    return Impl(call, to_numpy, foreign_alloc=True)


def make_jax(w, params, data):
    import jax
    import jax.numpy as jnp
    x64 = any(np.asarray(a).dtype == f64 for a in params + data)
    jax.config.update("jax_enable_x64", x64)
    jp = tuple(jnp.asarray(p) for p in params)
    jd = tuple(jnp.asarray(d) for d in data)
    f = jax.jit(jax.value_and_grad(lambda p, *d: w.loss(p, *d, xp=jnp)))
    return Impl(lambda: jax.block_until_ready(f(jp, *jd)), foreign_alloc=True)


IMPLS = {
    "numpy": make_numpy,      # handwritten: the baseline, keep it first
    "yota": make_yota,
    "autograd": make_autograd,
    "torch": make_torch,
    "jax": make_jax,
}


def _version(module):
    v = getattr(sys.modules.get(module), "__version__", None)
    if v is None:
        try:
            from importlib.metadata import version
            v = version(module)
        except Exception:
            v = "?"
    return v


# --------------------------------------------------------------------------
# Checking and running
# --------------------------------------------------------------------------

def check(got, ref, dtype):
    """'' if ``got`` matches ``ref`` else a description of the mismatch."""
    rtol, atol_rel = (2e-3, 1e-4) if dtype == f32 else (1e-7, 1e-10)
    (gv, gg), (rv, rg) = got, ref
    problems = []
    if not math.isclose(gv, rv, rel_tol=rtol, abs_tol=atol_rel * max(abs(rv), 1.0)):
        problems.append(f"value {gv!r} != {rv!r}")
    if len(gg) != len(rg):
        return f"{len(gg)} gradients, expected {len(rg)}"
    for i, (a, b) in enumerate(zip(gg, rg)):
        if a.shape != b.shape:
            problems.append(f"grad[{i}] shape {a.shape} != {b.shape}")
            continue
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        if not np.allclose(a, b, rtol=rtol, atol=atol_rel * max(scale, 1e-30)):
            err = float(np.max(np.abs(a.astype(f64) - b)))
            problems.append(f"grad[{i}] max abs err {err:.3g} (max |ref| {scale:.3g})")
        if a.dtype != b.dtype:
            problems.append(f"grad[{i}] dtype {a.dtype} != {b.dtype}")
    return "; ".join(problems)


def loud(msg):
    bar = "!" * 78
    print(f"\n{bar}\n{msg}\n{bar}\n", file=sys.stderr, flush=True)


def short_error(e):
    text = f"{type(e).__name__}: {e}".splitlines()[0]
    return text if len(text) <= 70 else text[:67] + "..."


def run_workload(w, impls, args, versions):
    rng = np.random.default_rng(0)
    params, data = w.make(rng)
    dtype = np.asarray(params[0]).dtype
    rows, ref, base = [], None, None
    timing = dict(min_time=0.05, min_repeat=3) if args.quick else dict(min_time=0.3, min_repeat=7)
    for name in impls:
        row = {"workload": w.name, "impl": name if name != "numpy" else "handwritten"}
        print(f"  {w.name:<10} {row['impl']} ...", file=sys.stderr, flush=True)
        try:
            impl = IMPLS[name](w, params, data)
            if name != "numpy" and name not in versions:
                versions[name] = _version(name)
        except ImportError as e:
            rows.append(dict(row, status=f"unavailable ({short_error(e)})"))
            continue
        except Exception as e:
            loud(f"{name} on {w.name}: setup failed\n{traceback.format_exc()}")
            rows.append(dict(row, status=f"error ({short_error(e)})"))
            continue
        try:
            if impl.before_first:
                impl.before_first()
            t_first, res = first_call(impl.call)
            got = (impl.to_numpy or _np_result)(res)
            del res
            if ref is None:
                ref, status = got, "reference"
            else:
                problem = check(got, ref, dtype)
                status = "ok" if not problem else "MISMATCH"
                if problem:
                    loud(f"GRADIENT MISMATCH: {name} on {w.name}: {problem}")
            times = time_fn(impl.call, **timing)
            peak = peak_memory(impl.call)
        except Exception as e:
            loud(f"{name} on {w.name}: call failed\n{traceback.format_exc()}")
            rows.append(dict(row, status=f"error ({short_error(e)})"))
            continue
        med = median(times)
        if base is None:
            base = med
        rows.append(dict(
            row,
            median=fmt_time(med),
            ratio=fmt_ratio(med / base),
            first=fmt_time(t_first),
            peak=fmt_bytes(peak) + ("*" if impl.foreign_alloc else ""),
            n=len(times),
            status=status,
        ))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--only", help="comma-separated workloads: " + ",".join(WORKLOADS))
    p.add_argument("--impl", help="comma-separated implementations: " + ",".join(IMPLS)
                   + " (handwritten numpy always runs: it is the reference)")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = p.parse_args(argv)

    names = args.only.split(",") if args.only else list(WORKLOADS)
    impls = args.impl.split(",") if args.impl else list(IMPLS)
    for n in names:
        if n not in WORKLOADS:
            p.error(f"unknown workload {n!r}; choose from {', '.join(WORKLOADS)}")
    for n in impls:
        if n not in IMPLS:
            p.error(f"unknown implementation {n!r}; choose from {', '.join(IMPLS)}")
    impls = ["numpy"] + [n for n in impls if n != "numpy"]

    versions = {}
    rows = []
    for n in names:
        rows += run_workload(WORKLOADS[n], impls, args, versions)

    print()
    print_machine(versions, markdown=args.markdown)
    if args.markdown:
        print()
    print_table(rows, markdown=args.markdown)
    print()
    note = ("median: per value+grad call; ratio: median / handwritten median (<= 1.0 is faster); "
            "first: first call (yota after yota.reset(), JAX incl. jit compile); "
            "peak: tracemalloc peak during one call (* = library allocates outside "
            "tracemalloc, lower bound); n: timing samples.")
    print(f"_{note}_" if args.markdown else note)
    if any(r.get("status") == "MISMATCH" for r in rows):
        print("\nWARNING: some gradients did not match the handwritten reference (see above).")
    print("\nWorkloads:" if not args.markdown else "\nWorkloads:\n")
    for n in names:
        print(f"- `{n}`: {WORKLOADS[n].desc}" if args.markdown else f"  {n:<10} {WORKLOADS[n].desc}")


if __name__ == "__main__":
    main()
