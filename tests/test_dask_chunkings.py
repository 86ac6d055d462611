"""Results must not depend on how a Dask array is chunked.

Each case runs on Dask with an awkward chunking and is compared with NumPy:
every linalg function with matrix axes chunked differently (a (6, 6) matrix
in (2, 3) chunks), forward and gradient; losses over data with zero-length
chunks (what ``x[mask].compute_chunk_sizes()`` gives); empty arrays; and
dtypes (float32, complex) kept.  Gradients are traced, then cached (called
again with other values).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from array_api_compat import array_namespace as ns

import yota
import array_api_compat.numpy as cnp

da = pytest.importorskip("dask.array")
from yota.backends import dask as ydask  # noqa: E402

xp = ydask.namespace
rng = np.random.default_rng(0)
M = rng.standard_normal((6, 6))
SPD = M @ M.T + 6 * np.eye(6)
TALL = rng.standard_normal((7, 4))
B = rng.standard_normal((6, 4))
STACK = rng.standard_normal((3, 6, 6)) + 6 * np.eye(6)

MIXED = {"2x3": (2, 3), "3x2": (3, 2), "1x6": (1, 6), "6x1": (6, 1), "4x5": (4, 5), "uneven": ((1, 5), (4, 2))}

#: name -> (fn(namespace, a), matrix)
LINALG = {
    "inv": (lambda m, a: m.linalg.inv(a), SPD),
    "det": (lambda m, a: m.linalg.det(a), SPD),
    "slogdet": (lambda m, a: m.linalg.slogdet(a)[1], SPD),
    "cholesky": (lambda m, a: m.linalg.cholesky(a), SPD),
    "cholesky-upper": (lambda m, a: m.linalg.cholesky(a, upper=True), SPD),
    "solve": (lambda m, a: m.linalg.solve(a, m.asarray(B) if m is cnp else da.from_array(B, chunks=(2, 3))), SPD),
    "solve-vector": (lambda m, a: m.linalg.solve(a, a[:, 0]), SPD),
    "eigvalsh": (lambda m, a: m.linalg.eigvalsh(a), SPD),
    "eigh-values": (lambda m, a: m.linalg.eigh(a)[0], SPD),
    "eigvals": (lambda m, a: m.sort(m.real(m.linalg.eigvals(a))), SPD),
    "svdvals": (lambda m, a: m.linalg.svdvals(a), M),
    "svd-reduced": (lambda m, a: m.linalg.svd(a, full_matrices=False)[1], M),
    "svd-full": (lambda m, a: m.linalg.svd(a)[1], M),
    "qr-r": (lambda m, a: m.abs(m.linalg.qr(a)[1]), M),
    "qr-complete": (lambda m, a: m.abs(m.linalg.qr(a, mode="complete")[1]), M),
    "pinv": (lambda m, a: m.linalg.pinv(a), M),
    "matrix_rank": (lambda m, a: m.linalg.matrix_rank(a), M),
    "matrix_norm-2": (lambda m, a: m.linalg.matrix_norm(a, ord=2), M),
    "matrix_norm-nuc": (lambda m, a: m.linalg.matrix_norm(a, ord="nuc"), M),
    "matrix_norm-fro": (lambda m, a: m.linalg.matrix_norm(a), M),
    "matrix_norm-inf": (lambda m, a: m.linalg.matrix_norm(a, ord=m.inf), M),
    "matrix_power-3": (lambda m, a: m.linalg.matrix_power(a, 3), SPD),
    "matrix_power--1": (lambda m, a: m.linalg.matrix_power(a, -1), SPD),
    "trace": (lambda m, a: m.linalg.trace(a), SPD),
    "diagonal": (lambda m, a: m.linalg.diagonal(a, offset=1), M),
    "matmul": (lambda m, a: m.linalg.matmul(a, m.matrix_transpose(a)), M),
    "tensordot": (lambda m, a: m.linalg.tensordot(a, a, axes=1), M),
    "vecdot": (lambda m, a: m.linalg.vecdot(a, a), M),
    "vector_norm": (lambda m, a: m.linalg.vector_norm(a, axis=0), M),
    "cross": (lambda m, a: m.linalg.cross(a[:, :3], a[:, 3:]), M),
    "outer": (lambda m, a: m.linalg.outer(a[0], a[1]), M),
}


def _close(got, want, rtol=1e-9, atol=1e-9):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("chunks", list(MIXED))
@pytest.mark.parametrize("name", list(LINALG))
def test_linalg_with_mixed_chunkings(name, chunks):
    fn, a = LINALG[name]
    ch = MIXED[chunks]
    if a.shape[0] != 6:
        ch = tuple(c if isinstance(c, int) else -1 for c in ch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", da.PerformanceWarning)
        got = fn(xp, da.from_array(a, chunks=ch))
    assert isinstance(got, da.Array)
    _close(got.compute(scheduler="sync"), fn(cnp, a))


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "cholesky", "solve", "eigvalsh", "svdvals", "pinv"])
def test_batched_linalg_with_mixed_chunkings(name):
    fn, _ = LINALG[name]
    a = STACK @ np.swapaxes(STACK, -1, -2) if name in ("cholesky", "eigvalsh") else STACK
    if name == "solve":
        fn = lambda m, x: m.linalg.solve(x, x[..., :2])  # noqa: E731
    got = fn(xp, da.from_array(a, chunks=(2, 2, 3)))
    _close(got.compute(scheduler="sync"), fn(cnp, a))


GRAD_LINALG = {
    "inv": lambda x: ns(x).sum(ns(x).linalg.inv(x) ** 2),
    "det": lambda x: ns(x).linalg.det(x),
    "slogdet": lambda x: ns(x).linalg.slogdet(x)[1],
    "cholesky": lambda x: ns(x).sum(ns(x).linalg.cholesky(x @ ns(x).matrix_transpose(x)) ** 2),
    "solve": lambda x: ns(x).sum(ns(x).linalg.solve(x, x[:, :2]) ** 2),
    "eigh": lambda x: ns(x).sum(ns(x).linalg.eigvalsh(x + ns(x).matrix_transpose(x)) ** 2),
    "svdvals": lambda x: ns(x).sum(ns(x).linalg.svdvals(x)),
    "qr": lambda x: ns(x).sum(ns(x).linalg.qr(x)[1] ** 2),
    "pinv": lambda x: ns(x).sum(ns(x).linalg.pinv(x) ** 2),
    "matrix_norm-2": lambda x: ns(x).linalg.matrix_norm(x, ord=2),
    "matrix_power": lambda x: ns(x).sum(ns(x).linalg.matrix_power(x, 3)),
}


@pytest.mark.parametrize("name", list(GRAD_LINALG))
def test_linalg_gradients_with_mixed_chunkings(name):
    f = GRAD_LINALG[name]
    for scale in (1.0, 0.5):  # traced, then cached
        a = SPD * scale + M * 0.1
        got = yota.grad(f, da.from_array(a, chunks=(2, 3)))
        want = yota.grad(f, a)
        _close(got[0].compute(), want[0])
        _close(got[1][1].compute(), want[1][1], rtol=1e-7)


# -------------------------------------------------------- zero-length chunks ---

def _x_with_zero_chunks():
    """Data as ``x[mask].compute_chunk_sizes()`` leaves it: zero-length chunks."""
    xn = rng.standard_normal((8, 4)) + 0.1
    return xn, da.from_array(xn, chunks=((0, 3, 0, 5), (2, 0, 2)))


LOSSES = {
    "sum": lambda x: ns(x).sum(x * x),
    "max": lambda x: ns(x).sum(ns(x).max(x, axis=0)),
    "min-all": lambda x: ns(x).min(x),
    "mean": lambda x: ns(x).mean(ns(x).exp(x)),
    "std": lambda x: ns(x).sum(ns(x).std(x, axis=0)),
    "cumulative_sum": lambda x: ns(x).sum(ns(x).cumulative_sum(x, axis=0) ** 2),
    "cumulative_prod": lambda x: ns(x).sum(ns(x).cumulative_prod(x, axis=1)),
    "cumulative_sum-initial": lambda x: ns(x).sum(ns(x).cumulative_sum(x, axis=1, include_initial=True) ** 2),
    "tril": lambda x: ns(x).sum(ns(x).tril(x) ** 2),
    "sort": lambda x: ns(x).sum(ns(x).sort(x, axis=0) * ns(x).arange(x.shape[0], dtype=x.dtype)[:, None]),
    "matmul": lambda x: ns(x).sum((x @ ns(x).matrix_transpose(x)) ** 2),
    "concat": lambda x: ns(x).sum(ns(x).concat([x, x * 2], axis=0) ** 2),
    "stack": lambda x: ns(x).sum(ns(x).stack([x, x], axis=1) ** 3),
    "where": lambda x: ns(x).sum(ns(x).where(x > 0, x, x * x)),
    "getitem": lambda x: ns(x).sum(x[1:6, ::-1] ** 2),
    "reshape": lambda x: ns(x).sum(ns(x).reshape(x, (x.shape[1], -1)) ** 3),
    "flip-roll": lambda x: ns(x).sum(ns(x).roll(ns(x).flip(x, axis=0), 3) ** 3),
    "vector_norm": lambda x: ns(x).linalg.vector_norm(x),
    "logsumexp": lambda x: ns(x).sum(ns(x).log(ns(x).sum(ns(x).exp(x), axis=1))),
    "fft": lambda x: ns(x).sum(ns(x).abs(ns(x).fft.fft(x, axis=0)) ** 2),
    "diff": lambda x: ns(x).sum(ns(x).diff(x, axis=0) ** 2),
    "centered": lambda x: ns(x).sum((x - ns(x).mean(x, axis=0)) ** 2),
}


def _setitem_loss(x):
    xp_ = ns(x)
    v = xp_.asarray(x, copy=True)
    v[2:7, 1] = 0.0
    return xp_.sum(v * v * xp_.arange(x.shape[1], dtype=x.dtype))


LOSSES["setitem"] = _setitem_loss


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_over_zero_length_chunks(name):
    f = LOSSES[name]
    xn, x = _x_with_zero_chunks()
    for scale in (1.0, 2.0):
        got = yota.grad(f, x * scale)
        want = yota.grad(f, xn * scale)
        _close(got[0].compute(), want[0])
        _close(got[1][1].compute(), want[1][1])


def test_prepare_inputs_drops_zero_length_chunks():
    xn, x = _x_with_zero_chunks()
    w = np.ones(3)
    out = ydask.prepare_inputs([w, x, 2.0])
    assert out[0] is w and out[2] == 2.0
    assert out[1].chunks == ((3, 5), (2, 2))
    np.testing.assert_array_equal(out[1].compute(), xn)
    assert ydask.prepare_inputs([da.ones((0, 3), chunks=2)])[0].shape == (0, 3)


# --------------------------------------------------------------- empty arrays ---

@pytest.mark.parametrize("shape", [(0, 4), (5, 0)], ids=["no-rows", "no-columns"])
@pytest.mark.parametrize("name", [n for n in LOSSES if n not in ("min-all", "max", "getitem", "setitem")])
def test_losses_over_empty_arrays(name, shape):
    f = LOSSES[name]
    xn = np.zeros(shape)
    x = da.from_array(xn, chunks=2)
    try:
        want = yota.grad(f, xn)
    except Exception as e:  # NumPy refuses: so must Dask
        with pytest.raises(type(e)):
            got = yota.grad(f, x)
            got[0].compute()
        return
    got = yota.grad(f, x)
    np.testing.assert_array_equal(np.asarray(got[0].compute()), np.asarray(want[0]))
    _close(got[1][1].compute(), want[1][1])


# --------------------------------------------------------------------- dtypes ---

@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.complex128])
@pytest.mark.parametrize("name", ["sum", "mean", "cumulative_sum", "matmul", "fft", "concat", "setitem", "reshape"])
def test_gradient_dtype_follows_the_input(name, dtype):
    f = LOSSES[name]
    if np.dtype(dtype).kind == "c":
        g = f
        f = lambda x: ns(x).real(g(x)) if name != "fft" else g(x)  # noqa: E731
    xn = (rng.standard_normal((6, 4)) + (1j * rng.standard_normal((6, 4)) if np.dtype(dtype).kind == "c" else 0)
          ).astype(dtype)
    x = da.from_array(xn, chunks=(4, 3))
    got = yota.grad(f, x)[1][1]
    want = yota.grad(f, xn)[1][1]
    assert got.dtype == want.dtype == dtype
    tol = 1e-4 if dtype in (np.float32, np.complex64) else 1e-10
    np.testing.assert_allclose(got.compute(), want, rtol=tol, atol=tol)


# ------------------------------------------------------------------------ fft ---

FFT_1D = [dict(), dict(n=1), dict(n=7, axis=0), dict(axis=-1, norm="ortho"), dict(n=4, norm="forward")]
FFT_ND = [dict(), dict(axes=(0,)), dict(axes=(1, 0), norm="ortho"), dict(s=(-1,), axes=(1,)),
          dict(s=(2, -1), axes=(0, 1)), dict(s=(7, 3), axes=(-1, 0), norm="forward")]


@pytest.mark.parametrize("chunks", [1, 2, (5, 3)], ids=["ones", "twos", "whole"])
@pytest.mark.parametrize("name", "fft ifft rfft irfft hfft ihfft fftn ifftn rfftn irfftn".split())
def test_fft_family(name, chunks):
    real_in = name in ("rfft", "ihfft", "rfftn")
    a = rng.standard_normal((5, 3)) + (0 if real_in else 1j * rng.standard_normal((5, 3)))
    for kw in (FFT_ND if name.endswith("n") else FFT_1D):
        want = getattr(cnp.fft, name)(a, **kw)
        got = getattr(xp.fft, name)(da.from_array(a, chunks=chunks), **kw)
        assert got.shape == want.shape, (kw, got.shape, want.shape)  # metadata
        _close(got.compute(scheduler="sync"), want)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
@pytest.mark.parametrize("n,chunks", [(1, 1), (4, 2), (3, 2)], ids=["1x1", "square-blocks", "other-blocks"])
def test_linalg_keeps_single_precision(dtype, n, chunks):
    a = (rng.standard_normal((n, n)) + 3 * np.eye(n)).astype(dtype)
    spd = a @ np.conj(a.T) + np.eye(n, dtype=dtype)
    for fn, x in ((LINALG["inv"][0], a), (LINALG["det"][0], a), (LINALG["cholesky"][0], spd),
                  (lambda m, v: m.linalg.solve(v, v), a), (LINALG["svdvals"][0], a), (LINALG["pinv"][0], a),
                  (LINALG["qr-r"][0], a), (LINALG["eigvalsh"][0], spd), (LINALG["matrix_power--1"][0], a)):
        want = fn(cnp, x)
        got = fn(xp, da.from_array(x, chunks=chunks))
        assert got.dtype == want.dtype
        _close(got.compute(scheduler="sync"), want, rtol=1e-3, atol=1e-4)


def _x_with_zero_chunks_on_two_axes():
    xn = np.arange(5.0).reshape(5, 1) + 1
    return xn, da.from_array(xn, chunks=((0, 5), (0, 1)))


def test_prepare_inputs_makes_zero_chunks_on_two_axes_safe():
    """Dask's own ``x + 1`` on this chunking computes a (5, 2) array; after
    prepare_inputs the user's operators are safe too."""
    xn, x = _x_with_zero_chunks_on_two_axes()
    (y,) = ydask.prepare_inputs([x])
    f = lambda x: ns(x).sum((x + 1) ** 2)  # noqa: E731
    got = yota.grad(f, y)[1][1]
    _close(got.compute(), yota.grad(f, xn)[1][1])


def test_grad_over_zero_chunks_on_two_axes():
    xn, x = _x_with_zero_chunks_on_two_axes()
    f = lambda x: ns(x).sum((x + 1) ** 2)  # noqa: E731
    got = yota.grad(f, x)[1][1]
    _close(got.compute(), yota.grad(f, xn)[1][1])
