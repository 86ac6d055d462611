"""A tape pass for libraries whose elementwise functions take ``out=``: write
each elementwise result into the buffer of an operand that dies at that op.

Fewer fresh allocations means fewer page faults on large arrays and a lower
peak. Only buffers that the tape itself made by an elementwise op, and that
no other op may view, are reused: never an input (the caller's array), never
the result of a reshape, transpose or indexing (a view of a live array).
"""
from __future__ import annotations

import copy

from yota.tape import CALL, Tape, Var, iter_vars

# tape name -> name of the ufunc (NumPy and CuPy share these names)
ELEMENTWISE = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "divide",
    "negative": "negative", "positive": "positive", "pow": "power",
    "exp": "exp", "expm1": "expm1", "log": "log", "log1p": "log1p", "log2": "log2", "log10": "log10",
    "sin": "sin", "cos": "cos", "tan": "tan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "sqrt": "sqrt", "square": "square",
    "abs": "absolute", "reciprocal": "reciprocal", "maximum": "maximum", "minimum": "minimum",
    "sign": "sign", "floor": "floor", "ceil": "ceil", "trunc": "trunc",
}


# Below this many elements a fresh allocation is cheaper than the keyword call.
MIN_SIZE = 1 << 14


def reuse_buffers(tape: Tape, ufuncs) -> Tape:
    """A copy of ``tape`` whose eligible elementwise ops write into dead operands.

    ``ufuncs(name)`` returns the library's ufunc for a NumPy ufunc name.
    """
    ops = tape.ops
    last: dict[int, int] = {}
    users: dict[int, list] = {}
    for i, op in enumerate(ops):
        for v in op.uses():
            last[v] = i
            users.setdefault(v, []).append(op)
    outputs = set(iter_vars(tuple(tape.outputs)))
    # A buffer is ours to overwrite when an elementwise op made it and every
    # use of it is elementwise too (so no view of it can be alive).
    fresh = {op.out for op in ops
             if op.kind == CALL and op.fn in ELEMENTWISE and not isinstance(op.out, tuple) and not op.kwargs}

    def eligible(v):
        return v not in outputs and all(u.kind == CALL and u.fn in ELEMENTWISE for u in users.get(v, ()))

    owned = {v for v in fresh if eligible(v)}
    new_ops = []
    changed = False
    for i, op in enumerate(ops):
        if op.kind == CALL and op.fn in ELEMENTWISE and not op.kwargs and not isinstance(op.out, tuple):
            want = tape.types.get(op.out)
            if want and want[0] and _size(want[0]) >= MIN_SIZE:  # arrays only: a 0-d result may be a scalar
                for a in op.args:
                    if isinstance(a, Var) and a.id in owned and last.get(a.id) == i and tape.types.get(a.id) == want:
                        op = copy.copy(op)
                        op.fn = tape.const(ufuncs(ELEMENTWISE[op.fn]), ELEMENTWISE[op.fn])
                        op.kwargs = {"out": a}
                        owned.discard(a.id)
                        if eligible(op.out):
                            owned.add(op.out)
                        changed = True
                        break
        new_ops.append(op)
    if not changed:
        return tape
    out = copy.copy(tape)
    out.ops = new_ops
    return out


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s if isinstance(s, int) else 0
    return n
