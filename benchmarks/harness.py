"""Interleaved, process-isolated benchmark harness. Knows no array or AD library.

Why processes: on a 2-core machine one library's thread pool (OpenBLAS, XLA's
Eigen pool, OpenMP) keeps spinning on the cores after its call returns, so
measuring several libraries in one process makes each pay for the others.
Here each implementation runs in its own worker process, started with
``OMP_WAIT_POLICY=PASSIVE`` (every other thread setting left at its default,
``OPENBLAS_CORETYPE`` and the rest of the environment inherited), and only one
worker runs at a time: the others are blocked reading their pipe, idle.

Why rounds: a shared machine drifts (other jobs, frequency, thermal). For
round r, each implementation in turn (the order rotated by one every round)
times one block of about ``block_seconds``; the reported time is the median
over rounds of each round's median, and the ratio is the median over rounds
of (implementation / reference) *within the round*, so slow drifts cancel.

A benchmark script defines ``build_case(workload, impl, options) -> Case`` and
a list of `Workload`; `main(suite)` parses the common options and prints the
table. Workers import the script by its path (``__name__`` is not
``"__main__"``, so its ``main`` does not run there) and call ``build_case``.

Protocol (pickles over the worker's stdin/stdout; the worker points its own
stdout at stderr so that a library's prints cannot corrupt the channel):

    ("build", spec)         -> versions for the machine line, whether tracemalloc sees the buffers
    ("first", second)       -> first call: seconds, RSS increase, digest (+ second call)
    ("peak", traced, rss)   -> tracemalloc and/or RSS peak of one warm call, and what its result holds
    ("time", seconds)    -> per-call samples of one block
    ("exit",)
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import math
import os
import pickle
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from _common import fmt_bytes, fmt_ratio, fmt_time, print_machine, print_table  # noqa: E402

__all__ = ["Case", "Workload", "Suite", "main", "run_suite", "compare_digests"]

SAMPLE_TIME = 1e-3    # calls shorter than this are batched per sample, as in _common.time_fn
DIGEST_LIMIT = 1 << 16  # elements kept per array in a digest (a strided subsample beyond)
# Allocations of 64 KiB and more straight from mmap, with no dynamic raise of the
# threshold: freed buffers go back to the OS at once, so the RSS high-water mark
# of one call is that call's own peak rather than a reuse of cached heap. Set only
# in the separate memory workers, never where time is measured.
RSS_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072"}

TOLERANCE = {  # reference dtype -> (rtol, atol as a fraction of max |reference|)
    "float16": (1e-2, 1e-3),
    "float32": (2e-3, 1e-4),
    "float64": (1e-7, 1e-10),
    "complex64": (2e-3, 1e-4),
    "complex128": (1e-7, 1e-10),
}


# --------------------------------------------------------------------------- what scripts provide

@dataclass
class Case:
    """One implementation of one workload, built inside its worker.

    ``call()`` is what is timed: one complete call, synchronised (an
    asynchronous library blocks until its result is ready inside ``call``).
    ``digest(result)`` turns its result into ``(value or None, tuple of
    arrays)`` for the correctness check (default: ``(float(r[0]), leaves of
    r[1])`` for a pair, else ``(None, leaves)``). ``before_first`` runs
    untimed before the first call (``yota.reset``). ``foreign_alloc``: the
    library allocates its buffers outside ``tracemalloc``'s view, so the
    tracemalloc peak is only a lower bound. ``info``: strings for the machine
    line (``{"torch": "2.13 (2 threads)"}``).
    """
    call: Callable[[], Any]
    digest: Callable[[Any], tuple] | None = None
    before_first: Callable[[], Any] | None = None
    foreign_alloc: bool = False
    info: dict = field(default_factory=dict)


@dataclass
class Workload:
    """What the parent knows about a workload.

    ``impls``: implementation names in display order; the first is the
    reference (its digest is the truth, its time the denominator of
    ``ratio``). ``kind="steady"``: interleaved rounds of timed blocks;
    ``kind="first"``: every round starts each implementation in a fresh
    process and measures its first call (the figure is then the first call).
    ``compare``: impl -> another impl of the workload; adds a ``vs`` column
    (time ratio per round, and memory ratios). ``tol``: per-dtype tolerance
    overrides (see `TOLERANCE`). ``rss``: also measure the RSS peak of one
    warm call in a separate memory worker per implementation. ``above_result``:
    also show the peaks minus what the returned result holds (the activations
    and temporaries: what checkpointing is about), and compare those in the
    ``vs`` memory ratios.
    """
    name: str
    desc: str
    impls: list
    kind: str = "steady"
    compare: dict = field(default_factory=dict)
    tol: dict = field(default_factory=dict)
    rss: bool = False
    above_result: bool = False

    @property
    def reference(self):
        return self.impls[0]


@dataclass
class Suite:
    """A benchmark script: its file (workers import it), its workloads, and how
    to start a worker for an implementation (``worker_env(impl, options) ->
    dict`` of extra environment variables, e.g. a ``PYTHONPATH``)."""
    module_file: str
    title: str
    workloads: list
    worker_env: Callable[[str, dict], dict] | None = None
    doc: str | None = None


# --------------------------------------------------------------------------- the worker side

def _rss_kib(field_name):
    try:
        with open("/proc/self/status") as f:
            for ln in f:
                if ln.startswith(field_name + ":"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


def _reset_hwm():
    """Reset the RSS high-water mark to the current RSS (Linux >= 4.0); the current
    RSS in bytes, or None where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    rss = _rss_kib("VmRSS")
    return None if rss is None else rss * 1024


