#!/usr/bin/env python
"""GPU benchmark: value + all gradients in float32, yota on CuPy against
handwritten CuPy, PyTorch autograd and JAX.

    python benchmarks/gpu.py                  # everything (about 1-2 minutes on an H100)
    python benchmarks/gpu.py --quick          # fewer repeats
    python benchmarks/gpu.py --only chain --impl yota,torch
    python benchmarks/gpu.py --markdown       # Markdown table for the README

Workloads (float32):

  mlp        MLP 784 -> 512 -> 512 -> 10, batch 256, tanh, mean softmax cross-entropy
  mlp-large  MLP 1024 -> 4096 -> 4096 -> 1000, batch 4096, same loss
  chain      y = sin(y) * 1.01 + y * 0.5 six times over 16M values, gradient of sum(y)

Implementations:

  cupy          handwritten CuPy forward + backward, one CuPy call per operation: the baseline
  cupy-fused    handwritten, one ElementwiseKernel per layer forward and backward (chain)
  yota          yota.grad(loss, params, X, Y, wrt=1) on CuPy arrays (gradients of the
                parameters only, like the others), elementwise fusion on (the default)
  yota-unfused  the same with fusion off (yota.backends.cupy.use_fusion(False))
  yota+graphs   fusion and CUDA graphs (use_cuda_graphs(True)) (mlp)
  torch         PyTorch autograd on CUDA, TF32 off (FP32 matmuls)
  jax           jax.jit(jax.value_and_grad), matmul precision "highest" (FP32)
  jax-tf32      the same with TF32 matmuls, for reference only (MLPs)

Timing: after a first call (reported as `first`: trace + compile for yota,
jit for JAX), calls are timed with a device synchronize after each batch of
calls (`cupy.cuda.Device().synchronize()`, `torch.cuda.synchronize()`,
`block_until_ready`); `median` is the median time per call over `n` samples
(about 0.3 s per row). `vs cupy`, `vs torch`, `vs jax`: median / that row's
median in the same run (< 1 is faster). Every implementation's value and
parameter gradients are compared with the handwritten CuPy ones (relative
L2 error; FP32 rows must agree to 1e-4, TF32 rows to 3e-2).

Reference figures from the issue, measured on an H200 (ms per call):
mlp: torch 0.749, JAX 0.173, handwritten CuPy 0.505; mlp-large: torch 12.0,
JAX 2.43 (TF32), handwritten CuPy 12.9 (FP32); chain: torch 2.15, JAX 0.37,
handwritten CuPy 3.90 unfused / 1.06 fused.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))  # yota from the checkout
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # share the GPU with CuPy and torch

from losses import chain_loss, mlp_loss  # noqa: E402,F401
from _common import first_call, fmt_ratio, fmt_time, median, print_machine, print_table, time_fn  # noqa: E402

f32 = np.float32


# --------------------------------------------------------------------------- workloads (host data)

def glorot(rng, m, n):
    return (rng.standard_normal((m, n)) / np.sqrt(m)).astype(f32)


def mlp_make(rng, batch, sizes):
    params = []
    for m, n in zip(sizes, sizes[1:]):
        params += [glorot(rng, m, n), (0.1 * rng.standard_normal(n)).astype(f32)]
    X = rng.random((batch, sizes[0]), dtype=f32)
    Y = np.eye(sizes[-1], dtype=f32)[rng.integers(0, sizes[-1], batch)]
    return tuple(params), (X, Y)


def mlp_cupy(params, X, Y):
    import cupy as cp
    W1, b1, W2, b2, W3, b3 = params
    H1 = cp.tanh(X @ W1 + b1)
    H2 = cp.tanh(H1 @ W2 + b2)
    Z = H2 @ W3 + b3
    Z = Z - Z.max(axis=1, keepdims=True)
    E = cp.exp(Z)
    S = E.sum(axis=1, keepdims=True)
    n = X.shape[0]
    loss = -(Y * (Z - cp.log(S))).sum() / n
    dZ = (E / S * Y.sum(axis=1, keepdims=True) - Y) / n
    dA2 = (dZ @ W3.T) * (1 - H2 * H2)
    dA1 = (dA2 @ W2.T) * (1 - H1 * H1)
    return loss, (X.T @ dA1, dA1.sum(0), H1.T @ dA2, dA2.sum(0), H2.T @ dZ, dZ.sum(0))


def mlp_torch(params, X, Y):
    import torch
    W1, b1, W2, b2, W3, b3 = params
    H1 = torch.tanh(X @ W1 + b1)
    H2 = torch.tanh(H1 @ W2 + b2)
    Z = H2 @ W3 + b3
    Z = Z - Z.amax(dim=1, keepdim=True)
    logp = Z - torch.log(torch.exp(Z).sum(dim=1, keepdim=True))
    return -(Y * logp).sum() / X.shape[0]


def chain_make(rng, n=16 * 1024 * 1024):
    return (rng.standard_normal(n).astype(f32),), ()


def chain_torch(params):
    import torch
    (y,) = params
    for _ in range(6):
        y = torch.sin(y) * 1.01 + y * 0.5
    return y.sum()


def chain_cupy(params):
    import cupy as cp
    (y,) = params
    ys = []
    for _ in range(6):
        ys.append(y)
        y = cp.sin(y) * 1.01 + y * 0.5
    g = cp.cos(ys[-1]) * 1.01 + 0.5
    for y_i in reversed(ys[:-1]):
        g *= cp.cos(y_i) * 1.01 + 0.5
    return y.sum(), (g,)


_CHAIN_KERNELS = {}


def chain_cupy_fused(params):
    import cupy as cp
    k = _CHAIN_KERNELS
    if not k:
        k["fwd"] = cp.ElementwiseKernel("float32 x", "float32 y", "y = sinf(x) * 1.01f + x * 0.5f",
                                        "chain_fwd")
        k["bwd0"] = cp.ElementwiseKernel("float32 x", "float32 h", "h = cosf(x) * 1.01f + 0.5f", "chain_bwd0")
        k["bwd"] = cp.ElementwiseKernel("float32 x, float32 g", "float32 h",
                                        "h = g * (cosf(x) * 1.01f + 0.5f)", "chain_bwd")
    (y,) = params
    ys = []
    for _ in range(6):
        ys.append(y)
        y = k["fwd"](y)
    g = k["bwd0"](ys[-1])
    for y_i in reversed(ys[:-1]):
        g = k["bwd"](y_i, g)
    return y.sum(), (g,)


class Workload:
    def __init__(self, name, desc, make, loss, cupy_vg, torch_loss, impls, cupy_fused=None):
        self.name, self.desc, self.make, self.loss = name, desc, make, loss
        self.cupy_vg, self.torch_loss, self.impls, self.cupy_fused = cupy_vg, torch_loss, impls, cupy_fused


_MLP_IMPLS = ["cupy", "yota", "yota-unfused", "yota+graphs", "torch", "jax", "jax-tf32"]
WORKLOADS = {
    "mlp": Workload("mlp", "MLP 784-512-512-10, batch 256, tanh, softmax CE, float32",
                    lambda rng: mlp_make(rng, 256, (784, 512, 512, 10)), mlp_loss, mlp_cupy, mlp_torch,
                    _MLP_IMPLS),
    "mlp-large": Workload("mlp-large", "MLP 1024-4096-4096-1000, batch 4096, tanh, softmax CE, float32",
                          lambda rng: mlp_make(rng, 4096, (1024, 4096, 4096, 1000)), mlp_loss, mlp_cupy,
                          mlp_torch, [i for i in _MLP_IMPLS if i != "yota+graphs"]),
    "chain": Workload("chain", "y = sin(y)*1.01 + y*0.5, 6 times, 16M float32, grad of sum",
                      chain_make, chain_loss, chain_cupy, chain_torch,
                      ["cupy", "cupy-fused", "yota", "yota-unfused", "torch", "jax"], chain_cupy_fused),
}
IMPLS = ["cupy", "cupy-fused", "yota", "yota-unfused", "yota+graphs", "torch", "jax", "jax-tf32"]


# --------------------------------------------------------------------------- implementations
# Each builder returns (call, sync, to_host): call() computes value and the
# parameter gradients; to_host(result) gives (float value, [numpy grads]).

def _cupy_sync():
    import cupy as cp
    dev = cp.cuda.Device()
    return dev.synchronize


def _cupy_host(res):
    value, grads = res[0], res[1]
    return float(value), [g.get() for g in grads]


def build_cupy(w, params, data, impl):
    import cupy as cp
    p = tuple(cp.asarray(a) for a in params)
    d = tuple(cp.asarray(a) for a in data)
    if impl == "cupy-fused":
        return (lambda: w.cupy_fused(p, *d)), _cupy_sync(), _cupy_host
    return (lambda: w.cupy_vg(p, *d)), _cupy_sync(), _cupy_host


def build_yota(w, params, data, impl):
    import cupy as cp

    import yota
    from yota.backends import cupy as yc
    yc.use_fusion(impl != "yota-unfused")
    yc.use_cuda_graphs(impl == "yota+graphs")
    p = tuple(cp.asarray(a) for a in params)
    d = tuple(cp.asarray(a) for a in data)
    yota.reset()
    loss = w.loss

    def call():
        return yota.grad(loss, p, *d, wrt=1)  # the parameters' gradients, not the data's

    def host(res):
        value, g = res
        return float(value), [x.get() for x in g[1]]

    return call, _cupy_sync(), host


def _torch():
    import torch
    if not torch.cuda.is_available():
        raise RuntimeError("unavailable (torch without CUDA)")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    return torch


def build_torch(w, params, data, impl):
    torch = _torch()
    p = [torch.tensor(a, device="cuda", requires_grad=True) for a in params]
    d = [torch.tensor(a, device="cuda") for a in data]
    loss = w.torch_loss

    def call():
        value = loss(p, *d)
        return value, torch.autograd.grad(value, p)

    def host(res):
        value, grads = res
        return float(value.detach()), [g.detach().cpu().numpy() for g in grads]

    return call, torch.cuda.synchronize, host


def build_jax(w, params, data, impl):
    import jax
    import jax.numpy as jnp
    if jax.default_backend() != "gpu":
        raise RuntimeError(f"unavailable (JAX backend is {jax.default_backend()})")
    jax.config.update("jax_default_matmul_precision", "highest")
    precision = "tensorfloat32" if impl == "jax-tf32" else "highest"
    loss = w.loss
    p = tuple(jax.device_put(a) for a in params)
    d = tuple(jax.device_put(a) for a in data)
    vg = jax.jit(jax.value_and_grad(lambda p, *d: loss(p, *d, xp=jnp)))
    last = [None]

    def call():
        with jax.default_matmul_precision(precision):
            last[0] = vg(p, *d)
        return last[0]

    def sync():
        if last[0] is not None:
            jax.block_until_ready(last[0])

    def host(res):
        value, grads = res
        return float(value), [np.asarray(g) for g in grads]

    return call, sync, host


BUILDERS = {"cupy": build_cupy, "cupy-fused": build_cupy, "yota": build_yota,
            "yota-unfused": build_yota, "yota+graphs": build_yota, "torch": build_torch, "jax": build_jax,
            "jax-tf32": build_jax}


# --------------------------------------------------------------------------- running

def rel_err(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def compare(got, ref, tol):
    value, grads = got
    rvalue, rgrads = ref
    errs = [rel_err(value, rvalue)] + [rel_err(g, r) for g, r in zip(grads, rgrads)]
    if len(grads) != len(rgrads) or any(g.shape != r.shape for g, r in zip(grads, rgrads)):
        return "MISMATCH (shapes)", None
    worst = max(errs)
    return ("ok" if worst <= tol else "MISMATCH"), worst


def free_memory():
    gc.collect()
    try:
        import cupy as cp
        cp.get_default_memory_pool().free_all_blocks()
    except Exception:  # noqa: BLE001
        pass
    if "torch" in sys.modules:
        try:
            sys.modules["torch"].cuda.empty_cache()
        except Exception:  # noqa: BLE001
            pass


def run_workload(w, impls, args):
    rng = np.random.default_rng(0)
    params, data = w.make(rng)
    rows = []
    ref = None
    times = {}
    for impl in ["cupy"] + [i for i in impls if i != "cupy"]:
        if impl not in w.impls:
            continue
        row = {"workload": w.name, "impl": impl}
        rows.append(row)
        try:
            call, sync, host = BUILDERS[impl](w, params, data, impl)
            t_first, res = first_call(call, sync)
            got = host(res)
            if impl == "cupy":
                ref = got
                status, err = "reference", 0.0
            else:
                status, err = compare(got, ref, 3e-2 if impl.endswith("tf32") else 1e-4)
            del res
            samples = time_fn(call, min_time=args.min_time, min_repeat=args.min_repeat, max_repeat=50,
                              warmup=2, sync=sync)
            times[impl] = median(samples)
            row.update(median=times[impl], first=fmt_time(t_first), n=len(samples),
                       err=f"{err:.1e}" if err is not None else "-", status=status)
            if status.startswith("MISMATCH"):
                print(f"!!! {w.name}/{impl}: gradients differ from handwritten CuPy (rel. error {err})",
                      file=sys.stderr)
        except ImportError as e:
            row.update(status=f"unavailable ({e.name or e})")
        except Exception as e:  # noqa: BLE001 - report and go on
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            row.update(status=msg if msg.startswith("unavailable") else f"error ({type(e).__name__}: {msg[:80]})")
            if not msg.startswith("unavailable"):
                traceback.print_exc(file=sys.stderr)
        finally:
            call = sync = host = None
            if impl.startswith("yota"):
                try:
                    from yota.backends import cupy as yc
                    yc.use_fusion(True)
                    yc.use_cuda_graphs(False)
                except Exception:  # noqa: BLE001
                    pass
            free_memory()
        print(f"  {w.name:<10} {impl:<13} {fmt_time(times.get(impl)):>10}  {row.get('status')}",
              file=sys.stderr, flush=True)
    for row in rows:
        t = times.get(row["impl"])
        for col, base in (("vs cupy", "cupy"), ("vs torch", "torch"), ("vs jax", "jax")):
            row[col] = fmt_ratio(t / times[base]) if t is not None and base in times else "-"
        row["median"] = fmt_time(t)
    order = ["workload", "impl", "median", "vs cupy", "vs torch", "vs jax", "first", "n", "err", "status"]
    return [{k: r.get(k, "") for k in order} for r in rows], times


TARGETS = [
    ("chain", "yota", "torch", 0.5, "chain: yota <= 0.5 x torch"),
    ("chain", "yota", "jax", 1.5, "chain: yota <= 1.5 x JAX"),
    ("mlp", "yota*", "torch", 1.0, "mlp: yota (best of plain / CUDA graphs) <= torch"),
    ("mlp-large", "yota", "cupy", 1.05, "mlp-large: yota <= 1.05 x handwritten CuPy"),
]


def targets(all_times):
    lines = []
    for wname, impl, base, limit, text in TARGETS:
        t = all_times.get(wname, {})
        if impl.endswith("*"):
            cands = [v for k, v in t.items() if k.startswith(impl[:-1]) and k != "yota-unfused"]
            mine = min(cands) if cands else None
        else:
            mine = t.get(impl)
        if mine is None or base not in t:
            continue
        r = mine / t[base]
        lines.append(f"{'PASS' if r <= limit else 'FAIL'}  {text}: {r:.2f}")
    return lines


def gpu_info():
    import cupy as cp
    info = {}
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"]
    info["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
    rt = cp.cuda.runtime.runtimeGetVersion()
    drv = cp.cuda.runtime.driverGetVersion()
    info["cuda runtime"] = f"{rt // 1000}.{(rt % 1000) // 10}"
    info["driver (CUDA)"] = f"{drv // 1000}.{(drv % 1000) // 10}"
    info["cupy"] = cp.__version__
    for mod in ("torch", "jax"):
        try:
            m = __import__(mod)
            info[mod] = m.__version__
        except Exception:  # noqa: BLE001
            info[mod] = "unavailable"
    return info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--only", help="comma-separated workloads: " + ",".join(WORKLOADS))
    p.add_argument("--impl", help="comma-separated implementations: " + ",".join(IMPLS)
                   + " (handwritten cupy always runs: it is the reference)")
    p.add_argument("--min-time", type=float, default=None, help="seconds of timing per row (default 0.3)")
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
    if args.min_time is None:
        args.min_time = 0.08 if args.quick else 0.3
    args.min_repeat = 5 if args.quick else 20

    try:
        import cupy as cp
        if cp.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device")
    except Exception as e:  # noqa: BLE001
        print(f"benchmarks/gpu.py needs CuPy and a CUDA GPU ({type(e).__name__}: {e})", file=sys.stderr)
        return 1

    info = gpu_info()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), file=sys.stderr, flush=True)
    rows = []
    all_times = {}
    for n in names:
        r, t = run_workload(WORKLOADS[n], impls, args)
        rows += r
        all_times[n] = t

    print()
    print_machine(info, markdown=args.markdown)
    if args.markdown:
        print()
    print_table(rows, markdown=args.markdown)
    print()
    note = ("median: per value+gradients call; vs X: median / X's median (< 1 is faster); first: first "
            "call (yota: trace + compile + kernel builds; JAX: jit); n: timing samples; err: relative L2 "
            "error of value and parameter gradients against handwritten CuPy.")
    print(f"_{note}_" if args.markdown else note)
    lines = targets(all_times)
    if lines:
        print("\nTargets (issue 5):" + ("\n" if args.markdown else ""))
        for ln in lines:
            print(f"- {ln}" if args.markdown else f"  {ln}")
    if any(str(r.get("status", "")).startswith("MISMATCH") for r in rows):
        print("\nWARNING: some gradients did not match the handwritten CuPy reference (see above).")
    print("\nWorkloads:" + ("\n" if args.markdown else ""))
    for n in names:
        print(f"- `{n}`: {WORKLOADS[n].desc}" if args.markdown else f"  {n:<10} {WORKLOADS[n].desc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
