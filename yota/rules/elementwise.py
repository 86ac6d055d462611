"""Elementwise functions: arithmetic, transcendental, rounding, selection, comparisons.

Conventions (JAX's unless noted):
- Complex: the pullback of a holomorphic f is ``g * f'(z)`` (no conjugate); ``conj`` gives
  ``conj(g)``, ``real`` gives ``g``, ``imag`` gives ``-1j * g``, ``abs`` gives ``g * conj(z) / |z|``.
- Ties: ``maximum``/``minimum`` send half the cotangent to each side where ``x == y``; ``clip`` is
  ``minimum(maximum(x, min), max)`` with those ties (x == min: half to x, half to min).
- Kinks take the midpoint subgradient: ``abs'(0) = 0`` (PyTorch/autograd; JAX takes 1), so
  ``copysign(x1, x2)`` has d/dx1 = sign(x1) * sign(result) (0 at x1 == 0), d/dx2 = 0;
  ``hypot(0, 0)`` gives 0 to both (JAX: 1/2).
- Piecewise-constant functions (ceil, floor, round, trunc, sign, floor_divide) have zero gradient
  (a zeros array, like JAX), not "no path". Complex ``sign(z) = z/|z|`` is smooth off 0 and gets
  its true derivative (JAX: zero; PyTorch: the same as here).
- ``remainder(x, y) = x - floor(x / y) * y``: d/dx = 1, d/dy = -floor(x / y) (JAX).
- ``nextafter(x1, x2)`` is x1 moved by one ulp: d/dx1 = 1, d/dx2 = 0 (JAX has no rule; this is
  the finite-difference answer).
- ``pow``: d/dy uses log(x) taken as 0 where x == 0; d/dx at 0**0 is nan, like JAX.
"""
from __future__ import annotations

import cmath
import math

from ._util import is_complex, unbroadcast
from ..ops import nondiff, rrule


def cast_like(xp, g, x):
    """``g`` with ``x``'s dtype: the real part for a real ``x``, then astype where needed."""
    if is_complex(g) and not is_complex(x):
        g = xp.real(g)
    return g if g.dtype == x.dtype else xp.astype(g, x.dtype)


def _unary(name, deriv):
    """Register ``name(x)`` whose pullback is ``deriv(xp, x, y, g)``."""
    def rule(xp, x):
        y = getattr(xp, name)(x)
        return y, lambda g: (deriv(xp, x, y, g),)

    rule.__name__ = name
    rrule(name)(rule)


def _binary(name, dx, dy):
    """Register ``name(x1, x2)``; ``dx``/``dy(xp, x1, x2, y, g)`` give the broadcast cotangents
    (``None``: zero gradient), summed back to each argument's shape, built only when needed."""
    def rule(xp, x1, x2):
        y = getattr(xp, name)(x1, x2)

        def pullback(g):
            def part(d, a):
                if d is None:
                    return lambda: xp.zeros_like(a)
                return lambda: unbroadcast(xp, d(xp, x1, x2, y, g), a)

            return part(dx, x1), part(dy, x2)

        return y, pullback

    rule.__name__ = name
    rrule(name)(rule)


# ---------------------------------------------------------------- arithmetic
_binary("add", lambda xp, a, b, y, g: g, lambda xp, a, b, y, g: g)
_binary("subtract", lambda xp, a, b, y, g: g, lambda xp, a, b, y, g: -g)
_binary("multiply", lambda xp, a, b, y, g: g * b, lambda xp, a, b, y, g: g * a)


@rrule("divide")
def divide(xp, x1, x2):
    y = x1 / x2
    # x2 is constant along the axes it is broadcast over: divide after summing back (softmax's
    # row sums then cost a division per row, not per element)
    return y, lambda g: (lambda: unbroadcast(xp, g / x2, x1), lambda: -unbroadcast(xp, g * y, x2) / x2)


_unary("negative", lambda xp, x, y, g: -g)
_unary("positive", lambda xp, x, y, g: g)
_unary("square", lambda xp, x, y, g: 2 * g * x)
_unary("reciprocal", lambda xp, x, y, g: -g * y * y)


