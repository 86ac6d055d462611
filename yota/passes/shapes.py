"""Shape simplification: a reshape of a reshape is one reshape, and a reshape,
broadcast or transpose to the shape a value already has is the value itself.
Chains like these come from rules composed with their own pullbacks (forward
mode through the reverse rules leaves ``sum -> reshape -> reshape``)."""
from __future__ import annotations

from ..tape import CALL, Tape, Var, rename_args


def _shape_arg(op):
    if len(op.args) > 1:
        return op.args[1]
    return op.kwargs.get("shape")


def simplify_shapes(tape: Tape) -> Tape:
    types = tape.types
    producer: dict[int, object] = {}
    rename: dict[int, int] = {}
    kept = []
    changed = False
    for op in tape.ops:
        if rename:
            op = op.renamed(rename)
        if op.kind == CALL and len(op.outs) == 1 and op.fn in ("reshape", "broadcast_to", "permute_dims") \
                and op.args and isinstance(op.args[0], Var):
            src = op.args[0].id
            t_in, t_out = types.get(src), types.get(op.out)
            if t_in is not None and t_out is not None and t_in == t_out and (
                    op.fn != "permute_dims" or tuple(_shape_arg(op) or ()) == tuple(range(len(t_in.shape)))):
                rename[op.out] = src
                changed = True
                continue
            inner = producer.get(src)
            if op.fn == "reshape" and inner is not None and inner.fn == "reshape" and isinstance(inner.args[0], Var) \
                    and not inner.kwargs and set(op.kwargs) <= {"copy"} and op.kwargs.get("copy") is None:
                op = op.replace(args=(inner.args[0],) + tuple(op.args[1:]))
                changed = True
        if op.kind == CALL and len(op.outs) == 1:
            producer[op.out] = op
        kept.append(op)
    if not changed:
        return tape
    return tape.replace(ops=tuple(kept), outputs=rename_args(tape.outputs, rename))
