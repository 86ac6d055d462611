"""The backend matrix: every gradient test runs on each library present.

``backend`` gives a small adapter: ``B.asarray(numpy_array)`` makes an array of
that library (Dask with several chunks per axis), ``B.xp`` its namespace.

The default matrix is NumPy, array-api-strict, Dask (and CuPy with a GPU).
PyTorch and JAX are extra runs, chosen by ``YOTA_TEST_BACKENDS`` (a comma list
of backend names, or ``all``), e.g. ``YOTA_TEST_BACKENDS=torch,jax python -m
pytest tests/test_rules_*.py``; a chosen library that is not installed is
skipped. ``tests/test_other_libraries.py`` reads the same variable for pydata
``sparse`` and ``ndonnx``.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import yota

DEFAULT_BACKENDS = ("numpy", "array_api_strict", "dask", "cupy")
EXTRA_BACKENDS = ("torch", "jax")
OTHER_LIBRARIES = ("sparse", "ndonnx")  # tests/test_other_libraries.py


def requested_backends() -> tuple:
    """The backend names this run covers (``YOTA_TEST_BACKENDS``, else the default matrix)."""
    raw = os.environ.get("YOTA_TEST_BACKENDS", "").strip()
    if not raw:
        return DEFAULT_BACKENDS
    if raw == "all":
        return DEFAULT_BACKENDS + EXTRA_BACKENDS + OTHER_LIBRARIES
    return tuple(n.strip() for n in raw.split(",") if n.strip())


class Backend:
    def __init__(self, name):
        self.name = name
        if name == "numpy":
            import array_api_compat.numpy as xp
            self.xp = xp
        elif name == "array_api_strict":
            import array_api_strict as xp
            self.xp = xp
        elif name == "dask":
            import array_api_compat.dask.array as xp
            self.xp = xp
        elif name == "cupy":
            import array_api_compat.cupy as xp
            self.xp = xp
        elif name == "torch":
            import array_api_compat.torch as xp
            self.xp = xp
        elif name == "jax":
            import jax
            # float64 arrays stay float64 (JAX makes them float32 otherwise)
            jax.config.update("jax_enable_x64", True)
            import jax.numpy as xp
            self.xp = xp

    def asarray(self, a, dtype=None):
        a = np.asarray(a, dtype=dtype)
        if self.name == "numpy":
            return a
        if self.name == "dask":
            import dask.array as da
            chunks = tuple(max(1, (n + 1) // 2) for n in a.shape)
            return da.from_array(a, chunks=chunks)
        if self.name == "cupy":
            import cupy
            return cupy.asarray(a)
        if self.name == "torch":
            import torch
            return torch.asarray(a.copy(), device="cpu")
        return self.xp.asarray(a)

    def __repr__(self):
        return self.name


_MODULES = {"numpy": "numpy", "array_api_strict": "array_api_strict", "dask": "dask.array", "torch": "torch",
            "jax": "jax"}


def _importable(name) -> bool:
    try:
        __import__(_MODULES[name])
        return True
    except ImportError:
        return False


def _available():
    """The matrix: the requested backends; CuPy, PyTorch and JAX stay in it (skipped
    when absent) so that a run that asks for them says when they are missing."""
    names = []
    for name in requested_backends():
        if name in ("cupy", "torch", "jax"):
            names.append(name)
        elif name in _MODULES and _importable(name):
            names.append(name)
    return names


def _gpu_present() -> bool:
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.fixture(params=_available())
def backend(request):
    if request.param == "cupy" and not _gpu_present():
        pytest.skip("CuPy with a GPU is not available")
    if request.param in EXTRA_BACKENDS and not _importable(request.param):
        pytest.skip(f"{request.param} is not installed")
    if request.param != "torch":
        yield Backend(request.param)
        return
    import torch
    # tensors the tests and rules make without a dtype (xp.asarray(1.0)) are float64, as NumPy's
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield Backend(request.param)
    finally:
        torch.set_default_dtype(before)


@pytest.fixture(autouse=True)
def _fresh_cache():
    yota.reset()
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
