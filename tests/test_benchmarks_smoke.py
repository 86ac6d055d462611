"""The benchmark scripts still run: their handwritten references agree with
finite differences, the harness flags a wrong result, and one workload per
script goes through the worker processes for one tiny round (no timing is
checked: a smoke run's figures mean nothing)."""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)

import cpu  # noqa: E402
import harness  # noqa: E402
import overhead  # noqa: E402
import transforms  # noqa: E402
import vmap as vmap_bench  # noqa: E402


@pytest.mark.parametrize("script", [cpu, transforms, vmap_bench], ids=lambda m: m.__name__)
def test_handwritten_references_match_finite_differences(script):
    assert script.self_check(verbose=False) == {}


def test_compare_digests_flags_a_wrong_gradient():
    g = np.linspace(1, 2, 10, dtype=np.float32)
    ref = harness.make_digest(3.0, (g,))
    assert harness.compare_digests(harness.make_digest(3.0, (g * (1 + 1e-5),)), ref) == ""
    assert "max abs err" in harness.compare_digests(harness.make_digest(3.0, (g * 1.01,)), ref)
    assert "value" in harness.compare_digests(harness.make_digest(3.1, (g,)), ref)
    assert "dtype" in harness.compare_digests(harness.make_digest(3.0, (g.astype(np.float64),)), ref)
    big = np.arange(3 << 18, dtype=np.float64)  # subsampled digests still compare
    assert harness.compare_digests(harness.make_digest(None, (big,)), harness.make_digest(None, (big,))) == ""
    assert harness.compare_digests(harness.make_digest(None, (big + 1,)), harness.make_digest(None, (big,))) != ""


def _run(suite, workload, impls, **options):
    by_kind, versions = harness.run_suite(suite, [workload], set(impls), rounds=1, block=0.02, settle=0.0,
                                          options=dict(smoke=True, **options))
    rows = {r["impl"]: r for r in by_kind["steady"] + by_kind["first"]}
    return rows, versions


def _present(*names):
    return [n for n in names if importlib.util.find_spec(n) is not None]


def test_cpu_workload_runs_in_workers():
    rows, versions = _run(cpu.SUITE, "gelu_ln", ["yota"] + _present("autograd"))
    assert rows["handwritten"]["status"] == "reference"
    for impl, row in rows.items():
        if impl != "handwritten" and not row["status"].startswith("unavailable"):
            assert row["status"] == "ok", (impl, row)
            assert row["n"] >= 1
    assert "yota" in versions


def test_first_call_workload_runs_in_fresh_processes():
    rows, _ = _run(cpu.SUITE, "longloop-4000", ["yota"])
    assert rows["yota"]["status"] == "ok" and rows["yota"]["n"] == 1


def test_overhead_before_tree_is_imported_from_its_path():
    root = os.path.dirname(BENCH)
    rows, versions = _run(overhead.SUITE, "tiny", ["yota"], before=root)
    assert rows["yota-before"]["status"] == "ok", rows["yota-before"]
    assert any(root in v for v in versions["yota-before"])
