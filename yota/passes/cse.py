"""Common-subexpression elimination: a repeated call of a pure function with
the same arguments is replaced by the first one's result.

Literals are compared by type and exact value (``0.0`` and ``-0.0`` differ, as
do ``1`` and ``1.0``); calls of impure primitives are never merged.
"""
from __future__ import annotations

import math

from .. import ops
from ..tape import CALL, Const, Tape, Var, rename_args


def _pure(op, consts) -> bool:
    fn = consts[op.fn.index] if isinstance(op.fn, Const) else op.fn
    entry = ops.lookup(fn)
    if entry is not None:
        return entry.pure
    return isinstance(op.fn, Const) and getattr(fn, "__yota_pure__", True)


def literal_key(x):
    """A hashable key of an argument that equal only for identical literals."""
    t = type(x)
    if t is Var:
        return int(x)  # a bare int stands for a Var (literal ints are keyed as ("int", x)): hashed in C
    if t is tuple:
        # The common argument tuple holds Vars and floats: key those inline.
        return ("tuple", tuple([int(y) if type(y) is Var else
                                ("float", y.hex()) if type(y) is float and y == y else
                                literal_key(y) for y in x]))
    if t is list:
        return ("list", tuple([literal_key(y) for y in x]))
    if t is dict:
        return ("dict", tuple((k, literal_key(v)) for k, v in x.items()))
    if t is slice:
        return ("slice", literal_key(x.start), literal_key(x.stop), literal_key(x.step))
    if t is float:
        return ("float", x.hex() if not math.isnan(x) else "nan")
    if t is complex:
        return ("complex", literal_key(x.real), literal_key(x.imag))
    if t in (int, bool):
        return (t.__name__, x)
    hash(x)
    return (t, x)


def eliminate_common_subexpressions(tape: Tape) -> Tape:
    seen: dict = {}
    rename: dict[int, int] = {}
    kept = []
    changed = False
    for op in tape.ops:
        if rename:
            op = op.renamed(rename)
        if op.kind == CALL and op.outs and _pure(op, tape.consts):
            try:
                key = (op.fn if isinstance(op.fn, str) else literal_key(op.fn), literal_key(op.args),
                       literal_key(op.kwargs) if op.kwargs else None)
                prev = seen.get(key)
            except TypeError:
                key = prev = None
            if prev is not None and len(prev.outs) == len(op.outs):
                rename.update(zip(op.outs, prev.outs))
                changed = True
                continue
            if key is not None:
                seen[key] = op
        kept.append(op)
    if not changed:
        return tape
    return tape.replace(ops=tuple(kept), outputs=rename_args(tape.outputs, rename))
