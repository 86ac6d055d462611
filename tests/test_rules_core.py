"""Gradient tests for the core rule set, on every backend present."""
from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace

from yota.testing import check_grad

TORCH_NEG_STEP = ("PyTorch: a negative slice step (x[::-1]) raises in PyTorch itself ('step must be greater "
                  "than zero'); write xp.flip(x, axis=...)")

UNARY = {
    "exp": lambda xp, x: xp.exp(x),
    "log": lambda xp, x: xp.log(xp.abs(x) + 0.5),
    "tanh": lambda xp, x: xp.tanh(x),
    "sin": lambda xp, x: xp.sin(x),
    "cos": lambda xp, x: xp.cos(x),
    "sqrt": lambda xp, x: xp.sqrt(x * x + 1.0),
    "abs": lambda xp, x: xp.abs(x),
    "negative": lambda xp, x: -x,
    "positive": lambda xp, x: +x,
    "square_by_pow": lambda xp, x: x ** 2,
    "pow_scalar_base": lambda xp, x: 2.0 ** x,
    "sum": lambda xp, x: xp.sum(x),
    "sum_axis": lambda xp, x: xp.sum(x, axis=0),
    "sum_keepdims": lambda xp, x: xp.sum(x, axis=(0,), keepdims=True),
    "mean": lambda xp, x: xp.mean(x, axis=1),
    "max": lambda xp, x: xp.max(x, axis=-1),
    "min": lambda xp, x: xp.min(x),
    "max_keepdims": lambda xp, x: xp.max(x, axis=0, keepdims=True),
    "reshape": lambda xp, x: xp.reshape(x, (-1,)),
    "permute_dims": lambda xp, x: xp.permute_dims(x, (1, 0)),
    "matrix_transpose": lambda xp, x: xp.matrix_transpose(x),
    "T": lambda xp, x: x.T,
    # raw Dask arrays lack .mT (finite differences call f on them); traced ones have it
    "mT": lambda xp, x: x.mT if hasattr(x, "mT") else xp.matrix_transpose(x),
    "expand_dims": lambda xp, x: xp.expand_dims(x, axis=1),
    "squeeze": lambda xp, x: xp.squeeze(xp.expand_dims(x, axis=0), axis=0),
    "broadcast_to": lambda xp, x: xp.broadcast_to(x[:1, :], (4, 3)),
    "getitem_int": lambda xp, x: x[1, :],
    "getitem_int_last": lambda xp, x: x[..., -1],
    "getitem_slice_step": lambda xp, x: x[::-1, 1:],
    "getitem_ellipsis_none": lambda xp, x: x[..., None, 0],
    "getitem_neg_step": lambda xp, x: x[2:0:-1, ::2],
    "where": lambda xp, x: xp.where(x > 0, x * 2.0, -x),
    "maximum_ties": lambda xp, x: xp.maximum(x, x * 1.0),
}

BINARY = {
    "add": lambda xp, x, y: x + y,
    "subtract": lambda xp, x, y: x - y,
    "multiply": lambda xp, x, y: x * y,
    "divide": lambda xp, x, y: x / (y * y + 1.0),
    "pow": lambda xp, x, y: (x * x + 1.0) ** y,
    "maximum": lambda xp, x, y: xp.maximum(x, y),
    "minimum": lambda xp, x, y: xp.minimum(x, y),
    "broadcast_add": lambda xp, x, y: x + y[0, :],
    "where_both": lambda xp, x, y: xp.where(x > y, x, y),
    "matmul": lambda xp, x, y: x @ y.T,
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(backend, rng, name):
    if backend.name == "torch" and name in ("getitem_slice_step", "getitem_neg_step"):
        pytest.skip(TORCH_NEG_STEP)
    fn = UNARY[name]
    x = backend.asarray(rng.standard_normal((3, 3)))

    def f(x):
        xp = array_namespace(x)
        return fn(xp, x)

    check_grad(f, x)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(backend, rng, name):
    fn = BINARY[name]
    x = backend.asarray(rng.standard_normal((3, 3)))
    y = backend.asarray(rng.standard_normal((3, 3)))

    def f(x, y):
        xp = array_namespace(x)
        return fn(xp, x, y)

    check_grad(f, x, y)


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 2, 3), (3, 4)),
                                    ((4, 3), (2, 3, 2))])
def test_matmul_shapes(backend, rng, shapes):
    x = backend.asarray(rng.standard_normal(shapes[0]))
    y = backend.asarray(rng.standard_normal(shapes[1]))
    check_grad(lambda x, y: x @ y, x, y)


def test_float32_stays_float32(backend, rng):
    x = backend.asarray(rng.standard_normal((4,)), dtype=np.float32)
    w = backend.asarray(rng.standard_normal((4,)), dtype=np.float32)

    def f(x, w):
        xp = array_namespace(x)
        return xp.sum(xp.tanh(x * w + 0.5) * 2.0)

    check_grad(f, x, w)


def test_python_float_argument(backend, rng):
    x = backend.asarray(rng.standard_normal((3,)))

    def f(x, a):
        xp = array_namespace(x)
        return xp.sum(xp.sin(x * a))

    check_grad(f, x, 0.7)


def test_astype_float32_to_float64(backend, rng):
    x = backend.asarray(rng.standard_normal((3,)), dtype=np.float32)

    def f(x):
        xp = array_namespace(x)
        return xp.sum(xp.exp(xp.astype(x, xp.float64)))

    check_grad(f, x)