def _hwm_since(rss0):
    if rss0 is None:
        return None
    hwm = _rss_kib("VmHWM")
    return None if hwm is None else hwm * 1024 - rss0


def _leaves(x):
    if isinstance(x, (tuple, list)):
        for y in x:
            yield from _leaves(y)
    elif isinstance(x, dict):
        for k in sorted(x):
            yield from _leaves(x[k])
    elif x is not None:
        yield x


def _default_digest(res):
    """(value, gradients) for a pair whose first item is a scalar, else every leaf."""
    if isinstance(res, tuple) and len(res) == 2 and len(getattr(res[0], "shape", ())) == 0 \
            and not isinstance(res[0], (tuple, list, dict)):
        return float(res[0]), tuple(_leaves(res[1]))
    return None, tuple(_leaves(res))


def make_digest(value, arrays):
    """A picklable summary: the value, and each array in full or, past
    `DIGEST_LIMIT` elements, a deterministic strided subsample (same stride for
    the same size, so two digests of equal shapes compare element by element)."""
    import numpy as np
    out = []
    for a in arrays:
        a = np.asarray(a)
        step = max(1, math.ceil(a.size / DIGEST_LIMIT))
        flat = a.reshape(-1)[::step] if step > 1 else a
        out.append({"shape": tuple(a.shape), "dtype": str(a.dtype), "step": step,
                    "data": np.array(flat, copy=True)})
    return {"value": None if value is None else float(value), "arrays": out}


def _kept_between_calls() -> int:
    """Bytes yota keeps allocated from one call to the next (large temporaries
    on NumPy, ``backends/_pool.py``): allocated before the measured call, so
    neither peak would see them; they are added to both."""
    pool = sys.modules.get("yota.backends._pool")
    return pool.kept_bytes() if pool is not None else 0


def _traced_peak(fn):
    """(peak, held): tracemalloc's peak during one ``fn()`` counted from the call's
    start, and what is still allocated when it returns (its result, mostly)."""
    import tracemalloc
    gc.collect()
    was = tracemalloc.is_tracing()
    if was:
        tracemalloc.stop()
    tracemalloc.start()
    try:
        res = fn()
        held, peak = tracemalloc.get_traced_memory()
        del res
    finally:
        tracemalloc.stop()
        if was:
            tracemalloc.start()
    return peak, held


