"""Each tape pass alone, on tapes written by hand (no tracing, no arrays): the
rewrite it makes, and the ones it must not make."""
from __future__ import annotations

from yota.passes import (eliminate_common_subexpressions, eliminate_dead_code, factor, fold_fills,
                         simplify_shapes)
from yota.tape import CALL, GUARD, Op, Tape, Var, VarType


def tape(ops, outputs, types, inputs=(1,)):
    """A tape from ``(out, fn, args, kwargs)`` lines; ``types[v]`` are (shape, dtype)."""
    built = [Op(CALL, (o,), fn, tuple(args), dict(kw or {})) if fn != "guard" else
             Op(GUARD, (), args[0], args[1:]) for o, fn, args, kw in ops]
    vt = {v: VarType(tuple(s), d) for v, (s, d) in types.items()}
    return Tape(inputs, [f"x{i}" for i in inputs], built, outputs, len(outputs), (), vt,
                nvars=max(list(types) + [0]))


def lines(t: Tape) -> list[str]:
    return [op.render() for op in t.ops]


F64 = ((3,), "float64")
F32 = ((3,), "float32")
S64 = ((), "float64")
I64 = ((3,), "int64")


# --------------------------------------------------------------------------- fold_fills

def test_fold_ones_times_g_is_g():
    t = tape([(2, "ones_like", [Var(1)], None), (3, "multiply", [Var(2), Var(1)], None)], [Var(3)],
             {1: F64, 2: F64, 3: F64})
    out = fold_fills(t)
    assert out.outputs == (Var(1),) and lines(out) == ["%2 = ones_like(%1)"]


def test_fold_carries_fills_through_layout_ops_and_exact_multiples():
    t = tape([(2, "ones_like", [Var(4)], None), (5, "divide", [Var(2), 4], None),
              (6, "broadcast_to", [Var(5), (3,)], None), (3, "multiply", [Var(6), Var(1)], None)],
             [Var(3)], {1: F64, 2: S64, 4: S64, 5: S64, 6: F64, 3: F64}, inputs=(1, 4))
    out = fold_fills(t)
    assert "%3 = multiply(%1, 0.25)" in lines(out)


def test_fold_keeps_what_is_not_exact():
    common = {1: F32, 2: F32, 3: F32, 4: F32}
    # float32 fills are not multiplied in Python (double rounding)
    t = tape([(2, "ones_like", [Var(1)], None), (3, "multiply", [Var(2), 0.1], None),
              (4, "multiply", [Var(3), Var(1)], None)], [Var(4)], common)
    assert lines(fold_fills(t)) == lines(t)
    # x + 0 is not x (-0.0 + 0 is +0.0)
    t = tape([(2, "zeros_like", [Var(1)], None), (3, "add", [Var(1), Var(2)], None)], [Var(3)],
             {1: F64, 2: F64, 3: F64})
    assert lines(fold_fills(t)) == lines(t)
    # a fill that broadcasts the other operand is not folded
    t = tape([(2, "ones_like", [Var(1)], None), (3, "multiply", [Var(2), Var(4)], None)], [Var(3)],
             {1: F64, 2: F64, 4: S64, 3: F64}, inputs=(1, 4))
    assert lines(fold_fills(t)) == lines(t)
    # nothing is carried through astype (an integer cast changes the value)
    t = tape([(2, "ones_like", [Var(1)], None), (3, "multiply", [Var(2), 2.5], None),
              (4, "astype", [Var(3), "int64"], None), (5, "multiply", [Var(4), Var(6)], None)], [Var(5)],
             {1: F64, 2: F64, 3: F64, 4: I64, 6: I64, 5: I64}, inputs=(1, 6))
    assert "%5 = multiply(%4, %6)" in lines(fold_fills(t))


def test_fold_keeps_integer_literals_integers():
    t = tape([(2, "full_like", [Var(1), 2], None), (3, "multiply", [Var(1), Var(2)], None)], [Var(3)],
             {1: I64, 2: I64, 3: I64})
    out = fold_fills(t)
    assert out.ops[-1].args == (Var(1), 2) and type(out.ops[-1].args[1]) is int


# --------------------------------------------------------------------------- cse

def test_cse_merges_identical_pure_calls():
    t = tape([(2, "exp", [Var(1)], None), (3, "exp", [Var(1)], None), (4, "add", [Var(2), Var(3)], None)],
             [Var(4)], {1: F64, 2: F64, 3: F64, 4: F64})
    out = eliminate_common_subexpressions(t)
    assert lines(out) == ["%2 = exp(%1)", "%4 = add(%2, %2)"]


def test_cse_tells_literals_apart():
    for a, b in ((0.0, -0.0), (1, 1.0), (1, True), (float("nan"), 0.0)):
        t = tape([(2, "multiply", [Var(1), a], None), (3, "multiply", [Var(1), b], None),
                  (4, "add", [Var(2), Var(3)], None)], [Var(4)], {1: F64, 2: F64, 3: F64, 4: F64})
        assert len(eliminate_common_subexpressions(t).ops) == 3, (a, b)


