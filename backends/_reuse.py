"""A tape pass for libraries whose elementwise functions take ``out=``: write
each elementwise result into the buffer of an operand that dies at that op.

Fewer fresh allocations means fewer page faults on large arrays and a lower
peak. Only buffers that the tape itself made by an elementwise op, and that
no other op may view, are reused: never an input (the caller's array), never
the result of a reshape, transpose or indexing (a view of a live array).
Which ops qualify, and their ufunc names, come from the op table.

On NumPy this pass runs after fusion (``backends/fusion/``), on the ops left
as NumPy calls: a fused kernel's call is no ufunc, so a value it reads is
never overwritten while it may still read it, and the arrays it returns are
never taken as buffers.
"""
from __future__ import annotations

from yota import ops
from yota.tape import CALL, Const, Tape, Var, iter_vars

# Below this many elements a fresh allocation is cheaper than the keyword call.
MIN_SIZE = 1 << 14


def ufunc_name(op) -> str | None:
    """The NumPy ufunc name of a plain one-result elementwise call (the op table's), or None."""
    if op.kind != CALL or not isinstance(op.fn, str) or op.kwargs or len(op.outs) != 1 or op.out_type:
        return None
    entry = ops.lookup(op.fn)
    return entry.ufunc if entry is not None and entry.elementwise else None


def reuse_buffers(tape: Tape, ufuncs) -> Tape:
    """A tape whose eligible elementwise ops write into dead operands.

    ``ufuncs(name)`` returns the library's ufunc for a NumPy ufunc name.
    """
    ops_ = tape.ops
    types = tape.types

    def big(op):
        want = types.get(op.out)
        return want is not None and want.shape and None not in want.shape and size(want.shape) >= MIN_SIZE

    # Long traces of small arrays are common and have nothing to reuse: say so
    # before building the use lists.
    if not any(op.kind == CALL and op.outs and big(op) and ufunc_name(op) is not None for op in ops_):
        return tape
    last: dict[int, int] = {}
    users: dict[int, list] = {}
    for i, op in enumerate(ops_):
        for v in op.uses():
            last[v] = i
            users.setdefault(v, []).append(op)
    outputs = set(iter_vars(tape.outputs))
    # A buffer is ours to overwrite when an elementwise op made it and every
    # use of it is elementwise too (so no view of it can be alive).
    fresh = {op.out for op in ops_ if ufunc_name(op) is not None}

    def eligible(v):
        return v not in outputs and all(ufunc_name(u) is not None for u in users.get(v, ()))

    owned = {v for v in fresh if eligible(v)}
    new_ops = []
    made: dict = {}
    consts = list(tape.consts)
    for i, op in enumerate(ops_):
        name = ufunc_name(op)
        if name is not None:
            want = types.get(op.out)
            if big(op):
                for a in op.args:
                    if isinstance(a, Var) and a.id in owned and last.get(a.id) == i and tape.types.get(a.id) == want:
                        handle = made.get(name)
                        if handle is None:
                            consts.append(ufuncs(name))
                            handle = made[name] = Const(len(consts) - 1, name)
                        op = op.replace(fn=handle, kwargs={"out": a})
                        owned.discard(a.id)
                        if eligible(op.out):
                            owned.add(op.out)
                        break
        new_ops.append(op)
    if not made:
        return tape
    return tape.replace(ops=tuple(new_ops), consts=tuple(consts))


def size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