def _calibrate(fn):
    """(calls per sample, seconds per sample): enough calls for a sample to last
    `SAMPLE_TIME`."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= SAMPLE_TIME or number >= 1 << 20:
            return number, dt
        number *= 2 if dt > SAMPLE_TIME / 8 else 8


def _time_block(fn, seconds, number, sample_seconds):
    """Samples (seconds per call) for about ``seconds``. One untimed sample first,
    to warm the caches the previous worker evicted, unless a sample is long
    enough (0.1 s) for that not to matter. The garbage collector stays on (users
    run with it); it is collected before the block."""
    clock = time.perf_counter
    if sample_seconds < 0.1:
        for _ in range(number):
            fn()
    gc.collect()
    samples = []
    deadline = clock() + seconds
    while True:
        t0 = clock()
        for _ in range(number):
            fn()
        t1 = clock()
        samples.append((t1 - t0) / number)
        if t1 >= deadline:
            return samples


def _load_module(path):
    spec = importlib.util.spec_from_file_location("_bench_" + os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class _State:
    case: Case | None = None
    number: int | None = None
    sample_seconds: float = 0.0


def _handle(state, op, args):
    if op == "build":
        spec = args[0]
        module = _load_module(spec["module"])
        case = module.build_case(spec["workload"], spec["impl"], spec["options"])
        if not isinstance(case, Case):
            raise TypeError(f"build_case returned {type(case).__name__}, not harness.Case")
        state.case = case
        return {"versions": dict(case.info), "foreign": bool(case.foreign_alloc)}
    case = state.case
    if op == "first":
        (second,) = args
        gc.collect()
        if case.before_first is not None:
            case.before_first()
        rss0 = _reset_hwm()
        t0 = time.perf_counter()
        res = case.call()
        t_first = time.perf_counter() - t0
        rss_first = _hwm_since(rss0)
        value, arrays = (case.digest or _default_digest)(res)
        digest = make_digest(value, tuple(_leaves(arrays)))
        del res
        t_second = None
        if second:
            t0 = time.perf_counter()
            case.call()
            t_second = time.perf_counter() - t0
        return {"first": t_first, "second": t_second, "rss_first": rss_first, "digest": digest}
    if op == "peak":
        traced, rss = args
        for _ in range(2):  # steady state: past compile-on-reuse and lazy initialisation
            case.call()
        out = dict(zip(("peak", "held"), _traced_peak(case.call))) if traced else {}
        kept = _kept_between_calls()
        if traced and out.get("peak") is not None:
            out["peak"] += kept
        if rss:
            gc.collect()
            rss0 = _reset_hwm()
            res = case.call()
            out["rss"] = _hwm_since(rss0)
            if out["rss"] is not None:
                out["rss"] += kept
            now = _rss_kib("VmRSS")
            out["rss_held"] = None if rss0 is None or now is None else now * 1024 - rss0
            del res
        return out
    if op == "time":
        (seconds,) = args
        if state.number is None:
            state.number, state.sample_seconds = _calibrate(case.call)
        samples = _time_block(case.call, seconds, state.number, state.sample_seconds)
        return {"samples": samples, "number": state.number}
    if op == "exit":
        return None
    raise ValueError(f"unknown command {op!r}")


def worker_main():
    proto_in = sys.stdin.buffer
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)       # stray prints (ours or a library's) go to stderr
    sys.stdout = sys.stderr
    state = _State()
    while True:
        try:
            op, *args = pickle.load(proto_in)
        except EOFError:
            return
        try:
            reply = ("ok", _handle(state, op, args))
        except ImportError as e:
            reply = ("unavailable", _short(e), traceback.format_exc())
        except BaseException as e:  # report everything; the parent decides
            reply = ("error", _short(e), traceback.format_exc())
        pickle.dump(reply, proto_out)
        proto_out.flush()
        if op == "exit":
            return


# --------------------------------------------------------------------------- the parent side

class WorkerFailed(Exception):
    def __init__(self, kind, short, detail=""):
        super().__init__(short)
        self.kind, self.short, self.detail = kind, short, detail


class Worker:
    """One implementation's process."""

    def __init__(self, suite, impl, options, extra_env=None):
        env = dict(os.environ)
        env["OMP_WAIT_POLICY"] = "PASSIVE"
        env.setdefault("JAX_PLATFORMS", "cpu")
        env.setdefault("PYTHONHASHSEED", "0")
        if suite.worker_env is not None:
            env.update(suite.worker_env(impl, options))
        env.update(extra_env or {})
        self.impl = impl
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def request(self, op, *args):
        try:
            pickle.dump((op, *args), self.proc.stdin)
            self.proc.stdin.flush()
            reply = pickle.load(self.proc.stdout)
        except (EOFError, BrokenPipeError, pickle.UnpicklingError):
            rc = self.proc.wait()
            raise WorkerFailed("error", f"worker died (exit status {rc})") from None
        if reply[0] != "ok":
            raise WorkerFailed(*reply)
        return reply[1]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.request("exit")
            except WorkerFailed:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def _short(e):
    text = f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__
    return text if len(text) <= 90 else text[:87] + "..."


