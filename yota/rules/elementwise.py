"""Elementwise functions: arithmetic, transcendental, comparisons."""
from __future__ import annotations

import math

from ._util import unbroadcast
from .registry import nondiff, rrule

# ---------------------------------------------------------------- arithmetic


@rrule("add")
def add(xp, x, y):
    return x + y, lambda g: (lambda: unbroadcast(xp, g, x), lambda: unbroadcast(xp, g, y))


@rrule("subtract")
def subtract(xp, x, y):
    return x - y, lambda g: (lambda: unbroadcast(xp, g, x), lambda: unbroadcast(xp, -g, y))


@rrule("multiply")
def multiply(xp, x, y):
    return x * y, lambda g: (lambda: unbroadcast(xp, g * y, x), lambda: unbroadcast(xp, g * x, y))


@rrule("divide")
def divide(xp, x, y):
    out = x / y
    return out, lambda g: (lambda: unbroadcast(xp, g / y, x), lambda: unbroadcast(xp, -g * out / y, y))


@rrule("negative")
def negative(xp, x):
    return -x, lambda g: (-g,)


@rrule("positive")
def positive(xp, x):
    return +x, lambda g: (g,)


@rrule("pow")
def pow_(xp, x, y):
    out = x ** y

    def log_x():
        # d/dy x**y = log(x) x**y, taken as 0 where x == 0 (JAX's convention)
        return xp.log(xp.where(x == 0, 1.0, x)) if hasattr(x, "shape") else math.log(x or 1.0)

    return out, lambda g: (lambda: unbroadcast(xp, g * y * x ** (y - 1), x),
                           lambda: unbroadcast(xp, g * log_x() * out, y))


# ---------------------------------------------------------------- transcendental


@rrule("exp")
def exp(xp, x):
    y = xp.exp(x)
    return y, lambda g: (g * y,)


@rrule("log")
def log(xp, x):
    return xp.log(x), lambda g: (g / x,)


@rrule("sqrt")
def sqrt(xp, x):
    y = xp.sqrt(x)
    return y, lambda g: (g / (2 * y),)


@rrule("tanh")
def tanh(xp, x):
    y = xp.tanh(x)
    return y, lambda g: (g * (1 - y * y),)


@rrule("sin")
def sin(xp, x):
    return xp.sin(x), lambda g: (g * xp.cos(x),)


@rrule("cos")
def cos(xp, x):
    return xp.cos(x), lambda g: (-g * xp.sin(x),)


@rrule("abs")
def abs_(xp, x):
    return xp.abs(x), lambda g: (g * xp.sign(x),)


# ---------------------------------------------------------------- selection
# Ties send half the cotangent to each side, like JAX.


@rrule("maximum")
def maximum(xp, x, y):
    out = xp.maximum(x, y)

    def pullback(g):
        wx = xp.astype(x > y, g.dtype) + 0.5 * xp.astype(x == y, g.dtype)
        return lambda: unbroadcast(xp, g * wx, x), lambda: unbroadcast(xp, g * (1 - wx), y)

    return out, pullback


@rrule("minimum")
def minimum(xp, x, y):
    out = xp.minimum(x, y)

    def pullback(g):
        wx = xp.astype(x < y, g.dtype) + 0.5 * xp.astype(x == y, g.dtype)
        return lambda: unbroadcast(xp, g * wx, x), lambda: unbroadcast(xp, g * (1 - wx), y)

    return out, pullback


@rrule("where")
def where(xp, cond, x, y):
    out = xp.where(cond, x, y)
    return out, lambda g: (None, lambda: unbroadcast(xp, xp.where(cond, g, 0.0), x),
                           lambda: unbroadcast(xp, xp.where(cond, 0.0, g), y))


@rrule("astype")
def astype(xp, x, dtype, /, *, copy=True, device=None):
    kw = {} if device is None else {"device": device}
    return xp.astype(x, dtype, **kw), lambda g: (xp.astype(g, x.dtype), None)


nondiff("less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
        "logical_and", "logical_or", "logical_not", "logical_xor",
        "isfinite", "isinf", "isnan", "signbit", "sign", "floor", "ceil", "round", "trunc",
        "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_invert",
        "bitwise_left_shift", "bitwise_right_shift")
