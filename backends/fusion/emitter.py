"""What a backend's kernel library tells the planner, and the one function
that fuses a tape with it.

An emitter answers two questions: can it express this member (an `Expr`: an
op with its operand dtypes, result dtype and computation dtype), and what
callable runs a whole region (inputs in ``region.inputs`` order; one array of
``region.shape`` per output, a tuple when there are several). The planner
fuses only members the emitter accepts; everything else stays a plain call,
so an op or dtype a library lacks costs speed, never correctness.
"""
from __future__ import annotations

from typing import Callable, Protocol

from yota.tape import Tape

from .plan import Expr, Plan, Region, plan, rewrite

__all__ = ["Emitter", "fuse", "plan_for"]


class Emitter(Protocol):
    #: the most inputs + outputs one kernel may have
    max_params: int

    def can_emit(self, expr: Expr) -> bool:
        """Whether this member can be part of a kernel, exactly as NumPy computes it."""

    def compile(self, region: Region) -> Callable:
        """The callable that runs ``region`` (called once per region, when a tape is lowered)."""


def plan_for(tape: Tape, emitter: Emitter, *, min_ops: int = 2, min_size: int = 0) -> Plan:
    """The regions ``emitter`` would run for ``tape``."""
    return plan(tape, emitter.can_emit, min_ops=min_ops, max_params=emitter.max_params, min_size=min_size)


def fuse(tape: Tape, emitter: Emitter, *, min_ops: int = 2, min_size: int = 0) -> Tape:
    """``tape`` with each region ``emitter`` can run as one call of its kernel."""
    the_plan = plan_for(tape, emitter, min_ops=min_ops, min_size=min_size)
    if not the_plan.regions:
        return tape
    return rewrite(tape, the_plan, emitter.compile)