def loud(msg):
    bar = "!" * 78
    print(f"\n{bar}\n{msg}\n{bar}\n", file=sys.stderr, flush=True)


def compare_digests(got, ref, tol=None):
    """'' when ``got`` matches ``ref`` within the tolerance of ``ref``'s dtype,
    else what differs."""
    import numpy as np
    problems = []
    ra, ga = ref["arrays"], got["arrays"]
    dtype = ra[0]["dtype"] if ra else "float64"
    rtol, atol_rel = (tol or {}).get(dtype, TOLERANCE.get(dtype, TOLERANCE["float64"]))
    rv, gv = ref["value"], got["value"]
    if rv is not None and gv is not None:
        if not math.isclose(gv, rv, rel_tol=rtol, abs_tol=atol_rel * max(abs(rv), 1.0)):
            problems.append(f"value {gv!r} != {rv!r}")
    if len(ga) != len(ra):
        return f"{len(ga)} arrays, expected {len(ra)}"
    for i, (a, b) in enumerate(zip(ga, ra)):
        if a["shape"] != b["shape"]:
            problems.append(f"[{i}] shape {a['shape']} != {b['shape']}")
            continue
        x, y = a["data"], b["data"]
        scale = float(np.max(np.abs(y))) if y.size else 0.0
        if not np.allclose(x, y, rtol=rtol, atol=atol_rel * max(scale, 1e-30), equal_nan=False):
            err = float(np.max(np.abs(x.astype(np.float64) - y))) if x.size else 0.0
            problems.append(f"[{i}] max abs err {err:.3g} (max |ref| {scale:.3g})")
        if a["dtype"] != b["dtype"]:
            problems.append(f"[{i}] dtype {a['dtype']} != {b['dtype']}")
    return "; ".join(problems)


@dataclass
class _Result:
    impl: str
    status: str = ""
    rounds: list = field(default_factory=list)      # per-round figure (median of the block, or first call)
    n: int = 0
    first: float | None = None
    second: list = field(default_factory=list)
    rss_first: list = field(default_factory=list)
    peak: int | None = None
    held: int | None = None
    rss: int | None = None
    rss_held: int | None = None
    foreign: bool = False
    digest: dict | None = None


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _spread(xs):
    """Half the range of the per-round figures, relative to their median."""
    if len(xs) < 2:
        return None
    m = statistics.median(xs)
    return (max(xs) - min(xs)) / 2 / m if m else None


def _selected(impl, wanted):
    if wanted is None:
        return True
    family = impl.replace("+", "-").split("-")[0]
    return impl in wanted or family in wanted


