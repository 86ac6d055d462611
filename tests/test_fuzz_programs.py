"""Random array-API programs (tests/fuzz): yota.grad against the plain program and
finite differences, on the first call, the cached call, and a fresh trace.

A fixed set of seeds keeps CI guarding what the campaign (``python -m tests.fuzz``)
found. A failing case prints the program as a runnable repro; shrink it with
``python -m tests.fuzz --seeds SEED --backend NAME``.
"""
from __future__ import annotations

import pytest

from tests.fuzz.check import Reference, check
from tests.fuzz.programs import generate

#: The program seeds checked on every backend.
SEEDS = tuple(range(60))

_REFS: dict = {}


def _program(seed):
    if seed not in _REFS:
        prog = generate(seed)
        _REFS[seed] = (prog, Reference(prog))
    return _REFS[seed]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_program(backend, seed):
    prog, ref = _program(seed)
    result = check(prog, backend.name, ref)
    # A clear error, or a program the backend itself rejects, is not a silent wrong answer.
    if result.status == "fail":
        lines = [f"seed {seed} on {backend.name}: {len(result.failures)} failures"]
        lines += [f"  {f.kind} ({f.call}) {f.where}: {f.message[:300]}" for f in result.failures[:6]]
        lines += ["", "repro:", prog.repro(backend.name)]
        pytest.fail("\n".join(lines), pytrace=False)