def test_cse_tells_a_variable_from_the_int_of_its_number():
    # keys hold a variable as its number (hashed fast): a literal int must still differ from it,
    # bare, in a tuple, in a slice, in a list; equal arguments still merge
    v3 = Var(3)
    cases = [("multiply", 3, v3), ("__getitem__", (3,), (v3,)), ("__getitem__", slice(3), slice(v3)),
             ("__getitem__", [3], [v3])]
    for fn, a, b in cases:
        def t(a, b):
            return tape([(3, "exp", [Var(1)], None), (4, fn, [Var(1), a], None), (5, fn, [Var(1), b], None),
                         (6, "add", [Var(4), Var(5)], None)], [Var(6)], {1: F64, 3: F64, 4: F64, 5: F64, 6: F64})
        assert len(eliminate_common_subexpressions(t(a, b)).ops) == 4, (fn, a, b)
        assert len(eliminate_common_subexpressions(t(b, b)).ops) == 3, (fn, b)
        assert len(eliminate_common_subexpressions(t(a, a)).ops) == 3, (fn, a)


def test_cse_merges_equal_nans():
    nan = float("nan")
    t = tape([(2, "multiply", [Var(1), nan], None), (3, "multiply", [Var(1), nan], None),
              (4, "add", [Var(2), Var(3)], None)], [Var(4)], {1: F64, 2: F64, 3: F64, 4: F64})
    assert len(eliminate_common_subexpressions(t).ops) == 2


# --------------------------------------------------------------------------- factor

def test_factor_product_rule_accumulations():
    # g*a + (g*2.0)*c  ->  g*(a + c*2.0)
    t = tape([(10, "multiply", [Var(1), Var(2)], None), (11, "multiply", [Var(1), 2.0], None),
              (12, "multiply", [Var(11), Var(4)], None), (13, "add", [Var(10), Var(12)], None)], [Var(13)],
             {v: F64 for v in (1, 2, 4, 10, 11, 12, 13)}, inputs=(1, 2, 4))
    out = factor(t)
    assert lines(out) == ["%14 = multiply(%4, 2.0)", "%15 = add(%2, %14)", "%13 = multiply(%1, %15)"]


def test_factor_leaves_shared_products_and_broadcasts():
    types = {v: F64 for v in (1, 2, 3, 10, 11, 12, 13)}
    # the product g*a is used twice: folding it would compute it again
    t = tape([(10, "multiply", [Var(1), Var(2)], None), (11, "multiply", [Var(1), Var(3)], None),
              (13, "add", [Var(10), Var(11)], None), (12, "exp", [Var(10)], None)], [Var(13), Var(12)], types,
             inputs=(1, 2, 3))
    assert lines(factor(t)) == lines(t)
    types[3] = S64  # a broadcast operand: the sums would have another shape
    t = tape([(10, "multiply", [Var(1), Var(2)], None), (11, "multiply", [Var(1), Var(3)], None),
              (13, "add", [Var(10), Var(11)], None)], [Var(13)], types, inputs=(1, 2, 3))
    assert lines(factor(t)) == lines(t)


# --------------------------------------------------------------------------- dce

def test_dce_drops_unused_calls_and_keeps_guards():
    t = tape([(2, "exp", [Var(1)], None), (3, "sin", [Var(1)], None), (0, "guard", ["bool", Var(1), True], None)],
             [Var(2)], {1: F64, 2: F64, 3: F64})
    out = eliminate_dead_code(t)
    assert [op.fn for op in out.ops] == ["exp", "bool"]


# --------------------------------------------------------------------------- shapes

def test_reshape_chains_and_identity_layouts():
    t = tape([(2, "reshape", [Var(1), (3, 1)], None), (3, "reshape", [Var(2), (1, 3)], None),
              (4, "broadcast_to", [Var(1), (3,)], None), (5, "add", [Var(3), Var(4)], None)], [Var(5)],
             {1: F64, 2: ((3, 1), "float64"), 3: ((1, 3), "float64"), 4: F64, 5: ((1, 3), "float64")})
    out = eliminate_dead_code(simplify_shapes(t))
    assert lines(out) == ["%3 = reshape(%1, (1, 3))", "%5 = add(%3, %1)"]


def test_passes_do_not_change_their_input():
    t = tape([(2, "ones_like", [Var(1)], None), (3, "multiply", [Var(2), Var(1)], None)], [Var(3)],
             {1: F64, 2: F64, 3: F64})
    before = lines(t), t.outputs
    for p in (fold_fills, eliminate_common_subexpressions, factor, eliminate_dead_code, simplify_shapes):
        p(t)
    assert (lines(t), t.outputs) == before