def _rotate(xs, r):
    k = r % len(xs) if xs else 0
    return xs[k:] + xs[:k]


def _progress(msg):
    print(msg, file=sys.stderr, flush=True)


def _build_spec(suite, w, impl, options):
    return {"module": os.path.abspath(suite.module_file), "workload": w.name, "impl": impl,
            "options": options}


def _start(suite, w, impl, options, versions, extra_env=None):
    wk = Worker(suite, impl, options, extra_env)
    try:
        got = wk.request("build", _build_spec(suite, w, impl, options))
    except BaseException:
        wk.close()
        raise
    for k, v in got["versions"].items():
        versions.setdefault(k, set()).add(v)
    wk.foreign = got["foreign"]
    return wk


def _fail(res, e, w):
    if e.kind == "unavailable":
        res.status = f"unavailable ({e.short})"
    else:
        loud(f"{res.impl} on {w.name}: {e.short}\n{e.detail}")
        res.status = f"error ({e.short})"


def _check(res, ref, w):
    if res.digest is None:
        return
    if ref is None or ref.digest is None:
        res.status = res.status or "unchecked (no reference)"
        return
    if res is ref:
        res.status = "reference"
        return
    problem = compare_digests(res.digest, ref.digest, w.tol)
    if problem:
        loud(f"MISMATCH: {res.impl} on {w.name} does not match {ref.impl}: {problem}")
        res.status = "MISMATCH"
    else:
        res.status = "ok"


def _settle(opts):
    """Idle a moment: the previous worker's BLAS / XLA threads spin for a while
    after its last call (OpenBLAS about 0.1 s) before they sleep."""
    if opts["settle"]:
        time.sleep(opts["settle"])


def _run_steady(suite, w, impls, opts, versions):
    results = {i: _Result(i) for i in impls}
    workers = {}
    try:
        for impl in impls:  # one at a time: a first call must not share the cores
            res = results[impl]
            _progress(f"  {w.name:<14} {impl:<14} start + first call")
            try:
                workers[impl] = wk = _start(suite, w, impl, opts["options"], versions)
                res.foreign = wk.foreign
                _settle(opts)
                first = wk.request("first", False)
                res.first, res.digest = first["first"], first["digest"]
                got = wk.request("peak", True, False)
                res.peak, res.held = got["peak"], got["held"]
            except WorkerFailed as e:
                _fail(res, e, w)
                if impl in workers:
                    workers.pop(impl).close()
        ref = results[w.reference]
        for res in results.values():
            _check(res, ref, w)
        live = [i for i in impls if i in workers]
        for r in range(opts["rounds"]):
            _progress(f"  {w.name:<14} round {r + 1}/{opts['rounds']}")
            for impl in _rotate(list(live), r):
                _settle(opts)
                try:
                    got = workers[impl].request("time", opts["block"])
                except WorkerFailed as e:
                    _fail(results[impl], e, w)
                    live.remove(impl)
                    workers.pop(impl).close()
                    continue
                results[impl].rounds.append(statistics.median(got["samples"]))
                results[impl].n += len(got["samples"])
    finally:
        for wk in workers.values():
            wk.close()
    if w.rss or opts["rss"]:
        for impl in impls:
            res = results[impl]
            if not res.rounds:
                continue
            _progress(f"  {w.name:<14} {impl:<14} memory worker")
            wk = None
            try:
                wk = _start(suite, w, impl, opts["options"], versions, RSS_ENV)
                wk.request("first", False)
                got = wk.request("peak", False, True)
                res.rss, res.rss_held = got.get("rss"), got.get("rss_held")
            except WorkerFailed as e:
                loud(f"{impl} on {w.name}: memory worker failed: {e.short}\n{e.detail}")
            finally:
                if wk is not None:
                    wk.close()
    return results


