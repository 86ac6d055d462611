"""Factoring of product-rule accumulations: ``g*a + (g*b)*c`` becomes
``g*(a + c*b)``, one pass over the data fewer per accumulation.

Applies when every array involved has the result's type (no broadcasting)
and each product being folded in has no other use. Reassociation changes
rounding by an ulp or so, never the sign of a zero or where a nan or an inf
appears.
"""
from __future__ import annotations

from ..tape import CALL, Op, Tape, Var


def _single_mul(x, producer, uses):
    op = producer.get(x.id) if isinstance(x, Var) else None
    if op is not None and op.kind == CALL and op.fn == "multiply" and not op.kwargs and len(op.args) == 2 \
            and uses.get(x.id) == 1:
        return op
    return None


def _multiple_of(x, producer, uses):
    """x == g * k: (g, k, ops to drop); k an array, a literal, or ("times", literal, array)."""
    m = _single_mul(x, producer, uses)
    if m is None:
        return None
    g, k = m.args
    inner = _single_mul(g, producer, uses)
    if inner is not None and isinstance(k, Var) and type(inner.args[1]) in (int, float):
        return inner.args[0], ("times", inner.args[1], k), (m, inner)
    return g, k, (m,)


def factor(tape: Tape) -> Tape:
    uses = tape.use_counts()
    producer = {op.out: op for op in tape.ops if op.kind == CALL and len(op.outs) == 1}
    types = tape.types
    new_types = dict(types)
    nvars = tape.nvars
    dead: set[int] = set()
    out_ops: list[Op] = []
    changed = False

    def same(*xs):
        t = [types.get(x.id) for x in xs if isinstance(x, Var)]
        return None not in t and all(u == t[0] for u in t)

    def new(fn, args, like, note):
        nonlocal nvars
        nvars += 1
        new_types[nvars] = types[like]
        out_ops.append(Op(CALL, (nvars,), fn, args, None, note, None, producer[like].section))
        return Var(nvars)

    for op in tape.ops:
        if op.kind == CALL and op.fn == "add" and not op.kwargs and len(op.args) == 2 and len(op.outs) == 1:
            x = _multiple_of(op.args[0], producer, uses)
            y = _multiple_of(op.args[1], producer, uses)
            if x is not None and y is not None and isinstance(x[0], Var) and x[0] == y[0]:
                ks = [x[1], y[1]]
                arrays = [k for k in ks if isinstance(k, Var)] + [k[2] for k in ks if isinstance(k, tuple)]
                literals_ok = all(isinstance(k, (Var, tuple)) or type(k) in (int, float) for k in ks)
                if literals_ok and arrays and same(x[0], Var(op.out), *arrays):
                    terms = [new("multiply", (k[2], k[1]), op.out, "factored") if isinstance(k, tuple) else k
                             for k in ks]
                    total = new("add", tuple(terms), op.out, "factored")
                    dead.update(id(d) for d in x[2] + y[2])
                    op = op.replace(fn="multiply", args=(x[0], total))
                    changed = True
        out_ops.append(op)
    if not changed:
        return tape
    kept = tuple(o for o in out_ops if id(o) not in dead)
    return tape.replace(ops=kept, types=new_types, nvars=nvars)
