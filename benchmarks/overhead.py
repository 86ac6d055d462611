#!/usr/bin/env python
"""``yota.grad``, this tree against an older one, in the same run.

    git worktree add /work/wt/before 921b481           # an older checkout, once
    python benchmarks/overhead.py --before /work/wt/before
    python benchmarks/overhead.py --before /work/wt/before --only tiny,mlp,chain --markdown

The default workload is cpu.py's ``tiny`` (``sum(tanh(x * w + b))`` on 8
float64 elements, parameter gradients, ``wrt=1``), where the arithmetic is a
few microseconds and the rest is yota's own cost per call: cache lookup,
guard checks, running the compiled tape. Every other cpu.py workload (mlp,
chain, attention, deep, gelu_ln) can be compared the same way (``--only``): a
change of the engine must not make any of them slower. Rows: handwritten NumPy (the reference),
``yota`` (the tree this script lives in), ``yota-before`` (the tree given by
``--before``, imported through the worker's ``PYTHONPATH``; its worker checks
that ``yota`` really came from there). Both yota workers are interleaved with
the others round by round, so "before / after" share the machine's state;
``time vs`` is the per-round ratio yota / yota-before.
"""
from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import harness  # noqa: E402
import _peers  # noqa: E402
import cpu  # noqa: E402


def _tree(path):
    return os.path.realpath(os.path.abspath(path))


def build_case(workload, impl, options):
    spec = cpu.SPECS[workload]
    params, data = spec.make(np.random.default_rng(0), options.get("smoke", False))
    if impl == "handwritten":
        return harness.Case(lambda: spec.numpy_vg(params, *data))
    if impl == "yota-before" and not options.get("before"):
        raise ImportError("no --before PATH given")
    yota = _peers.import_yota()
    tree = _tree(os.path.dirname(os.path.dirname(yota.__file__)))
    want = _tree(options["before"]) if impl == "yota-before" else _tree(_peers.ROOT)
    if tree != want:
        raise RuntimeError(f"{impl}: yota was imported from {tree}, not from {want}")

    def call():
        val, g = yota.grad(spec.loss, params, *data, wrt=1)
        return val, g[1]
    return harness.Case(call, before_first=yota.reset, info=_peers.yota_info(yota, impl))


def worker_env(impl, options):
    if impl == "yota-before":
        before = options.get("before")
        if not before:
            return {}
        rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                if p and _tree(p) != _tree(_peers.ROOT)]
        return {"PYTHONPATH": os.pathsep.join([_tree(before)] + rest)}
    return _peers.worker_env_for_checkout()


SUITE = harness.Suite(
    module_file=__file__,
    title="Per-call overhead of yota.grad: this tree against an older one",
    doc=__doc__,
    workloads=[harness.Workload(name, cpu.SPECS[name].desc, ["handwritten", "yota", "yota-before"],
                                compare={"yota": "yota-before"})
               for name in ("tiny", "mlp", "chain", "attention", "deep", "gelu_ln")],
    worker_env=worker_env,
)


def main(argv=None):
    return harness.main(SUITE, argv, extra_args=[(("--before",), dict(
        metavar="PATH", help="an older checkout of yota (a directory with yota/ in it)"))])


if __name__ == "__main__":
    sys.exit(main())
