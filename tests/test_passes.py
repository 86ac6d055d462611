"""Tape passes: simplification, CSE/DCE, NumPy buffer reuse (alone: with
fusion off, so that every elementwise op is left to it; fusion and reuse
together are tested in tests/test_numpy_fusion.py)."""
from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota
from yota import codegen
from yota.backends import numpy as np_backend


def np_backend_min_size():
    from yota.backends import _reuse
    return _reuse.MIN_SIZE


def chain(y):
    xp = array_namespace(y)
    for _ in range(3):
        y = xp.sin(y) * 1.01 + y * 0.5
    return xp.sum(y)


def test_scalar_seed_is_folded_away():
    text = str(yota.gradtape(chain, np.ones(5)))
    assert "ones_like" not in text and "broadcast_to" not in text
    assert "multiply(%" in text


def test_common_subexpressions_are_shared():
    def f(x):
        xp = array_namespace(x)
        return xp.sum(xp.exp(x) * xp.exp(x))

    text = str(yota.gradtape(f, np.ones(3)))
    assert text.count("exp(%1)") == 1


@pytest.fixture
def no_fusion():
    prev = np_backend.use_fusion(False)
    yield
    np_backend.use_fusion(prev)


def test_buffer_reuse_keeps_inputs_and_outputs(rng, no_fusion):
    y = rng.standard_normal(np_backend_min_size())
    before = y.copy()
    val, g = yota.grad(chain, y)
    tape = yota.gradtape(chain, y)
    reused = np_backend.transform(tape)
    src = codegen.generate(reused)
    assert "out=" in src
    plain = yota.compile(tape)(chain, y)
    np.testing.assert_array_equal(y, before)
    for _ in range(2):
        val2, g2 = yota.grad(chain, y)
        np.testing.assert_allclose(val2, plain[0])
        np.testing.assert_allclose(g2[1], plain[1][1])
    np.testing.assert_array_equal(y, before)


def test_buffer_reuse_never_writes_into_a_returned_value(rng, no_fusion):
    def f(x):
        xp = array_namespace(x)
        return xp.sqrt(x * x + 1.0)

    x, u = rng.random((3, 3)), rng.random((3, 3))
    for _ in range(2):
        val, g = yota.grad(f, x, seed=u)
        np.testing.assert_allclose(val, np.sqrt(x * x + 1))
        np.testing.assert_allclose(g[1], u * x / np.sqrt(x * x + 1))