def _log_or_zero(xp, x):
    # log(x), taken as 0 where x == 0: the d/dy of x**y there (JAX)
    if not hasattr(x, "shape"):  # a Python number
        if x == 0:
            return 0.0
        return cmath.log(x) if isinstance(x, complex) else math.log(x) if x > 0 else math.nan
    x = _as_array(xp, x)
    return xp.log(xp.where(x == 0, xp.ones_like(x), x))


def _as_array(xp, x):
    # A traced Python number has a shape, (), but strict libraries refuse it where an array is
    # required (where's condition, ones_like): make 0-d values arrays first.
    return xp.asarray(x) if x.ndim == 0 else x


def _pow_dx(xp, a, b, y, g):
    # b * a ** (b - 1), taken as 0 where b == 0 (x ** 0 is constant; at x == 0 the formula is 0 * inf)
    if not hasattr(b, "shape"):
        if b == 0:
            return xp.zeros_like(g)
        return g * b if b == 1 else g * b * (a if b == 2 else a ** (b - 1))
    d = g * b * a ** (b - 1)
    return xp.where(_as_array(xp, b) == 0, xp.zeros_like(d), d)


_binary("pow", _pow_dx, lambda xp, a, b, y, g: g * _log_or_zero(xp, a) * y)

# ---------------------------------------------------------------- exponential and logarithmic
_unary("exp", lambda xp, x, y, g: g * y)
_unary("expm1", lambda xp, x, y, g: g * (y + 1))
_unary("log", lambda xp, x, y, g: g / x)
_unary("log1p", lambda xp, x, y, g: g / (x + 1))
_unary("log2", lambda xp, x, y, g: g / (x * math.log(2)))
_unary("log10", lambda xp, x, y, g: g / (x * math.log(10)))
_unary("sqrt", lambda xp, x, y, g: g / (2 * y))
_binary("logaddexp", lambda xp, a, b, y, g: g * xp.exp(a - y), lambda xp, a, b, y, g: g * xp.exp(b - y))


def _hypot_d(which):
    # x_i / hypot(x1, x2), with 0 at hypot == 0
    return lambda xp, a, b, y, g: g * (a if which == 0 else b) / xp.where(y == 0, xp.ones_like(y), y)


_binary("hypot", _hypot_d(0), _hypot_d(1))

# ---------------------------------------------------------------- trigonometric and hyperbolic
# Principal branches: the formulas hold for complex arguments off the branch cuts.
_unary("sin", lambda xp, x, y, g: g * xp.cos(x))
_unary("cos", lambda xp, x, y, g: -g * xp.sin(x))
_unary("tan", lambda xp, x, y, g: g * (1 + y * y))
_unary("asin", lambda xp, x, y, g: g / xp.sqrt(1 - x * x))
_unary("acos", lambda xp, x, y, g: -g / xp.sqrt(1 - x * x))
_unary("atan", lambda xp, x, y, g: g / (1 + x * x))
_unary("sinh", lambda xp, x, y, g: g * xp.cosh(x))
_unary("cosh", lambda xp, x, y, g: g * xp.sinh(x))
_unary("tanh", lambda xp, x, y, g: g * (1 - y * y))
_unary("asinh", lambda xp, x, y, g: g / xp.sqrt(x * x + 1))
_unary("acosh", lambda xp, x, y, g: g / (xp.sqrt(x - 1) * xp.sqrt(x + 1)))  # right branch for complex z
_unary("atanh", lambda xp, x, y, g: g / (1 - x * x))
def _atan2_d(which):
    # d atan2(a, b) = (b da - a db) / r^2 with r = hypot(a, b), computed as (b / r) / r so that
    # a^2 + b^2 cannot underflow to 0 for tiny a, b; at the origin (r == 0 only there) the
    # gradient is 0, as hypot(0, 0) sends 0 to both arguments, not 0 / 0
    def d(xp, a, b, y, g):
        ra = _as_array(xp, a if hasattr(a, "shape") else xp.asarray(a, dtype=b.dtype))
        rb = _as_array(xp, b if hasattr(b, "shape") else xp.asarray(b, dtype=a.dtype))
        r = xp.hypot(ra, rb)
        r = xp.where(r == 0, xp.ones_like(r), r)
        return g * (b / r) / r if which == 0 else -g * (a / r) / r
    return d


