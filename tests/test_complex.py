"""Complex inputs and intermediates, JAX's convention: for a real loss L of z = x + iy the
gradient is dL/dx - i dL/dy (which check_grad checks), holomorphic pullbacks are g * f'(z)."""
from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota
from _helpers import check, namespace_of
from yota.testing import to_numpy




def crandn(rng, shape, shift=0.0, scale=0.5):
    return shift + scale * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def grads(f, *args):
    _, g = yota.grad(f, *args)
    return [to_numpy(a) for a in g[1:]]


# ---------------------------------------------------------------- real losses of complex inputs

LOSSES = {
    "abs2": lambda xp, z, w: xp.sum(xp.abs(z) ** 2),
    "abs": lambda xp, z, w: xp.sum(xp.abs(z * w)),
    "real_z_conj_w": lambda xp, z, w: xp.sum(xp.real(z * xp.conj(w))),
    "imag_z_w": lambda xp, z, w: xp.sum(xp.imag(z * w)),
    "z_conj_z": lambda xp, z, w: xp.sum(xp.real(z * xp.conj(z))),
    "abs_exp": lambda xp, z, w: xp.sum(xp.abs(xp.exp(z)) ** 2),
    "sum_complex": lambda xp, z, w: xp.real(xp.sum(z * w)) + xp.imag(xp.sum(z)),
    "mean_prod": lambda xp, z, w: xp.abs(xp.prod(z, axis=1)[0] * xp.mean(w)),
    "division": lambda xp, z, w: xp.sum(xp.real(w / z)),
    "pow": lambda xp, z, w: xp.sum(xp.real(z ** w)),
    "mixed_real": lambda xp, z, w: xp.sum(xp.abs(xp.real(z) * w + xp.imag(w) * z)),
    "astype": lambda xp, z, w: xp.sum(xp.real(xp.astype(xp.abs(z), w.dtype) * w)),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_real_loss(backend, rng, name):
    fn = LOSSES[name]
    z = backend.asarray(crandn(rng, (2, 3), shift=1.0))
    w = backend.asarray(crandn(rng, (2, 3), shift=0.5))
    check(backend, lambda z, w: fn(array_namespace(z), z, w), z, w)


def test_known_values(backend):
    # sum(|z|^2) -> 2 conj(z); Re(z conj(w)) -> conj(w) for z, conj(z) for w; |z| -> conj(z)/|z|
    z = backend.asarray(np.array([1.0 + 2.0j, -3.0 + 0.5j]))
    w = backend.asarray(np.array([0.5 - 1.0j, 2.0 + 2.0j]))
    xp_ = lambda z: array_namespace(z)  # noqa: E731
    (gz,) = grads(lambda z: xp_(z).sum(xp_(z).abs(z) ** 2), z)
    np.testing.assert_allclose(gz, 2 * np.conj(to_numpy(z)))
    gz, gw = grads(lambda z, w: xp_(z).sum(xp_(z).real(z * xp_(z).conj(w))), z, w)
    np.testing.assert_allclose(gz, np.conj(to_numpy(w)))
    np.testing.assert_allclose(gw, np.conj(to_numpy(z)))
    (gz,) = grads(lambda z: xp_(z).sum(xp_(z).abs(z)), z)
    np.testing.assert_allclose(gz, np.conj(to_numpy(z)) / np.abs(to_numpy(z)))
    (gz,) = grads(lambda z: xp_(z).sum(xp_(z).imag(z)), z)
    np.testing.assert_allclose(gz, [-1j, -1j])
    (gz,) = grads(lambda z: xp_(z).sum(xp_(z).real(z)), z)
    np.testing.assert_allclose(gz, [1.0, 1.0])


# ---------------------------------------------------------------- holomorphic functions

# z stays right of the imaginary axis, off the branch cuts of log/sqrt/acosh.
HOLO = {
    "exp": lambda xp, z: xp.exp(z),
    "expm1": lambda xp, z: xp.expm1(z),
    "log": lambda xp, z: xp.log(z),
    "log1p": lambda xp, z: xp.log1p(z),
    "log2": lambda xp, z: xp.log2(z),
    "log10": lambda xp, z: xp.log10(z),
    "sqrt": lambda xp, z: xp.sqrt(z),
    "sin": lambda xp, z: xp.sin(z),
    "cos": lambda xp, z: xp.cos(z),
    "tan": lambda xp, z: xp.tan(z),
    "sinh": lambda xp, z: xp.sinh(z),
    "cosh": lambda xp, z: xp.cosh(z),
    "tanh": lambda xp, z: xp.tanh(z),
    "asin": lambda xp, z: xp.asin(z),
    "acos": lambda xp, z: xp.acos(z),
    "atan": lambda xp, z: xp.atan(z),
    "asinh": lambda xp, z: xp.asinh(z),
    "acosh": lambda xp, z: xp.acosh(z),
    "atanh": lambda xp, z: xp.atanh(z),
    "square": lambda xp, z: xp.square(z),
    "reciprocal": lambda xp, z: xp.reciprocal(z),
    "negative": lambda xp, z: xp.negative(z),
    "positive": lambda xp, z: xp.positive(z),
    "pow_int": lambda xp, z: z ** 3,
    "rpow": lambda xp, z: 2.0 ** z,
    "divide_scalar": lambda xp, z: 1.5 / z,
    "round": lambda xp, z: xp.round(z * 3.0) * z,
    "sign": lambda xp, z: xp.sign(z) * z,  # not piecewise constant for complex z
    "conj": lambda xp, z: xp.conj(xp.exp(z)),
    "sum_axis": lambda xp, z: xp.sum(z * z, axis=0),
    "prod": lambda xp, z: xp.prod(z, axis=1, keepdims=True),
    "mean": lambda xp, z: xp.mean(xp.exp(z), axis=(0, 1)),
    "cumulative_sum": lambda xp, z: xp.cumulative_sum(z, axis=1, include_initial=True),
    "cumulative_prod": lambda xp, z: xp.cumulative_prod(z, axis=1),
    "where": lambda xp, z: xp.where(xp.real(z) > 1.0, z * z, z),
}


@pytest.mark.parametrize("name", sorted(HOLO))
def test_holomorphic(backend, rng, name):
    fn = HOLO[name]
    z = backend.asarray(crandn(rng, (2, 3), shift=1.0))

    def f(z):
        # a real loss Re(sum(f(z) * (1 - 2i))): the cotangent of f(z) is complex
        xp = array_namespace(z)
        y = fn(xp, z)
        return xp.sum(xp.real(y) + 2.0 * xp.imag(y))

    check(backend, f, z)


@pytest.mark.parametrize("name", ["exp", "log", "sin", "sqrt", "acosh", "atanh", "tan", "reciprocal"])
def test_holomorphic_derivative(backend, rng, name):
    # the pullback of a holomorphic f with cotangent 1 is f'(z), no conjugate
    z = crandn(rng, (4,), shift=1.0)
    want = {"exp": np.exp(z), "log": 1 / z, "sin": np.cos(z), "sqrt": 0.5 / np.sqrt(z),
            "acosh": 1 / np.sqrt(z * z - 1), "atanh": 1 / (1 - z * z), "tan": 1 / np.cos(z) ** 2,
            "reciprocal": -1 / z ** 2}[name]
    _, pullback = yota.vjp(lambda z: getattr(array_namespace(z), name)(z), backend.asarray(z))
    ones = backend.asarray(np.ones(4, dtype=np.complex128))
    np.testing.assert_allclose(to_numpy(pullback(ones)[1]), want, rtol=1e-12)


def test_prod_complex_zero(backend, rng):
    z = crandn(rng, (2, 4), shift=1.0)
    z[0, 1] = 0.0
    z[1, 0] = z[1, 3] = 0.0
    check(backend, lambda z: array_namespace(z).prod(z, axis=1), backend.asarray(z), twice=False)


@pytest.mark.parametrize("name", ["abs2", "real_z_conj_w", "division", "mean_prod"])
def test_complex64(backend, rng, name):
    fn = LOSSES[name]
    z = backend.asarray(crandn(rng, (2, 3), shift=1.0), dtype=np.complex64)
    w = backend.asarray(crandn(rng, (2, 3), shift=0.5), dtype=np.complex64)
    check(backend, lambda z, w: fn(array_namespace(z), z, w), z, w)  # checks complex64 gradients


def test_real_input_complex_intermediate(backend, rng):
    x = backend.asarray(rng.standard_normal((2, 3)))
    w = backend.asarray(crandn(rng, (3,)))

    def f(x, w):
        xp = array_namespace(x)
        z = xp.astype(x, w.dtype) * w
        return xp.sum(xp.abs(xp.exp(z) + xp.conj(z)) ** 2)

    check(backend, f, x, w)


def test_float32_real_through_complex64(backend, rng):
    x = backend.asarray(rng.standard_normal((2, 3)), dtype=np.float32)
    w = backend.asarray(crandn(rng, (2, 3)), dtype=np.complex64)

    def f(x, w):
        xp = array_namespace(x)
        return xp.sum(xp.imag(xp.sin(x * w)))  # float32 * complex64 -> complex64

    check(backend, f, x, w)


# ---------------------------------------------------------------- Python complex numbers

PY_COMPLEX = {
    "c*s": lambda s: (2 + 3j) * s,
    "s*c": lambda s: s * (2 - 1j),
    "c+s": lambda s: 1j + s * s,
    "s-c": lambda s: s * s - (1 + 2j),
    "c/s": lambda s: (1 + 1j) / s,
    "s**c": lambda s: s ** (0.5 + 1j),
    "c**s": lambda s: (1 + 1j) ** s,
}
READS = {
    "real": lambda xp, z: xp.real(z),
    "imag": lambda xp, z: xp.imag(z),
    "xp.abs": lambda xp, z: xp.abs(z),
    "abs()": lambda xp, z: abs(z),
}


@pytest.mark.parametrize("read", sorted(READS))
@pytest.mark.parametrize("combine", sorted(PY_COMPLEX))
@pytest.mark.parametrize("zero_d", [True, False], ids=["0-d", "array"])
def test_python_complex_numbers_meet_real_traced_values(backend, rng, combine, read, zero_d):
    # 1j * s with s a NumPy float scalar is a Python complex (complex.__mul__ takes the float
    # subclass): its dtype is complex128, so the cotangent keeps its imaginary part
    def f(x):
        xp = array_namespace(x)
        s = xp.sum(x * x) + 0.5 if zero_d else x * x + 0.5
        out = READS[read](xp, PY_COMPLEX[combine](s))
        return out if zero_d else xp.sum(out)

    x = backend.asarray(rng.standard_normal(3))
    try:
        f(x)
    except TypeError as e:  # array-api-strict: no Python complex with a real array
        pytest.skip(f"{backend.name} refuses it: {e}")
    check(backend, f, x)


PY_NUMBER_METHODS = {
    "float.real": lambda t: t.real,
    "float.imag": lambda t: t.imag + t,
    "float.conjugate": lambda t: t.conjugate(),
    "abs(float)": lambda t: abs(t),
    "complex.real": lambda t: (t * (1 + 2j)).real,
    "complex.imag": lambda t: (t * (1 + 2j)).imag,
    "complex.conjugate": lambda t: ((t * (1 + 2j)).conjugate() * (2 - 1j)).imag,
    "abs(complex)": lambda t: abs(t * (1 + 2j)),
}


@pytest.mark.parametrize("method", sorted(PY_NUMBER_METHODS))
def test_methods_of_python_numbers_give_python_numbers(backend, method):
    # Without yota these are Python floats, weak scalars for NumPy's promotion: x32 * t.imag stays
    # float32 and abs(z) is Python's own; the same value, dtype and bits through the tape
    h = PY_NUMBER_METHODS[method]

    def f(x, t):
        return namespace_of(x).sum(x * h(t))

    x32 = backend.asarray(np.array([0.5, -1.0, 2.0], dtype=np.float32))
    for t in (1.5, -0.75, 1.5):  # traced, traced for the other sign, cached
        plain = f(x32, t)
        value = yota.grad(f, x32, t)[0]
        assert value.dtype == plain.dtype
        np.testing.assert_array_equal(to_numpy(value), to_numpy(plain))
    check(backend, f, backend.asarray(np.array([0.5, -1.0, 2.0])), 1.5)
