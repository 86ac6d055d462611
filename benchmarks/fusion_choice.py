#!/usr/bin/env python
"""Which library should run yota's fused elementwise kernels on the CPU:
numexpr (what ``yota.backends.numpy`` uses) against numba, on the chain.

    python benchmarks/fusion_choice.py                    # 2M float64, 3 rounds
    python benchmarks/fusion_choice.py --rounds 5 --markdown
    python benchmarks/fusion_choice.py --threads 4        # numexpr's and numba's thread count
    python benchmarks/fusion_choice.py --n 10000 --rounds 1 --min-time 0.01   # smoke test

Workload: the value and gradient of ``sum(y6)`` with ``y_{k+1} = sin(y_k) * 1.01
+ y_k * 0.5`` six times over ``--n`` float64 values (``benchmarks/losses.py``'s
``chain_loss``; the ``chain`` row of ``cpu.py``).

| impl | how |
| --- | --- |
| `numpy` | NumPy forward and backward by hand: the baseline of every ratio |
| `yota-unfused` | ``yota.grad`` with ``yota.backends.numpy.use_fusion(False)``: ufuncs with ``out=`` reuse |
| `yota-numexpr` | ``yota.grad`` with fusion on (the default): two numexpr kernels |
| `numexpr` | the same kernels by hand with ``numexpr.evaluate`` (yota's overhead is the difference) |
| `numba` | one ``@numba.njit(parallel=True)`` loop computing forward and backward per element |

Each implementation runs in its own fresh subprocess, the subprocesses
alternating for ``--rounds`` rounds (a busy machine then slows all of them
alike); ``OMP_WAIT_POLICY=PASSIVE`` in each, so idle OpenMP threads (numba's
``omp`` layer) sleep instead of spinning on cores the next one needs.
Columns:

* ``median``: median seconds per call over every steady-state sample of every
  round (``_common.time_fn``: about ``--min-time`` seconds of samples a round).
* ``first``: the first call in a fresh process, median over rounds: yota traces,
  derives and compiles (numexpr programs included); numba compiles the loop
  (``cache=False``); ``numexpr`` parses and compiles its expressions.
* ``peak``: ``tracemalloc`` peak of one warm call (the gradient included).
  Numba allocates its own arrays outside tracemalloc, so its wrapper
  preallocates the gradient in NumPy and the loop allocates nothing.
* ``kernels``: numexpr kernels in the tape yota runs (2 for the chain; 0 when
  ``--n`` is below ``yota.backends.numpy.FUSION_MIN_SIZE``).
* ``install``: bytes of the files the packages installed (their RECORD):
  numexpr; numba + llvmlite. NumPy, needed by all, is not counted.
* ``x`` columns: ratio to ``numpy`` from the same run (below 1: faster / smaller).
* ``status``: value and gradient against ``numpy`` (rtol 1e-10).

The lead runs this on a quiet machine; nothing in the tests runs it.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _common  # noqa: E402
from _common import fmt_bytes, fmt_ratio, fmt_time, median, peak_memory, print_machine, print_table, time_fn  # noqa: E402,E501

IMPLS = ("numpy", "yota-unfused", "yota-numexpr", "numexpr", "numba")
INSTALLS = {"yota-numexpr": ("numexpr",), "numexpr": ("numexpr",), "numba": ("numba", "llvmlite")}


# ------------------------------------------------------------------ implementations ---

def make_numpy():
    from cpu import chain_numpy  # the chain row's handwritten gradient

    def run(y):
        value, (g,) = chain_numpy((y,))
        return value, g

    return run


def make_yota(fused):
    import yota
    from yota.backends import numpy as yn
    from losses import chain_loss

    yn.use_fusion(fused)
    yota.reset()

    def run(y):
        val, g = yota.grad(chain_loss, (y,))
        return val, g[1][0]

    return run


def yota_kernels(x) -> int:
    """numexpr kernels in the tape yota runs (0 below yota.backends.numpy.FUSION_MIN_SIZE)."""
    import yota
    from yota.backends import numpy as yn
    from losses import chain_loss

    tape = yn.transform(yota.gradtape(chain_loss, (x,)))
    return sum(type(c).__name__ == "NumexprKernel" for c in tape.consts)


def make_numexpr():
    import numexpr as ne

    def run(y):
        ys = [y]
        for _ in range(6):
            ys.append(ne.evaluate("sin(y) * 1.01 + y * 0.5", local_dict={"y": ys[-1]}))
        env = {f"y{k}": ys[k] for k in range(6)}
        g = ne.evaluate(" * ".join(f"(cos(y{k}) * 1.01 + 0.5)" for k in range(6)), local_dict=env)
        return ys[-1].sum(), g

    return run


def make_numba():
    import numba
    import numpy as np

    @numba.njit(parallel=True, cache=False)
    def chain_kernel(x, g):
        total = 0.0
        for i in numba.prange(x.shape[0]):
            y = x[i]
            d = 1.0
            for _ in range(6):
                d *= np.cos(y) * 1.01 + 0.5
                y = np.sin(y) * 1.01 + y * 0.5
            g[i] = d
            total += y
        return total

    def run(y):
        g = np.empty_like(y)  # allocated by NumPy, so tracemalloc sees it
        return chain_kernel(y, g), g

    return run


MAKERS = {"numpy": make_numpy, "yota-unfused": lambda: make_yota(False), "yota-numexpr": lambda: make_yota(True),
          "numexpr": make_numexpr, "numba": make_numba}


def _threads(impl, n):
    """Set (when ``n``) and report the worker's thread count for the kernel library."""
    if impl in ("yota-numexpr", "numexpr"):
        import numexpr
        if n:
            numexpr.set_num_threads(n)
        return numexpr.get_num_threads()
    if impl == "numba":
        import numba
        if n:
            numba.set_num_threads(n)
        return numba.get_num_threads()
    return 1