_binary("atan2", _atan2_d(0), _atan2_d(1))

# ---------------------------------------------------------------- complex parts (not holomorphic)
_unary("conj", lambda xp, x, y, g: xp.conj(g) if is_complex(g) else g)
_unary("real", lambda xp, x, y, g: cast_like(xp, g, x))
_unary("imag", lambda xp, x, y, g: cast_like(xp, g, x) * -1j if is_complex(x) else xp.zeros_like(x))
_unary("abs", lambda xp, x, y, g: g * (xp.conj(xp.sign(x)) if is_complex(x) else xp.sign(x)))

# ---------------------------------------------------------------- piecewise constant: zero gradient
for _name in ("ceil", "floor", "round", "trunc"):
    _unary(_name, lambda xp, x, y, g: xp.zeros_like(x))


def _sign_d(xp, x, y, g):
    # Real: zero. Complex: sign(z) = z/|z| is smooth off 0 (JAX gives zero there, PyTorch does
    # this): (g - conj(g) conj(sign z)^2) / (2|z|), taken as 0 at z == 0.
    if not is_complex(x):
        return xp.zeros_like(x)
    r = xp.abs(x)
    d = (g - xp.conj(g) * xp.conj(y * y)) / (2 * xp.where(r == 0, xp.ones_like(r), r))
    return xp.where(r == 0, xp.zeros_like(d), d)


_unary("sign", _sign_d)
_binary("floor_divide", None, None)
_binary("remainder", lambda xp, a, b, y, g: g, lambda xp, a, b, y, g: -g * xp.floor(a / b))
_binary("copysign", lambda xp, a, b, y, g: g * xp.sign(a) * xp.sign(y), None)
_binary("nextafter", lambda xp, a, b, y, g: g, None)

# ---------------------------------------------------------------- selection


def _above(xp, a, b, dtype):
    """1 where a > b, 1/2 where a == b (a tie splits the cotangent), else 0."""
    return xp.astype(a > b, dtype) + 0.5 * xp.astype(a == b, dtype)


_binary("maximum", lambda xp, a, b, y, g: g * _above(xp, a, b, g.dtype),
        lambda xp, a, b, y, g: g * _above(xp, b, a, g.dtype))
_binary("minimum", lambda xp, a, b, y, g: g * _above(xp, b, a, g.dtype),
        lambda xp, a, b, y, g: g * _above(xp, a, b, g.dtype))


@rrule("clip")
def clip(xp, x, /, min=None, max=None):
    # minimum(maximum(x, min), max), each step splitting ties like maximum/minimum.
    y = xp.clip(x, min, max)

    def pullback(g):
        lo = None if min is None else _above(xp, x, min, g.dtype)  # x's share of maximum(x, min)
        hi = None if max is None else _above(xp, max, x if min is None else xp.maximum(x, min), g.dtype)
        gm = g if hi is None else g * hi  # the cotangent that reaches maximum(x, min)
        return (lambda: unbroadcast(xp, gm if lo is None else gm * lo, x),
                lambda: unbroadcast(xp, gm * (1 - lo), min),
                lambda: unbroadcast(xp, g * (1 - hi), max))

    return y, pullback


@rrule("astype")
def astype(xp, x, dtype, /, *, copy=True, device=None):
    kw = {} if device is None else {"device": device}
    return xp.astype(x, dtype, **kw), lambda g: (cast_like(xp, g, x), None)


nondiff("less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
        "logical_and", "logical_or", "logical_not", "logical_xor",
        "isfinite", "isinf", "isnan", "signbit",
        "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_invert",
        "bitwise_left_shift", "bitwise_right_shift")