def _run_first(suite, w, impls, opts, versions):
    results = {i: _Result(i) for i in impls}
    live = list(impls)
    for r in range(opts["rounds"]):
        _progress(f"  {w.name:<14} round {r + 1}/{opts['rounds']} (fresh processes)")
        for impl in _rotate(list(live), r):
            res = results[impl]
            wk = None
            try:
                wk = _start(suite, w, impl, opts["options"], versions)
                _settle(opts)
                got = wk.request("first", True)
            except WorkerFailed as e:
                _fail(res, e, w)
                live.remove(impl)
                continue
            finally:
                if wk is not None:
                    wk.close()
            res.rounds.append(got["first"])
            res.second.append(got["second"])
            res.rss_first.append(got["rss_first"])
            res.n += 1
            if res.digest is None:
                res.digest = got["digest"]
    ref = results[w.reference]
    for res in results.values():
        _check(res, ref, w)
    return results


def _round_ratios(res, base):
    k = min(len(res.rounds), len(base.rounds))
    return [a / b for a, b in zip(res.rounds[:k], base.rounds[:k]) if b]


def _ratio(a, b):
    return fmt_ratio(a / b if a is not None and b else None)


def _minus(a, b):
    return None if a is None or b is None else max(a - b, 0)


def _memory(res, w, rss):
    """The steady-state memory figures of one result, by column name."""
    star = "*" if res.foreign else ""
    cols = {"peak": (res.peak, star)}
    if rss:
        cols["rss"] = (res.rss, "")
    if w.above_result:
        cols["peak-out"] = (_minus(res.peak, res.held), star)
        if rss:
            cols["rss-out"] = (_minus(res.rss, res.rss_held), "")
    return cols


def _rows(w, results, opts):
    ref = results[w.reference]
    rss = w.rss or opts["rss"]
    rows = []
    for impl, res in results.items():
        row = {"workload": w.name, "impl": impl}
        if not res.rounds:
            rows.append(dict(row, status=res.status or "not run"))
            continue
        ratios = _round_ratios(res, ref) if ref.rounds else []
        spread = _spread(res.rounds)
        timing = {"ratio": fmt_ratio(_median(ratios)), "±": "-" if spread is None else f"{spread:.0%}"}
        if w.kind == "first":
            row.update({"first": fmt_time(_median(res.rounds)), **timing,
                        "second": fmt_time(_median(res.second)), "rss": fmt_bytes(_median(res.rss_first))})
        else:
            row.update({"median": fmt_time(_median(res.rounds)), **timing, "first": fmt_time(res.first)})
            for k, (v, mark) in _memory(res, w, rss).items():
                row[k] = fmt_bytes(v) + (mark if v is not None else "")
        if w.compare:
            # memory ratios: above the result when the workload says so, else totals
            mem = ["rss"] if w.kind == "first" else [k for k in _memory(res, w, rss)
                                                      if k.endswith("-out") == w.above_result]
            row.update(dict.fromkeys(["vs", "time vs"] + [f"{k} vs" for k in mem], ""))  # same columns on every row
            other = w.compare.get(impl)
            if other in results and results[other].rounds:
                o = results[other]
                row["vs"] = other
                row["time vs"] = fmt_ratio(_median(_round_ratios(res, o)))
                if w.kind == "first":
                    row["rss vs"] = _ratio(_median(res.rss_first), _median(o.rss_first))
                else:
                    mine, theirs = _memory(res, w, rss), _memory(o, w, rss)
                    for k in mem:
                        row[f"{k} vs"] = _ratio(mine[k][0], theirs[k][0])
        row["n"] = res.n
        row["status"] = res.status
        rows.append(row)
    return rows


