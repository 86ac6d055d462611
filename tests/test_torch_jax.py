"""The PyTorch and JAX backends: their writes against NumPy's for every key
family, PyTorch's negative-step fill, JAX's functional writes under yota, and
the errors for arrays of two libraries.

Extra runs, like the matrix on these libraries: ``YOTA_TEST_BACKENDS=torch,jax
python -m pytest tests/test_torch_jax.py`` (skipped otherwise, and without the
library).
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import test_rules_indexing as IX
import yota
from conftest import requested_backends
from yota import backends
from yota.testing import to_numpy

I, J, M1, M2 = IX.I, IX.J, IX.M1, IX.M2

#: every key family (the backends' scatter test's, negative steps beside integer arrays and masks)
KEYS = IX._KEYS + [
    (slice(None, None, -2), I % 4), (I, slice(4, 0, -1)), (M1, slice(None, None, -1)),
    (Ellipsis, slice(-1, -6, -2)), (slice(3, None, -1), None, 2), (slice(-8, None, -1),),
    (slice(2, 2), slice(None)), (np.array([[1, 1], [0, 1]]), slice(None, None, -3)),
]


def _library(name):
    if name not in requested_backends():
        pytest.skip(f"an extra run: YOTA_TEST_BACKENDS={name}")
    try:
        lib = importlib.import_module(name)
    except ImportError:
        pytest.skip(f"{name} is not installed")
    if name == "jax":
        lib.config.update("jax_enable_x64", True)
    return lib


def _make(name):
    lib = _library(name)
    if name == "torch":
        return lambda a: lib.asarray(np.array(a, copy=True))
    return lambda a: lib.numpy.asarray(a)


def _on(make, key):
    return tuple(make(k) if isinstance(k, np.ndarray) else k for k in (key if isinstance(key, tuple) else (key,)))


@pytest.mark.parametrize("k", range(len(KEYS)))
@pytest.mark.parametrize("name", ["torch", "jax"])
def test_scatter_matches_numpy(name, k):
    make = _make(name)
    b = backends.backend_of(make(np.zeros(1)))
    rng = np.random.default_rng(k)
    key = KEYS[k]
    x = rng.standard_normal((4, 5))
    v = rng.standard_normal(x[key].shape)
    want_add, want_set = x.copy(), x.copy()
    np.add.at(want_add, key, v)
    want_set[key] = v                      # NumPy: the last of repeated indices wins
    xb, kb = make(x), _on(make, key)
    np.testing.assert_allclose(to_numpy(b.getitem(b.xp, xb, kb)), x[key])
    np.testing.assert_allclose(to_numpy(b.scatter_add(b.xp, xb, kb, make(v))), want_add, rtol=1e-13)
    np.testing.assert_array_equal(to_numpy(b.setitem(b.xp, xb, kb, make(v))), want_set)
    np.testing.assert_array_equal(to_numpy(xb), x)  # never written in place
    want_set[key] = 0.5
    np.testing.assert_array_equal(to_numpy(b.setitem(b.xp, xb, kb, 0.5)), want_set)


@pytest.mark.parametrize("name", ["torch", "jax"])
def test_write_dtypes(name):
    # writes keep x's dtype; a complex value written into a real array keeps its real part
    make = _make(name)
    b = backends.backend_of(make(np.zeros(1)))
    x32 = make(np.ones((3, 4), dtype=np.float32))
    v64 = make(np.full((4,), 2.0))
    for out in (b.setitem(b.xp, x32, (1, slice(None)), v64), b.scatter_add(b.xp, x32, (make(np.array([0, 0])),),
                                                                        make(np.ones((2, 4))))):
        assert "float32" in str(out.dtype)
    z = make(np.array([1 + 2j, 3 - 1j]))
    out = b.scatter_add(b.xp, make(np.zeros(3)), (make(np.array([2, 2])),), z)
    np.testing.assert_allclose(to_numpy(out), [0.0, 0.0, 4.0])


def test_torch_negative_steps_through_ext():
    # yota.ext takes any NumPy key: on PyTorch (which refuses x[::-1]) the backend flips, in the
    # traced call, the cached one and the gradient's scatters
    torch = _library("torch")
    from array_api_compat import array_namespace
    from yota.ext import ext

    def f(x, v, i):
        xp = array_namespace(x)
        y = ext.setitem(xp, x * 1.0, (slice(None, None, -1), slice(3, 0, -2)), v * v)
        z = ext.scatter_add(xp, y, (i, slice(None, None, -1)), x[:2, :] * 3.0)
        return ext.getitem(xp, z, (i, slice(-1, None, -3))) * x[0, 0]

    rng = np.random.default_rng(0)
    x, v, i = rng.standard_normal((3, 4)), rng.standard_normal((3, 2)), np.array([2, 2])
    u = rng.standard_normal((2, 2))
    want_val, want_g = yota.grad(f, x, v, i, seed=u)
    for _ in range(2):
        val, g = yota.grad(f, torch.asarray(x), torch.asarray(v), torch.asarray(i), seed=torch.asarray(u))
        np.testing.assert_allclose(to_numpy(val), want_val, rtol=1e-12)
        np.testing.assert_allclose(to_numpy(g[1]), want_g[1], rtol=1e-12)
        np.testing.assert_allclose(to_numpy(g[2]), want_g[2], rtol=1e-12)


@pytest.mark.parametrize("case", sorted(IX.SETITEM))
def test_jax_setitem_traced(case):
    # the plain call raises (JAX arrays are immutable); traced, x[key] = v is a functional
    # ext.setitem, so yota gives NumPy's value and gradient
    jnp = _library("jax").numpy
    fn, shapes, idx, _ = IX.SETITEM[case]
    rng = np.random.default_rng(0)
    floats = [IX._away_from_zero(rng, s) for s in shapes]
    args = floats + [np.asarray(i) for i in idx]
    u = rng.standard_normal(fn(np, *[a.copy() for a in args]).shape)

    def f(*xs):
        from array_api_compat import array_namespace
        return fn(array_namespace(xs[0]), *xs)

    want_val, want_g = yota.grad(f, *args, seed=u)
    for _ in range(2):  # traced, then cached
        val, g = yota.grad(f, *[jnp.asarray(a) for a in args], seed=jnp.asarray(u))
        np.testing.assert_allclose(to_numpy(val), want_val, rtol=1e-12)
        for a, b in zip(g[1:len(floats) + 1], want_g[1:len(floats) + 1]):
            np.testing.assert_allclose(to_numpy(a), b, rtol=1e-12)


def _arrays():
    out = {"numpy": np.arange(6.0).reshape(2, 3)}
    for name in ("torch", "jax"):
        make = _make(name)
        out[name] = make(out["numpy"])
    return out


def test_mixed_libraries_name_jax_and_a_transfer_that_works():
    arrays = _arrays()
    import jax
    import torch
    env = {"numpy": np, "torch": torch, "jax": jax}
    for a in arrays:
        for b in arrays:
            if a >= b:
                continue
            with pytest.raises(backends.MixedBackendError) as e:
                yota.grad(lambda x, y: (x * 2.0).sum() + (y * 1.0).sum(), arrays[a], arrays[b])
            text = str(e.value)
            assert "jaxlib" not in text and f"{a} and {b}" in text
    # each library's transfer moves any other library's array, values and dtype intact
    for dst in arrays:
        transfer = backends.backend_of(arrays[dst]).transfer
        for src, x in arrays.items():
            for dt in (np.float64, np.float32, np.int32):
                moved = eval(transfer, {**env, "x": _make_like(src, x, dt)})  # noqa: S307 - our own string
                assert backends.library_name(moved) == dst, (transfer, src)
                np.testing.assert_array_equal(to_numpy(moved), np.arange(6).reshape(2, 3).astype(dt),
                                              err_msg=f"{transfer} of a {src} {dt.__name__} array")
                assert to_numpy(moved).dtype == dt


def _make_like(name, x, dt):
    a = np.arange(6).reshape(2, 3).astype(dt)
    return a if name == "numpy" else _make(name)(a)


def test_torch_structseq_output():
    torch = _library("torch")
    from array_api_compat import array_namespace
    a = torch.asarray(np.eye(3) * 2.0 + 0.1)
    _, g = yota.grad(lambda a: array_namespace(a).linalg.slogdet(a), a, seed="ones")
    want = np.linalg.inv(np.eye(3) * 2.0 + 0.1).T      # d logabsdet / da; sign has no gradient
    np.testing.assert_allclose(to_numpy(g[1]), want)
