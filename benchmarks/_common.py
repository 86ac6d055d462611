"""Timing helpers shared by the benchmark scripts (CPU, Dask, GPU).

Generic on purpose: nothing here knows about yota or about any array library.

    time_fn(fn, repeat=None, min_time=0.2) -> list of seconds per call
    peak_memory(fn) -> bytes (tracemalloc peak during one call)
    print_table(rows, markdown=False)
    check_grads_fd(loss, params, value, grads) -> problems (finite differences)
    machine_info() -> dict (CPU, cores, Python, NumPy and its BLAS), fmt_time(s), fmt_bytes(n), median(xs)
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc

__all__ = [
    "time_fn",
    "first_call",
    "peak_memory",
    "median",
    "fmt_time",
    "fmt_bytes",
    "fmt_ratio",
    "print_table",
    "machine_info",
    "print_machine",
    "blas_info",
    "check_grads_fd",
]


def time_fn(fn, repeat=None, min_time=0.2, min_repeat=5, max_repeat=1000,
            sample_time=1e-3, warmup=1, sync=None):
    """Time ``fn()`` and return a list of seconds *per call*, one per sample.

    ``repeat=None`` chooses the number of samples adaptively so that the
    total is about ``min_time`` seconds (at least ``min_repeat``, at most
    ``max_repeat`` samples). Calls faster than ``sample_time`` are batched
    (like ``timeit``'s ``number``) so that each sample lasts about
    ``sample_time`` and the clock's resolution does not matter; the sample is
    then divided by the batch size. ``sync``, if given, is called after each
    batch inside the timed region (e.g. ``cupy.cuda.Device().synchronize``).
    The garbage collector is paused while timing, as in ``timeit``.
    """
    clock = time.perf_counter
    for _ in range(warmup):
        fn()
    if sync is not None:
        sync()
    # calibrate: one call, then grow the batch until a sample is long enough
    number = 1
    while True:
        t0 = clock()
        for _ in range(number):
            fn()
        if sync is not None:
            sync()
        dt = clock() - t0
        if dt >= sample_time or number >= 1 << 20:
            break
        number *= 2 if dt > sample_time / 8 else 8
    per_sample = dt
    if repeat is None:
        repeat = int(min_time / max(per_sample, 1e-9))
        repeat = max(min_repeat, min(max_repeat, repeat))
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        out = []
        for _ in range(repeat):
            t0 = clock()
            for _ in range(number):
                fn()
            if sync is not None:
                sync()
            out.append((clock() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return out


def first_call(fn, sync=None):
    """Seconds taken by one call of ``fn()`` and its result."""
    t0 = time.perf_counter()
    result = fn()
    if sync is not None:
        sync()
    return time.perf_counter() - t0, result


def peak_memory(fn):
    """Peak bytes allocated (as seen by ``tracemalloc``) during one ``fn()``.

    Counts from zero at the call: the result itself is included, memory held
    before the call is not. NumPy reports its buffers to tracemalloc; libraries
    with their own allocators (PyTorch, JAX/XLA, CuPy) are only partly visible,
    so for them the figure is a lower bound.
    """
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        tracemalloc.stop()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        if was_tracing:
            tracemalloc.start()
    return peak


def median(xs):
    return statistics.median(xs)


def fmt_time(s):
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.3g} µs"
    return f"{s * 1e9:.3g} ns"


def fmt_bytes(n):
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}"


def print_table(rows, markdown=False, file=None):
    """Print a list of dicts as an aligned text table or a Markdown table.

    Columns are the keys in first-seen order; missing cells print empty.
    Cells are converted with ``str``; format numbers before passing them.
    """
    file = file or sys.stdout
    if not rows:
        return
    cols = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    if markdown:
        def line(vals):
            return "| " + " | ".join(v.replace("|", "\\|") for v in vals) + " |"
        print(line(cols), file=file)
        print("| " + " | ".join("---" for _ in cols) + " |", file=file)
        for row in cells:
            print(line(row), file=file)
        return
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]

    def numeric(v):
        return v[:1].isdigit() or v[:1] in "-." and v[1:2].isdigit()

    def line(vals, header=False):
        out = []
        for v, w in zip(vals, widths):
            out.append(v.rjust(w) if not header and numeric(v) else v.ljust(w))
        return "  ".join(out).rstrip()
    print(line(cols, header=True), file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for row in cells:
        print(line(row), file=file)


def machine_info():
    """CPU model, core count, Python and NumPy versions, BLAS hint."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    info = {"cpu": cpu, "cores": cores, "python": platform.python_version()}
    try:
        import numpy
        info["numpy"] = numpy.__version__
        blas = blas_info()
        if blas:
            info["BLAS"] = blas
    except ImportError:
        pass
    if os.environ.get("OPENBLAS_CORETYPE"):
        info["OPENBLAS_CORETYPE"] = os.environ["OPENBLAS_CORETYPE"]
    return info


def blas_info():
    """NumPy's BLAS as loaded: library, version, threading, kernel architecture,
    threads (threadpoolctl when installed, else NumPy's build configuration)."""
    try:
        import threadpoolctl
        pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            p = pools[0]
            return (f"{p.get('internal_api')} {p.get('version')} ({p.get('threading_layer')}, "
                    f"{p.get('architecture')}, {p.get('num_threads')} threads)")
    except Exception:
        pass
    try:
        import numpy
        dep = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{dep.get('name')} {dep.get('version')}"
    except Exception:
        return None


def print_machine(extra=None, markdown=False, file=None):
    info = dict(machine_info(), **(extra or {}))
    text = ", ".join(f"{k} {v}" for k, v in info.items())
    print(f"_Machine: {text}_" if markdown else f"machine: {text}", file=file or sys.stdout)


def check_grads_fd(loss, params, value, grads, h=1e-6, rtol=1e-5, seed=0):
    """Check a handwritten (value, grads of params) against ``loss(params)`` by
    central differences along one random direction per parameter (float64
    inputs). Returns a list of problems, empty when everything agrees."""
    import numpy as np
    rng = np.random.default_rng(seed)
    problems = []
    v0 = float(loss(params))
    if not np.isclose(float(value), v0, rtol=1e-12, atol=1e-12):
        problems.append(f"value {float(value)!r} != loss {v0!r}")
    for i, (p, g) in enumerate(zip(params, grads)):
        if np.shape(g) != np.shape(p):
            problems.append(f"grad[{i}] shape {np.shape(g)} != param shape {np.shape(p)}")
            continue
        v = rng.standard_normal(np.shape(p))
        step = h * max(1.0, float(np.max(np.abs(p))))

        def at(t):
            q = list(params)
            q[i] = p + t * v
            return float(loss(tuple(q)))
        fd = (at(step) - at(-step)) / (2 * step)
        an = float(np.sum(np.asarray(g) * v))
        # <g, v> for a standard normal v is of the order of |g|: the natural scale
        if abs(an - fd) > rtol * max(abs(fd), float(np.linalg.norm(g))) + 1e-9 * max(1.0, abs(v0)):
            problems.append(f"grad[{i}]: <g, v> = {an:.10g}, finite differences {fd:.10g}")
    return problems


def run_worker(script: str, impl: str, argv: list, env: dict | None = None) -> dict:
    """``script --worker impl *argv`` in a fresh interpreter, with the checkout ``script`` lives
    in first on ``PYTHONPATH``: the dict its ``RESULT {json}`` line carries, or an error record."""
    import json
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(script)))
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, os.path.abspath(script), "--worker", impl, *argv],
                       capture_output=True, text=True, env=env)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
    return {"impl": impl, "error": f"worker exited with {p.returncode}: {' | '.join(tail)[:300]}"}
