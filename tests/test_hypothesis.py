"""Property tests: random shapes, axes and broadcasting, checked by check_grad."""
from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace

from yota.testing import check_grad

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, data=st.data())
def test_reductions_over_random_axes(shape, data):
    ndim = len(shape)
    axes = data.draw(st.none() | st.lists(st.integers(0, max(ndim - 1, 0)), unique=True, max_size=ndim)
                     .map(tuple)) if ndim else None
    keepdims = data.draw(st.booleans())
    name = data.draw(st.sampled_from(["sum", "mean", "prod", "max"]))
    x = np.asarray(np.random.default_rng(len(shape)).standard_normal(shape) + 2.0)

    def f(x):
        xp = array_namespace(x)
        return getattr(xp, name)(xp.sin(x), axis=axes, keepdims=keepdims)

    check_grad(f, x)


@settings(max_examples=25, deadline=None)
@given(a=shapes, b=shapes, op=st.sampled_from(["add", "multiply", "divide", "maximum"]))
def test_broadcasting_binary_ops(a, b, op):
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return
    rng = np.random.default_rng(3)
    x, y = np.asarray(rng.standard_normal(a)), np.asarray(rng.standard_normal(b) + 3.0)

    def f(x, y):
        xp = array_namespace(x)
        return getattr(xp, op)(xp.tanh(x), y)

    check_grad(f, x, y)


# --------------------------------------------------------------------------- compiled == traced

import math  # noqa: E402

import yota  # noqa: E402

_CONSTANTS = st.sampled_from([0, 1, 2, -1, -3, 0.0, -0.0, 0.5, -2.5, 1e300, math.inf, -math.inf, math.nan,
                              1j, complex(0.0, -0.0), complex(-0.0, 0.0), 1 - 0j, complex(math.nan, 1.0),
                              complex(2.0, -math.inf), True, False])
_BINARY = ["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "copysign", "atan2", "hypot",
           "equal", "less", "where_pos"]
_UNARY = ["negative", "abs", "exp", "sin", "sqrt", "floor", "sign", "square", "tanh", "positive", "reciprocal"]


def _apply(xp, op, x, c, left):
    if op == "where_pos":
        return xp.where(x > 0, c, x) if left else xp.where(x > 0, x, c)
    if op in ("copysign", "atan2", "hypot", "maximum", "minimum") and isinstance(c, complex):
        c = c.real
    if op in ("copysign", "atan2", "hypot", "maximum", "minimum") and xp.isdtype(x.dtype, "complex floating"):
        x = xp.real(x)
    f = getattr(xp, op)
    return f(c, x) if left else f(x, c)


@settings(max_examples=120, deadline=None)
@given(program=st.lists(st.tuples(st.sampled_from(_BINARY + _UNARY), _CONSTANTS, st.booleans()), min_size=1,
                        max_size=6),
       values=st.lists(st.sampled_from([0.0, -0.0, 1.5, -2.0, math.inf, -math.inf, math.nan, 3.0]), min_size=1,
                       max_size=5))
def test_compiled_code_equals_traced_code(program, values):
    """Random constants through random ops: the compiled tape gives what the
    trace computed, bit for bit in dtype, shape, value and sign."""
    x = np.asarray(values, dtype=np.float64)

    def f(x):
        xp = array_namespace(x)
        y = x
        for op, c, left in program:
            if op in _UNARY:
                y = getattr(xp, op)(y)
            else:
                y = _apply(xp, op, y, c, left)
            if y.dtype == xp.bool:
                y = xp.astype(y, xp.float64)
        return y

    with np.errstate(all="ignore"):
        try:
            traced, tape = yota.trace(f, x)
        except (TypeError, ValueError, OverflowError):
            return  # the program itself is invalid (e.g. a complex maximum)
        compiled = yota.compile(tape)(f, x)
    assert compiled.dtype == traced.dtype and compiled.shape == traced.shape
    np.testing.assert_array_equal(compiled, traced)
    for part in (np.real, np.imag):
        np.testing.assert_array_equal(np.signbit(part(compiled)), np.signbit(part(traced)))


@settings(max_examples=60, deadline=None)
@given(program=st.lists(st.tuples(st.sampled_from(["add", "subtract", "multiply", "divide", "maximum", "where_pos"]),
                                  st.sampled_from([0, 1, -1, 2, 0.0, -0.0, 0.5, -3.0]), st.booleans()),
                        min_size=1, max_size=5))
def test_gradient_passes_keep_signs_and_integers(program):
    """The gradient tape after the passes (fill folding, CSE, factoring) gives the
    traced call's value and gradients: same dtype and sign, values to an ulp."""
    x = np.asarray([0.5, -1.5, 2.0, -0.0, 0.0])

    def f(x):
        xp = array_namespace(x)
        y = x
        for op, c, left in program:
            y = _apply(xp, op, y, c, left)
        return xp.sum(y * y)

    with np.errstate(all="ignore"):
        first = yota.grad(f, x)
        cached = yota.grad(f, x)
    assert yota.cache_info()["hits"] >= 1
    for a, b in ((first[0], cached[0]), (first[1][1], cached[1][1])):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(np.signbit(b), np.signbit(a))
