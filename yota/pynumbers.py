"""Python's number protocol on traced Python numbers: the results stay Python numbers.

A traced value can be a Python number: a Python float argument, or ``1j * s`` with ``s`` a
NumPy float64 scalar (``complex.__mul__`` takes the float subclass and gives a Python complex).
Without yota, ``z.real``, ``z.imag``, ``z.conjugate()`` and ``abs(z)`` of a Python number are
Python numbers, which NumPy treats as weak scalars: ``x32 * z.imag`` stays float32. The
array-API functions would make NumPy scalars of them (``x32 * np.float64`` is float64, and
NumPy's complex ``abs`` may differ from Python's in the last bit), so these are one small
primitive each, running Python's own method, with the array rules' derivatives (JAX's complex
convention: ``real`` gives ``g``, ``imag`` gives ``-1j * g``, ``conj`` gives ``conj(g)``,
``abs`` gives ``g * conj(z) / |z|``, 0 at 0).
"""
from __future__ import annotations

from .ops import rrule
from .primitives import Primitive
from .tracer import Tracer

__all__ = ["PYTHON_NUMBERS", "is_python_number", "real", "imag", "conjugate", "absolute"]

PYTHON_NUMBERS = (bool, int, float, complex)


def is_python_number(t) -> bool:
    return type(t) is Tracer and type(t.val) in PYTHON_NUMBERS


def python_real(z):
    return z.real


def python_imag(z):
    return z.imag


def python_conjugate(z):
    return z.conjugate()


def python_abs(z):
    return abs(z)


_real, _imag, _conjugate, _abs = (Primitive(f, pure=True, sizes_follow_arguments=True)
                                  for f in (python_real, python_imag, python_conjugate, python_abs))


@rrule(_real)
def _real_rule(xp, z):
    return _real(z), lambda g: (g * (1 + 0j),)


@rrule(_imag)
def _imag_rule(xp, z):
    return _imag(z), lambda g: (g * -1j,)


@rrule(_conjugate)
def _conjugate_rule(xp, z):
    return _conjugate(z), lambda g: (conjugate(g) if is_python_number(g) else xp.conj(xp.asarray(g)),)


@rrule(_abs)
def _abs_rule(xp, z):
    y = _abs(z)
    # conj(z) / |z|, and 0 at z == 0 (the midpoint subgradient, as for real abs)
    return y, lambda g: (xp.conj(xp.sign(xp.asarray(z))) * g,)


def real(t):
    """``t.real`` of a traced Python number."""
    return _real(t) if type(t.val) is complex else t


def imag(t):
    """``t.imag``: 0 of the same kind for a real Python number (it does not depend on ``t``)."""
    return _imag(t) if type(t.val) is complex else type(t.val)(0) if type(t.val) is not bool else 0


def conjugate(t):
    return _conjugate(t) if type(t.val) is complex else t


def absolute(self):
    """``abs(t)``, installed as ``Tracer.__abs__``. Of a Python float, from Python's own operators
    with the branches as guards (``abs(±0.0)`` is 0.0 with gradient 0); of a Python complex, the
    primitive; of an array, ``xp.abs``."""
    t = type(self.val)
    if t is float:
        if self > 0:
            return self
        if self < 0:
            return -self
        return self * 0.0 + 0.0  # zeros (either sign) and nan, as abs() gives them
    if t is int:
        return self if self >= 0 else -self
    if t is complex:
        return _abs(self)
    return self.ctx.call("abs", (self,), {})


Tracer.__abs__ = absolute
