#!/usr/bin/env python
"""Out-of-core Dask benchmark: logistic-regression value + gradient over a
lazily generated design matrix larger than memory, yota vs handwritten Dask.

    python benchmarks/dask_oom.py                  # 2 GB of data, 3 repeats
    python benchmarks/dask_oom.py --gb 32          # larger than RAM (streams)
    python benchmarks/dask_oom.py --gb 2 --markdown
    python benchmarks/dask_oom.py --impl handwritten --gb 8

Data: ``X = da.random.default_rng(seed).standard_normal((n, d))`` in row
chunks of about ``--chunk-mb`` MB (float64; ``--gb`` is the size of X in
10^9 bytes), labels ``y = where(X @ w_true + 0.5 * noise > 0, 1, -1)`` from the
same lazy chunks.  Nothing is stored: every run regenerates the chunks as it
streams over them, so memory stays bounded by a few chunks per thread.

Loss, written once against the array API::

    loss(w, X, y) = mean(logaddexp(0, -y * (X @ w)))

* ``yota``: ``val, g = yota.grad(loss, w, X, y)`` with ``w`` a NumPy array and
  ``X``, ``y`` Dask arrays, then ``dask.compute(val, g[1])``.  By the API
  contract ``g`` also holds lazy gradients for ``X`` and ``y``; they are not
  computed (that would materialise an array as large as the data).
* ``handwritten``: the same value and gradient derived by hand in Dask
  (``g = (-y * sigmoid(-y * z) / n) @ X``), one ``dask.compute(val, g)``.

Each implementation runs in its own fresh subprocess (so one's caches and
allocator state do not affect the other), ``--repeat`` calls per subprocess,
the subprocesses alternating for ``--rounds`` rounds.  ``time``: wall seconds
per call, graph construction (and, for yota, tracing on the first call of a
process) included; ``median`` over all calls, ``first`` the first call of the
first round.  ``peak``: the
largest increase of the process's resident set size (RSS, sampled by a psutil
thread every 5 ms) over its RSS just before the first call; ``maxrss`` the
same from ``getrusage`` (a cross-check that misses nothing between samples).
``n``: calls.  ``ratio`` columns: yota / handwritten (time: medians; memory:
peaks, the largest over the rounds).  The
value and gradient of both are compared (``rtol`` 1e-8).

Reference (issue): handwritten at 2 GB: 3.1 s, +273 MB peak RSS; target for
yota: at most 1.2x the time and 1.5x the memory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import _common  # noqa: E402
from _common import fmt_bytes, fmt_ratio, fmt_time, median, print_machine, print_table  # noqa: E402

TARGET_TIME = 1.2
TARGET_MEM = 1.5


# ---------------------------------------------------------------- worker ---

def make_problem(gb, d, chunk_mb, seed):
    import numpy as np
    import dask.array as da

    n = max(1, int(gb * 1e9 / (8 * d)))
    rows = max(1, min(n, int(chunk_mb * 1e6 / (8 * d))))
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((n, d), chunks=(rows, d))
    noise = rng.standard_normal((n,), chunks=(rows,))
    w_true = np.linspace(-1.0, 1.0, d)
    y = da.where(X @ w_true + 0.5 * noise > 0, 1.0, -1.0)
    w = np.random.default_rng(seed + 1).standard_normal(d) * 0.1
    return w, X, y


def loss(w, X, y):
    from array_api_compat import array_namespace

    xp = array_namespace(X)
    m = -y * (X @ w)
    return xp.mean(xp.logaddexp(xp.zeros_like(m), m))


def loss_softplus(w, X, y):
    """Same loss without logaddexp: max(m, 0) + log1p(exp(-|m|))."""
    from array_api_compat import array_namespace

    xp = array_namespace(X)
    m = -y * (X @ w)
    return xp.mean(xp.maximum(m, 0.0) + xp.log1p(xp.exp(-xp.abs(m))))


def handwritten(w, X, y):
    import dask.array as da

    n = X.shape[0]
    m = -y * (X @ w)
    val = da.mean(da.logaddexp(0.0, m))
    dz = -y * (1.0 / (1.0 + da.exp(-m))) / n  # d val / d (X @ w)
    return val, dz @ X


class RSSSampler:
    """Peak RSS of this process, sampled in a thread."""

    def __init__(self, interval=0.005):
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            rss = self.proc.memory_info().rss
            if rss > self.peak:
                self.peak = rss
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def worker(args):
    import gc
    import resource

    import numpy as np
    import dask
    import psutil

    out = {"impl": args.worker}
    try:
        if args.worker == "yota":
            try:
                import yota
            except ImportError:
                sys.path.insert(0, ROOT)
                import yota
            f = loss_softplus if args.formula == "softplus" else loss

            def step(w, X, y):
                val, g = yota.grad(f, w, X, y)
                return dask.compute(val, g[1])
        else:
            def step(w, X, y):
                return dask.compute(*handwritten(w, X, y))
    except Exception as e:  # import yota failed: report, no timing
        out["error"] = f"import failed: {type(e).__name__}: {e}"
        print("RESULT " + json.dumps(out), flush=True)
        return

    w, X, y = make_problem(args.gb, args.d, args.chunk_mb, args.seed)
    out.update(n=int(X.shape[0]), d=int(X.shape[1]), chunk_rows=int(X.chunks[0][0]),
               nchunks=len(X.chunks[0]))
    sched = {"scheduler": args.scheduler}
    if args.threads and args.scheduler == "threads":
        from concurrent.futures import ThreadPoolExecutor
        sched["pool"] = ThreadPoolExecutor(args.threads)
    gc.collect()
    base = psutil.Process().memory_info().rss
    base_ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    try:
        with dask.config.set(**sched), RSSSampler() as s:
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                val, g = step(w, X, y)
                times.append(time.perf_counter() - t0)
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
        print("RESULT " + json.dumps(out), flush=True)
        return
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.update(
        times=times,
        peak=s.peak - base,
        maxrss=max(0, ru - max(base, base_ru)) if ru > base_ru else None,
        base_rss=base,
        value=float(val),
        grad=np.asarray(g, dtype=float).tolist(),
    )
    print("RESULT " + json.dumps(out), flush=True)


# ------------------------------------------------------------------ main ---

def run_worker(impl, args):
    argv = ["--gb", str(args.gb), "--d", str(args.d), "--chunk-mb", str(args.chunk_mb), "--repeat", str(args.repeat),
            "--seed", str(args.seed), "--scheduler", args.scheduler, "--formula", args.formula]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    return _common.run_worker(__file__, impl, argv)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=2.0, help="size of X in GB (10^9 bytes, float64); default 2")
    ap.add_argument("--d", type=int, default=100, help="features (columns of X); default 100")
    ap.add_argument("--chunk-mb", type=float, default=100.0, help="row-chunk size in MB; default 100")
    ap.add_argument("--repeat", type=int, default=None, help="calls per implementation (default 3, 1 above 8 GB)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="alternate the implementations' subprocesses this many times "
                         "(evens out a busy machine; default 2, 1 above 8 GB)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scheduler", default="threads", choices=["threads", "sync", "processes"],
                    help="Dask scheduler (default: the threaded one)")
    ap.add_argument("--threads", type=int, default=None, help="threads for the threaded scheduler (default: cores)")
    ap.add_argument("--impl", default="handwritten,yota", help="comma list of handwritten,yota")
    ap.add_argument("--formula", default="logaddexp", choices=["logaddexp", "softplus"],
                    help="how the yota loss is written (softplus: max(m,0)+log1p(exp(-|m|)))")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.gb <= 8 else 1
    if args.rounds is None:
        args.rounds = 2 if args.gb <= 8 else 1
    if args.worker:
        worker(args)
        return 0

    impls = [s.strip() for s in args.impl.split(",") if s.strip()]
    if "handwritten" not in impls:
        impls.insert(0, "handwritten")
    res = {}
    for rnd in range(args.rounds):
        for impl in impls:
            print(f"running {impl} (round {rnd + 1}/{args.rounds}) ...", file=sys.stderr, flush=True)
            r = run_worker(impl, args)
            prev = res.get(impl)
            if prev is None or "error" in r:
                res[impl] = r
            elif "error" not in prev:
                prev["times"] += r["times"]
                prev["peak"] = max(prev["peak"], r["peak"])
                prev["maxrss"] = max(prev["maxrss"] or 0, r["maxrss"] or 0)

    hw = res["handwritten"]
    rows = []
    import numpy as np

    for impl in impls:
        r = res[impl]
        row = {"impl": impl}
        if "error" in r:
            row["status"] = ("unavailable (" if "import failed" in r["error"] else "error (") + r["error"] + ")"
            rows.append(row)
            continue
        med = median(r["times"])
        row.update(median=fmt_time(med), first=fmt_time(r["times"][0]), n=len(r["times"]),
                   peak=fmt_bytes(r["peak"]), maxrss=fmt_bytes(r["maxrss"]))
        if impl != "handwritten" and "error" not in hw:
            row["time ratio"] = fmt_ratio(med / median(hw["times"]))
            row["mem ratio"] = fmt_ratio(r["peak"] / max(hw["peak"], 1))
            ok = np.allclose(r["value"], hw["value"], rtol=1e-8) and np.allclose(
                r["grad"], hw["grad"], rtol=1e-8, atol=1e-12)
            row["status"] = "ok" if ok else "MISMATCH"
            if not ok:
                print(f"!!! {impl}: value/gradient differ from handwritten: "
                      f"{r['value']} vs {hw['value']}", file=sys.stderr)
        else:
            row["status"] = "ok (baseline)"
        rows.append(row)

    some = next((r for r in res.values() if "n" in r), None)
    if some:
        size = some["n"] * some["d"] * 8
        print(f"X: {some['n']} x {some['d']} float64 = {size / 1e9:.2f} GB ({size / 2**30:.2f} GiB), "
              f"{some['nchunks']} chunks of {some['chunk_rows']} rows "
              f"({some['chunk_rows'] * some['d'] * 8 / 1e6:.0f} MB); scheduler {args.scheduler}")
    print_table(rows, markdown=args.markdown)
    try:
        import psutil
        mem = f"{psutil.virtual_memory().total / 2**30:.1f} GiB RAM"
    except ImportError:
        mem = ""
    import dask

    print_machine({"dask": dask.__version__, "ram": mem}, markdown=args.markdown)
    y = res.get("yota")
    if y is not None and "error" in y and "import failed" in y["error"]:
        print("note: `import yota` failed, so only the handwritten row ran.")
    elif y is not None and "error" not in y and "error" not in hw:
        tr = median(y["times"]) / median(hw["times"])
        mr = y["peak"] / max(hw["peak"], 1)
        verdict = "meets" if tr <= TARGET_TIME and mr <= TARGET_MEM else "MISSES"
        print(f"target yota <= {TARGET_TIME}x time and <= {TARGET_MEM}x memory: {verdict} "
              f"({tr:.2f}x, {mr:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
