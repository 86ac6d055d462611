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


def mlp_forward(params, X, xp=None):
    """The logits of ``mlp_loss``'s network (for jvp and per-example benchmarks)."""
    xp = xp or array_namespace(X)
    W1, b1, W2, b2, W3, b3 = params
    H1 = xp.tanh(X @ W1 + b1)
    H2 = xp.tanh(H1 @ W2 + b2)
    return H2 @ W3 + b3


def mlp_loss_one(params, x, y, xp=None):
    """``mlp_loss`` of one example (``x``: one row of X, ``y``: one row of Y)."""
    xp = xp or array_namespace(x)
    return mlp_loss(params, xp.reshape(x, (1, -1)), xp.reshape(y, (1, -1)), xp=xp)


def res_block(h, W, b, xp=None):
    """One residual tanh block."""
    xp = xp or array_namespace(h)
    return h + xp.tanh(h @ W + b)


def res_loss(params, X, xp=None, block=res_block):
    """A residual tanh MLP, params = (W1, b1, W2, b2, ...), loss = sum(out^2) / batch.
    ``block`` is called as ``block(h, W, b)``: pass a checkpointed one."""
    xp = xp or array_namespace(X)
    H = X
    for W, b in zip(params[::2], params[1::2]):
        H = block(H, W, b)
    return xp.sum(H * H) / H.shape[0]
