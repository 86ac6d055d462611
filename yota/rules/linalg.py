"""Linear algebra."""
from __future__ import annotations

from ._util import unbroadcast
from .registry import rrule


@rrule("matmul")
def matmul(xp, x, y):
    out = x @ y
    if x.ndim == 1 and y.ndim == 1:
        return out, lambda g: (lambda: g * y, lambda: g * x)
    # Lift vectors to matrices, differentiate the matrix product, drop the axis again.
    x2 = xp.expand_dims(x, axis=0) if x.ndim == 1 else x
    y2 = xp.expand_dims(y, axis=1) if y.ndim == 1 else y

    def pullback(g):
        g2 = xp.expand_dims(g, axis=-2) if x.ndim == 1 else g
        g2 = xp.expand_dims(g2, axis=-1) if y.ndim == 1 else g2
        dx = lambda: xp.reshape(unbroadcast(xp, g2 @ xp.matrix_transpose(y2), x2), x.shape)
        dy = lambda: xp.reshape(unbroadcast(xp, xp.matrix_transpose(x2) @ g2, y2), y.shape)
        # (reshapes to the same shape are dropped when recorded)
        return dx, dy

    return out, pullback
