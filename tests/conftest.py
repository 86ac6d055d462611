"""The backend matrix: every gradient test runs on each library present.

``backend`` gives a small adapter: ``B.asarray(numpy_array)`` makes an array of
that library (Dask with several chunks per axis), ``B.xp`` its namespace.
"""
from __future__ import annotations

import numpy as np
import pytest

import yota


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
        return self.xp.asarray(a)

    def __repr__(self):
        return self.name


def _available():
    names = ["numpy"]
    for mod, name in (("array_api_strict", "array_api_strict"), ("dask.array", "dask")):
        try:
            __import__(mod)
            names.append(name)
        except ImportError:
            pass
    names.append("cupy")
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
    return Backend(request.param)


@pytest.fixture(autouse=True)
def _fresh_cache():
    yota.reset()
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
