"""Elementwise kernel fusion: one planner, one emitter per kernel library.

* `plan.py` — which ops fuse (the op table's ``elementwise``, NumPy's type
  rules, and what the emitter accepts), regions, scheduling, the rewrite;
  no library, no code generation.
* `emitter.py` — the emitter interface (``can_emit(expr)``, ``compile(region)``)
  and ``fuse(tape, emitter)``.
* `cuda.py` — CUDA C for ``cupy.ElementwiseKernel`` (the CuPy backend).
* `numexpr.py` — numexpr programs, multithreaded on the CPU (the NumPy backend).

The emitters are imported by the backends that use them, so importing this
package needs no kernel library.
"""
from __future__ import annotations

from . import plan  # noqa: F401  (the module: its function ``plan.plan`` would hide it if bound here)
from .emitter import Emitter, fuse, plan_for
from .plan import Expr, Plan, Region, rewrite

__all__ = ["Emitter", "fuse", "plan_for", "Expr", "Plan", "Region", "rewrite", "plan"]
