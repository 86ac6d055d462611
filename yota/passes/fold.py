"""Fill folding: arrays known to hold one repeated value (the all-ones seed of
a scalar output, its reshapes and broadcasts, and exact scalar multiples of
it) are folded into the ops that use them.

``multiply(ones, g)`` becomes ``g``; ``multiply(full(2.0), g)`` becomes
``g * 2.0``; ``subtract(g, zeros)`` becomes ``g``. A rewrite is made only when
it is exact: the other operand keeps its shape and dtype (no broadcasting or
promotion was hiding in the op), and arithmetic on fill values is done only
where Python's float arithmetic is the array's (float64), so the folded tape
computes bit for bit what the traced one did. ``x + 0`` is not folded
(``-0.0 + 0`` is ``+0.0``), nor is anything through ``astype``.
"""
from __future__ import annotations

from .. import ops
from ..tape import CALL, Tape, Var, rename_args

# the fill value of a creation call on its arguments
_CREATION = {"ones_like": lambda args, kw: 1, "ones": lambda args, kw: 1,
             "zeros_like": lambda args, kw: 0, "zeros": lambda args, kw: 0,
             "full_like": lambda args, kw: kw.get("fill_value", args[1] if len(args) > 1 else None),
             "full": lambda args, kw: kw.get("fill_value", args[1] if len(args) > 1 else None)}


def _literal(x):
    return x if type(x) in (int, float) else None


def fold_fills(tape: Tape) -> Tape:
    types = tape.types
    fill: dict[int, int | float] = {}
    rename: dict[int, int] = {}
    kept = []
    changed = False
    for op in tape.ops:
        if rename:
            op = op.renamed(rename)
        if op.kind != CALL or len(op.outs) != 1 or not isinstance(op.fn, str):
            kept.append(op)
            continue
        fn, args = op.fn, op.args
        out_t = types.get(op.out)
        a0 = args[0] if args else None
        creation = _CREATION.get(fn)
        if creation is not None:
            value = _literal(creation(args, op.kwargs))
            if value is not None and out_t is not None and not out_t.is_python:
                fill[op.out] = value
        elif isinstance(a0, Var) and a0.id in fill and _moves_data(fn) and types.get(a0.id) is not None \
                and out_t is not None and types[a0.id].dtype == out_t.dtype:
            fill[op.out] = fill[a0.id]
        elif fn in ("multiply", "add", "subtract", "divide") and len(args) == 2 and not op.kwargs \
                and out_t is not None:
            folded = _fold(fn, args, fill, types, out_t)
            if folded is not None:
                changed = True
                kind, value = folded
                if kind == "same":
                    rename[op.out] = value.id
                    continue
                if kind == "fill":
                    fill[op.out] = value
                else:
                    op = op.replace(args=value)
        kept.append(op)
    if not changed:
        return tape
    return tape.replace(ops=tuple(kept), outputs=rename_args(tape.outputs, rename))


def _moves_data(fn) -> bool:
    entry = ops.lookup(fn)
    return entry is not None and entry.moves_data


_ARITH = {"multiply": lambda a, b: a * b, "add": lambda a, b: a + b, "subtract": lambda a, b: a - b,
          "divide": lambda a, b: a / b}


def _exact_arithmetic(t) -> bool:
    return t.dtype == "float64"


def _fold(fn, args, fill, types, out_t):
    """("same", var) when the op is the identity on var, ("fill", value) when
    its result is filled too, ("args", new_args) for a cheaper form, or None."""
    x, y = args
    fx = fill.get(x.id) if isinstance(x, Var) else None
    fy = fill.get(y.id) if isinstance(y, Var) else None
    if fx is None and fy is None:
        return None
    if fx is not None and fy is not None:
        if not _exact_arithmetic(out_t) or types.get(x.id) is None:
            return None
        if fn == "divide" and fy == 0:
            return None
        return "fill", _ARITH[fn](fx, fy)
    var, c, c_is_fill_of_x = (y, fx, True) if fx is not None else (x, fy, False)
    lit_c = None
    if not isinstance(var, Var):
        # filled array with a literal: the result is filled (exact in float64 only)
        if _literal(var) is None or not _exact_arithmetic(out_t):
            return None
        lit = var
        if fn == "divide" and (lit == 0 if c_is_fill_of_x else c == 0):
            return None  # leave division by zero to the library
        a, b = (c, lit) if c_is_fill_of_x else (lit, c)
        return "fill", _ARITH[fn](a, b)
    if types.get(var.id) != out_t:
        return None  # the fill broadcast the other operand or changed its dtype
    lit_c = c
    if fn == "multiply":
        if lit_c == 1:
            return "same", var
        return "args", (var, _as_literal(lit_c, out_t))
    if fn == "subtract" and not c_is_fill_of_x:  # var - c
        if lit_c == 0:
            return "same", var
        return "args", (var, _as_literal(lit_c, out_t))
    if fn == "subtract":  # c - var
        return "args", (_as_literal(lit_c, out_t), var)
    if fn == "divide":
        if not c_is_fill_of_x:  # var / c
            return ("same", var) if lit_c == 1 else ("args", (var, _as_literal(lit_c, out_t)))
        return "args", (_as_literal(lit_c, out_t), var)  # c / var
    # add: var + 0 is not var for var = -0.0
    if lit_c == 0:
        return None
    return "args", (var, _as_literal(lit_c, out_t)) if not c_is_fill_of_x else (_as_literal(lit_c, out_t), var)


def _as_literal(c, t):
    # A fill of an integer array stays an int; a float fill of a float array a float.
    if t.dtype.startswith(("int", "uint")) or t.dtype == "bool":
        return int(c) if float(c).is_integer() else c
    return float(c) if isinstance(c, int) and not isinstance(c, bool) else c