def run_suite(suite, names=None, impls=None, rounds=5, block=1.0, settle=0.2, rss=False, options=None):
    """Run the suite's workloads; returns (rows by kind, {machine-line entry: set of
    strings}: library versions as the workers report them, and the load average)."""
    opts = {"rounds": rounds, "block": block, "settle": settle, "rss": rss, "options": dict(options or {})}
    versions: dict = {}
    cpu_start = _cpu_snapshot()
    by_kind: dict = {"steady": [], "first": []}
    wl = {w.name: w for w in suite.workloads}
    for name in names or list(wl):
        w = wl[name]
        chosen = [w.reference] + [i for i in w.impls[1:] if _selected(i, impls)]
        run = _run_first if w.kind == "first" else _run_steady
        results = run(suite, w, chosen, opts, versions)
        by_kind[w.kind] += _rows(w, results, opts)
    others = _others_cores(cpu_start, _cpu_snapshot())
    if others is not None:
        versions["other jobs"] = {f"{others:.2f} cores on average during the run"}
        if others > BUSY_CORES:
            loud(f"WARNING: other processes used {others:.2f} cores on average during this run: the "
                 f"machine was not quiet, so these figures are not to be trusted.")
    return by_kind, versions


BUSY_CORES = 0.1  # CPU used by processes other than the benchmark's, above which the run was disturbed


