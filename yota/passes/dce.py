"""Dead-code elimination: drop calls whose results nothing uses (guards stay)."""
from __future__ import annotations

from ..tape import GUARD, Tape, iter_vars


def eliminate_dead_code(tape: Tape) -> Tape:
    live = set(iter_vars(tape.outputs))
    kept = []
    for op in reversed(tape.ops):
        if op.kind == GUARD or any(o in live for o in op.outs):
            kept.append(op)
            live.update(op.uses())
    if len(kept) == len(tape.ops):
        return tape
    kept.reverse()
    return tape.replace(ops=tuple(kept))
