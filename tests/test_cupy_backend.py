"""The CuPy backend on a GPU: fused kernels, CUDA graphs, devices, mixing errors.

Skipped without CuPy or without a CUDA device (never faked). The gradient
matrix of the other test files runs on CuPy through the ``backend`` fixture
(with fusion on, the default); this file compares fused with unfused results
and graph with non-graph results, on the workloads of tests/test_fusion_plan.py.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")
try:
    _N_DEVICES = cupy.cuda.runtime.getDeviceCount()
except Exception:  # noqa: BLE001 - no driver, no device
    _N_DEVICES = 0
if _N_DEVICES == 0:
    pytest.skip("no CUDA device", allow_module_level=True)

from array_api_compat import array_namespace  # noqa: E402

import yota  # noqa: E402
from yota.backends import cupy as yc  # noqa: E402
from yota.testing import check_grad  # noqa: E402

from test_fusion_plan import _arrays, chain, mlp, mlp_args, random_program  # noqa: E402


@pytest.fixture(autouse=True)
def _switches():
    fusion = yc.use_fusion(True)
    graphs = yc.use_cuda_graphs(False)
    yield
    yc.use_fusion(fusion)
    yc.use_cuda_graphs(graphs)


def to_gpu(args):
    return tuple(cupy.asarray(a) for a in args)


def host(x):
    if isinstance(x, cupy.ndarray):
        return x.get()
    return np.asarray(x)


def flat_grads(out):
    value, grads = out
    leaves = [value]
    for g in grads[1:]:
        leaves += list(g) if isinstance(g, (tuple, list)) else [g]
    return leaves


def run(f, args, fusion=True, graphs=False, **kw):
    yc.use_fusion(fusion)
    yc.use_cuda_graphs(graphs, **kw)
    return flat_grads(yota.grad(f, *args))


def assert_close(got, want, rtol):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert type(g) is type(w) or (isinstance(g, cupy.ndarray) and isinstance(w, cupy.ndarray))
        if isinstance(w, yota.ZeroTangent):
            continue
        if isinstance(w, cupy.ndarray):
            assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(host(g), host(w), rtol=rtol, atol=rtol)


def uses_kernels(f, args):
    tape = yc.transform(yota.gradtape(f, *args))
    return sum(isinstance(c, yc.FusedKernel) for c in tape.consts)


# --------------------------------------------------------------------------- fusion

@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_chain_fused_equals_unfused(dtype, rtol):
    x = cupy.linspace(-3, 3, 100_003, dtype=dtype)
    assert uses_kernels(chain, (x,)) == 2
    want = run(chain, (x,), fusion=False)
    got = run(chain, (x,))
    assert_close(got, want, rtol)
    assert got[1].dtype == dtype and isinstance(got[1], cupy.ndarray)
    # second call: the cached compiled function with its kernels
    x2 = x * 0.5
    assert_close(run(chain, (x2,)), run(chain, (x2,), fusion=False), rtol)


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 3e-5), (np.float64, 1e-11)])
def test_mlp_fused_equals_unfused(dtype, rtol):
    args = to_gpu(mlp_args(np.random.default_rng(0), dtype, B=64, sizes=(32, 48, 10)))
    assert uses_kernels(mlp, args) >= 5
    assert_close(run(mlp, args), run(mlp, args, fusion=False), rtol)


@pytest.mark.parametrize("seed", range(16))
def test_random_compositions_fused_equal_unfused(seed):
    dtype = np.float32 if seed % 2 else np.float64
    args = to_gpu(_arrays(seed, dtype))
    f = random_program(seed)
    assert_close(run(f, args), run(f, args, fusion=False), 3e-5 if dtype == np.float32 else 1e-11)


def test_fused_gradients_pass_check_grad():
    def f(x, b):
        xp = array_namespace(x)
        y = xp.tanh(x * 1.5 + b) * xp.exp(-x * x) + xp.maximum(x, 0.1) * xp.sin(b)
        return xp.sum(xp.where(y > 0, y * y, -y) / (1.0 + xp.abs(b)))

    rng = np.random.default_rng(1)
    check_grad(f, cupy.asarray(rng.standard_normal((5, 4))), cupy.asarray(rng.standard_normal(4)))


def test_kernels_are_cached_by_source_not_shape():
    yota.reset()
    run(chain, (cupy.ones(1000, np.float32),))
    n = len(yc._KERNELS)
    run(chain, (cupy.ones(777, np.float32),))  # new cache entry, same kernels
    assert len(yc._KERNELS) == n


def test_scatter_add_and_setitem():
    def f(x, idx):
        xp = array_namespace(x)
        return xp.sum(xp.take(x, idx, axis=0) ** 2) + xp.sum(x[idx, :] * 3.0)

    x = np.random.default_rng(2).standard_normal((5, 3))
    idx = np.array([0, 2, 2, 4, 0, 0])
    want = yota.grad(f, x, idx)[1][1]
    got = yota.grad(f, cupy.asarray(x), cupy.asarray(idx))[1][1]
    np.testing.assert_allclose(host(got), want, rtol=1e-12)
    y = yc.setitem(None, cupy.zeros((3, 4)), (slice(None), None, 1), cupy.ones((3, 1)))
    assert float(y.sum()) == 3.0
    z = yc.scatter_add(None, cupy.zeros(4), cupy.asarray([1, 1, 3]), cupy.ones(3))
    np.testing.assert_array_equal(host(z), [0, 2, 0, 1])


# --------------------------------------------------------------------------- devices and mixing

def test_gradients_stay_on_the_input_device():
    x = cupy.linspace(0, 1, 64, dtype=np.float32)
    _, g = yota.grad(chain, x)
    assert isinstance(g[1], cupy.ndarray) and g[1].device == x.device
    if _N_DEVICES > 1:
        with cupy.cuda.Device(1):
            x1 = cupy.linspace(0, 1, 64, dtype=np.float32)
            _, g1 = yota.grad(chain, x1)
            assert g1[1].device.id == 1
            np.testing.assert_allclose(host(g1[1]), host(g[1]), rtol=1e-6)


def test_mixing_numpy_and_cupy_names_both():
    def f(x, w):
        return array_namespace(x).sum(x * w)

    with pytest.raises(Exception) as info:
        yota.grad(f, cupy.ones(3), np.ones(3))
    msg = str(info.value).lower()
    assert "numpy" in msg and "cupy" in msg


# --------------------------------------------------------------------------- CUDA graphs

def _no_capture_warning():
    ctx = warnings.catch_warnings(record=True)
    ctx.caught = ctx.__enter__()
    warnings.simplefilter("always")
    return ctx


@pytest.mark.parametrize("fusion", [True, False])
def test_graph_results_equal_plain_results(fusion):
    rng = np.random.default_rng(4)
    sets = [to_gpu(mlp_args(rng, np.float32, B=32, sizes=(16, 24, 10))) for _ in range(3)]
    want = [run(mlp, a, fusion=fusion) for a in sets]
    ctx = _no_capture_warning()
    try:
        yc.use_fusion(fusion)
        yc.use_cuda_graphs(True)
        for a, w in zip(sets, want):  # first call captures, the others replay with new inputs
            assert_close(flat_grads(yota.grad(mlp, *a)), w, 3e-5)
        assert_close(flat_grads(yota.grad(mlp, *sets[0])), want[0], 3e-5)
    finally:
        ctx.__exit__(None, None, None)
    failed = [str(w.message) for w in ctx.caught if "capture failed" in str(w.message)]
    if failed:
        # results were right (the call fell back to no graph), but nothing was captured
        pytest.skip(f"this CuPy cannot capture the MLP: {failed[0]}")


def test_graph_chain_and_outputs_are_copies():
    x = cupy.linspace(-2, 2, 4096, dtype=np.float32)
    want1 = run(chain, (x,))
    want2 = run(chain, (x * 0.5,))
    yc.use_cuda_graphs(True)
    got1 = flat_grads(yota.grad(chain, x))
    got2 = flat_grads(yota.grad(chain, x * 0.5))
    assert_close(got1, want1, 1e-6)  # still valid after the second call
    assert_close(got2, want2, 1e-6)


def test_graph_without_output_copies_reuses_buffers():
    x = cupy.linspace(-2, 2, 4096, dtype=np.float32)
    want2 = run(chain, (x * 0.5,))
    yc.use_cuda_graphs(True, copy_outputs=False)
    yota.grad(chain, x)  # the first call warms up without a graph; the second captures
    g1 = yota.grad(chain, x)[1][1]
    g2 = yota.grad(chain, x * 0.5)[1][1]
    assert g1.data.ptr == g2.data.ptr  # documented: the next call overwrites
    np.testing.assert_allclose(host(g1), host(want2[1]), rtol=1e-6)


def test_graph_recaptures_for_new_python_scalars():
    def f(x, s):
        xp = array_namespace(x)
        return xp.sum(xp.sin(x * s) * s)

    x = cupy.linspace(0, 1, 256)
    want = [run(f, (x, s)) for s in (0.5, 2.0)]
    yc.use_cuda_graphs(True)
    for s, w in zip((0.5, 2.0, 0.5), want + want[:1]):
        got = flat_grads(yota.grad(f, x, s))
        assert isinstance(got[2], float)
        assert_close(got, w, 1e-12)


def test_graph_skips_tapes_with_guards():
    def f(x):
        xp = array_namespace(x)
        if float(xp.sum(x)) > 0:
            return xp.sum(xp.sin(x) * 2.0)
        return xp.sum(xp.cos(x) * 3.0)

    yc.use_cuda_graphs(True)
    for x in (cupy.linspace(0, 1, 32), -cupy.linspace(0, 1, 32)):
        got = flat_grads(yota.grad(f, x))
        yc.use_cuda_graphs(False)
        want = flat_grads(yota.grad(f, x))
        yc.use_cuda_graphs(True)
        assert_close(got, want, 1e-12)


def test_dask_arrays_of_cupy_chunks():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(7)
    Xc = cupy.asarray(rng.standard_normal((8, 3)))
    w = cupy.asarray(rng.standard_normal(3))
    X = da.from_array(Xc, chunks=(4, 3), asarray=False)

    def f(w, X):
        xp = array_namespace(X)
        return xp.sum(xp.tanh(X @ w))

    val, g = yota.grad(f, w, X)
    assert type(g[1]).__module__.startswith("dask")
    gw = g[1].compute()
    assert isinstance(gw, cupy.ndarray)
    want_val, want = yota.grad(f, w, Xc)
    np.testing.assert_allclose(host(gw), host(want[1]), rtol=1e-10)
    np.testing.assert_allclose(float(val.compute()), float(want_val), rtol=1e-10)
