"""The array-API losses the CPU and GPU benchmarks share: one definition that
yota traces (``xp`` from the arrays) and JAX runs (``xp=jax.numpy``)."""
from __future__ import annotations

from array_api_compat import array_namespace


def mlp_loss(params, X, Y, xp=None):
    xp = xp or array_namespace(X)
    W1, b1, W2, b2, W3, b3 = params
    H1 = xp.tanh(X @ W1 + b1)
    H2 = xp.tanh(H1 @ W2 + b2)
    Z = H2 @ W3 + b3
    Z = Z - xp.max(Z, axis=1, keepdims=True)
    logp = Z - xp.log(xp.sum(xp.exp(Z), axis=1, keepdims=True))
    return -xp.sum(Y * logp) / X.shape[0]


def chain_loss(params, xp=None):
    (y,) = params
    xp = xp or array_namespace(y)
    for _ in range(6):
        y = xp.sin(y) * 1.01 + y * 0.5
    return xp.sum(y)