def install_size(packages) -> int:
    total = 0
    for name in packages:
        dist = importlib.metadata.distribution(name)
        for f in dist.files or ():
            p = f.locate()
            if os.path.isfile(p):
                total += os.path.getsize(p)
    return total


def worker(args):
    import numpy as np

    x = np.random.default_rng(args.seed).standard_normal(args.n)
    t0 = time.perf_counter()
    run = MAKERS[args.worker]()
    threads = _threads(args.worker, args.threads)
    val, g = run(x)
    first = time.perf_counter() - t0
    times = time_fn(lambda: run(x), min_time=args.min_time)
    peak = peak_memory(lambda: run(x))
    val, g = run(x)
    g = np.asarray(g)
    out = {"impl": args.worker, "n": args.n, "first": first, "times": times, "peak": peak, "threads": threads,
           "value": float(val), "grad_head": g[:256].tolist(), "grad_sum": float(g.sum()),
           "install": install_size(INSTALLS[args.worker]) if args.worker in INSTALLS else None,
           "kernels": yota_kernels(x) if args.worker.startswith("yota") else None}
    print("RESULT " + json.dumps(out), flush=True)


# ------------------------------------------------------------------ main ---

def run_worker(impl, args):
    return _common.run_worker(__file__, impl, ["--n", str(args.n), "--seed", str(args.seed), "--min-time",
                                               str(args.min_time), "--threads", str(args.threads or 0)],
                              env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))


def _matches(r, base) -> bool:
    import numpy as np
    # (the value is a sum of n terms of size about 1, added in another order by numba)
    return (np.allclose(r["value"], base["value"], rtol=1e-10, atol=1e-13 * r["n"])
            and np.allclose(r["grad_head"], base["grad_head"], rtol=1e-10)
            and np.allclose(r["grad_sum"], base["grad_sum"], rtol=1e-10))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2_000_000, help="elements (float64); default 2M")
    ap.add_argument("--rounds", type=int, default=3, help="alternate the subprocesses this many times; default 3")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds of steady-state samples per round")
    ap.add_argument("--threads", type=int, default=None, help="numexpr's and numba's threads (default: theirs)")
    ap.add_argument("--impl", default=",".join(IMPLS), help="comma list of " + ",".join(IMPLS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        args.threads = args.threads or None
        worker(args)
        return 0

    impls = [s.strip() for s in args.impl.split(",") if s.strip()]
    unknown = set(impls) - set(IMPLS)
    if unknown:
        ap.error(f"unknown --impl {sorted(unknown)}; choose from {','.join(IMPLS)}")
    if "numpy" not in impls:
        impls.insert(0, "numpy")
    res: dict = {}
    for rnd in range(args.rounds):
        for impl in impls:
            print(f"running {impl} (round {rnd + 1}/{args.rounds}) ...", file=sys.stderr, flush=True)
            r = run_worker(impl, args)
            prev = res.get(impl)
            if "error" in r or prev is None:
                res[impl] = dict(r, firsts=[r["first"]]) if "error" not in r else r
            elif "error" not in prev:
                prev["times"] += r["times"]
                prev["firsts"].append(r["first"])
                prev["peak"] = max(prev["peak"], r["peak"])

    base = res["numpy"]
    if "error" in base:
        print(f"the numpy baseline failed: {base['error']}", file=sys.stderr)
        return 1
    b_med, b_first, b_peak = median(base["times"]), median(base["firsts"]), base["peak"]
    rows = []
    for impl in impls:
        r = res[impl]
        row = {"impl": impl}
        if "error" in r:
            row["status"] = "error (" + r["error"] + ")"
            rows.append(row)
            continue
        med, first = median(r["times"]), median(r["firsts"])
        row.update({"median": fmt_time(med), "x median": fmt_ratio(med / b_med), "first": fmt_time(first),
                    "x first": fmt_ratio(first / b_first), "peak": fmt_bytes(r["peak"]),
                    "x peak": fmt_ratio(r["peak"] / max(b_peak, 1)), "install": fmt_bytes(r["install"]),
                    "threads": r["threads"], "kernels": "-" if r["kernels"] is None else r["kernels"],
                    "n": len(r["times"])})
        if impl == "numpy":
            row["status"] = "ok (baseline)"
        else:
            ok = _matches(r, base)
            row["status"] = "ok" if ok else "MISMATCH"
            if not ok:
                print(f"!!! {impl}: value/gradient differ from numpy: {r['value']} vs {base['value']}",
                      file=sys.stderr)
        rows.append(row)
    print(f"chain: 6x y = sin(y)*1.01 + y*0.5, value + gradient, {args.n} float64, {args.rounds} rounds")
    print_table(rows, markdown=args.markdown)
    versions = {}
    for name in ("numexpr", "numba", "llvmlite"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    print_machine(versions, markdown=args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