def _cpu_snapshot():
    """(wall clock, busy CPU seconds of the whole machine, CPU seconds of this
    process and its reaped children: the workers), or None off Linux."""
    import resource
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = (sum(vals) - vals[3] - vals[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    ours = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        ours += ru.ru_utime + ru.ru_stime
    return time.monotonic(), busy, ours


def _others_cores(a, b):
    """Cores used on average by everything but the benchmark between two snapshots."""
    if a is None or b is None or b[0] <= a[0]:
        return None
    return max(0.0, (b[1] - a[1]) - (b[2] - a[2])) / (b[0] - a[0])


def main(suite, argv=None, extra_args=None):
    """The common command line: --only, --impl, --rounds, --block-seconds, --quick,
    --rss, --markdown, --smoke. Returns the exit status (1 on a mismatch)."""
    p = argparse.ArgumentParser(description=suite.title, epilog=suite.doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [w.name for w in suite.workloads]
    all_impls = sorted({i for w in suite.workloads for i in w.impls})
    p.add_argument("--only", help="comma-separated workloads: " + ",".join(names))
    p.add_argument("--impl", help="comma-separated implementations (a family name such as 'jax' selects "
                   "'jax-ckpt' too; the reference always runs): " + ",".join(all_impls))
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5, 3 with --quick)")
    p.add_argument("--block-seconds", type=float, default=None,
                   help="seconds per timed block, >= 1 (default 1)")
    p.add_argument("--settle", type=float, default=None,
                   help="idle seconds before each block, for the previous worker's threads to stop "
                        "spinning (default 0.2)")
    p.add_argument("--quick", action="store_true", help="3 rounds")
    p.add_argument("--rss", action="store_true",
                   help="also measure the RSS peak of one warm call, in a separate memory worker")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, one round of 0.05 s blocks: checks that everything runs "
                        "(the timings mean nothing)")
    for args, kwargs in extra_args or ():
        p.add_argument(*args, **kwargs)
    args = p.parse_args(argv)
    only = args.only.split(",") if args.only else names
    for n in only:
        if n not in names:
            p.error(f"unknown workload {n!r}; choose from {', '.join(names)}")
    wanted = None
    if args.impl:
        wanted = set(args.impl.split(","))
        families = {i.replace("+", "-").split("-")[0] for i in all_impls}
        for i in wanted:
            if i not in all_impls and i not in families and i not in ("numpy", "handwritten"):
                p.error(f"unknown implementation {i!r}; choose from {', '.join(all_impls)}")
    rounds = args.rounds or (1 if args.smoke else 3 if args.quick else 5)
    block = args.block_seconds if args.block_seconds is not None else (0.05 if args.smoke else 1.0)
    if block < 1 and not args.smoke:
        p.error("--block-seconds must be at least 1 (shorter blocks are dominated by noise)")
    settle = args.settle if args.settle is not None else (0.0 if args.smoke else 0.2)
    options = {"smoke": args.smoke}
    options.update({k: v for k, v in vars(args).items() if k not in (
        "only", "impl", "rounds", "block_seconds", "settle", "quick", "rss", "markdown", "smoke")})
    by_kind, versions = run_suite(suite, only, wanted, rounds, block, settle, args.rss, options)
    report(suite, by_kind, versions, args.markdown, rounds, block, only, args.smoke, settle)
    rows = by_kind["steady"] + by_kind["first"]
    if any(r.get("status") == "MISMATCH" for r in rows):
        print("\nWARNING: some results did not match the reference (see MISMATCH above).")
        return 1
    return 0


def report(suite, by_kind, versions, markdown, rounds, block, only, smoke=False, settle=0.0, file=None):
    file = file or sys.stdout
    extra = {}
    for k in sorted(versions):
        vals = sorted(versions[k])
        extra[k] = vals[0] if len(vals) == 1 else " / ".join(vals)
    extra["method"] = (f"{rounds} interleaved round(s) of {block:g} s blocks per implementation, "
                       f"one worker process each, OMP_WAIT_POLICY=PASSIVE, {settle:g} s idle before each block")
    print(file=file)
    if smoke:
        print("SMOKE RUN: tiny sizes, one short round; the timings mean nothing.", file=file)
    print_machine(extra, markdown=markdown, file=file)
    wl = {w.name: w for w in suite.workloads}
    for kind, note in (("steady", _STEADY_NOTE), ("first", _FIRST_NOTE)):
        rows = by_kind[kind]
        if not rows:
            continue
        print(file=file)
        print_table(_last(rows, ("n", "status")), markdown=markdown, file=file)
        print(file=file)
        print(f"_{note}_" if markdown else note, file=file)
    print("\nWorkloads:\n" if markdown else "\nWorkloads:", file=file)
    for n in only:
        print(f"- `{n}`: {wl[n].desc}" if markdown else f"  {n:<16} {wl[n].desc}", file=file)


def _last(rows, keys):
    """The rows with every column in first-seen order, except ``keys`` at the end."""
    cols = []
    for r in rows:
        cols += [k for k in r if k not in cols and k not in keys]
    cols += list(keys)
    return [{k: r.get(k, "") for k in cols} for r in rows]


_STEADY_NOTE = ("median: median over rounds of each round's median seconds per call; ratio: median over "
                "rounds of (this / reference) in the same round (<= 1.0 is faster); ±: half the range of "
                "the per-round medians, relative; first: first call in a fresh process (yota after "
                "yota.reset(), JAX including jit); peak: tracemalloc peak of one warm call, its result included "
                "(* = the library allocates outside tracemalloc: a lower bound); rss: RSS high-water mark of "
                "one warm call above the RSS before it, in a separate process with mmap for every allocation "
                ">= 64 KiB; peak-out, rss-out: the same minus what the returned result holds; vs: time and "
                "memory ratios against the named implementation (per round for time); n: samples over all "
                "rounds; status: ok = value and gradients match the reference.")
_FIRST_NOTE = ("first: median over rounds of the first call, each round in a fresh process per "
               "implementation; ratio: median over rounds of (this / reference) in the same round; "
               "second: the second call in the same process; rss: RSS high-water mark during the first "
               "call above the RSS before it; n: fresh processes.")


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    # through the importable module, so that the Case class the scripts build is this one
    import harness
    harness.worker_main()


def main_with_self_check(suite, self_check, what: str, argv=None) -> int:
    """`main`, plus ``--self-check``: run ``self_check()`` (its result: the failures) on the
    handwritten ``what`` and exit."""
    argv = sys.argv[1:] if argv is None else argv
    if "--self-check" in argv:
        print(f"handwritten {what} vs central differences (float64, small sizes):")
        return 1 if self_check() else 0
    return main(suite, argv, extra_args=[(("--self-check",), dict(
        action="store_true", help=f"check the handwritten {what} against finite differences and exit"))])
