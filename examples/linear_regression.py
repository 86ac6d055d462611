"""Linear regression by gradient descent: the usage from DESIGN.md.

    python examples/linear_regression.py
"""
from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace

import yota


@dataclass
class Linear:
    W: np.ndarray
    b: np.ndarray


def forward(m, X):
    xp = array_namespace(X)
    return m.W @ X + xp.reshape(m.b, (-1, 1))


def loss(m, X, Y):
    xp = array_namespace(X)
    return xp.mean((forward(m, X) - Y) ** 2)


def main(steps: int = 100, lr: float = 0.1) -> float:
    rng = np.random.default_rng(0)
    W_true, b_true = rng.standard_normal((3, 4)), rng.standard_normal(3)
    X = rng.standard_normal((4, 200))
    Y = W_true @ X + b_true[:, None] + 0.01 * rng.standard_normal((3, 200))

    m = Linear(np.zeros((3, 4)), np.zeros(3))
    for i in range(steps):
        val, g = yota.grad(loss, m, X, Y)      # g == (fn_grad, m_grad, X_grad, Y_grad)
        yota.update_(m, g[1], lambda x, gx: x - lr * gx)
        if i % 10 == 0 or i == steps - 1:
            print(f"step {i:3d}  loss {float(val):.6f}")
    print(f"max |W - W_true| = {np.max(np.abs(m.W - W_true)):.4f}")
    print(f"traces: {yota.cache_info()['traces']} (one trace, then the cached compiled function)")
    return float(val)


if __name__ == "__main__":
    main()
