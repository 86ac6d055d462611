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
