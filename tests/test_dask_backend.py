"""Forward correctness of the Dask backend (backends/dask/) against NumPy.

Every input is split into chunks of 2 along each axis, so each fill meets
several chunks per axis.  Results are built while any ``compute`` raises
(fills must stay lazy), checked to be Dask arrays, then computed with the
synchronous scheduler and compared with ``array_api_compat.numpy``.
"""

import contextlib

import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
np = pytest.importorskip("numpy")
pytest.importorskip("array_api_compat")
import array_api_compat  # noqa: E402
import array_api_compat.numpy as cnp  # noqa: E402
import array_api_compat.dask.array as cda  # noqa: E402


import yota  # noqa: E402,F401  (makes yota.backends importable from a checkout)
from yota.backends import dask as ydask  # noqa: E402
from yota.backends.dask import scatter as yscatter  # noqa: E402
xp = ydask.namespace


def _forbid_compute(*args, **kwargs):
    raise AssertionError("a fill called compute(): results must stay lazy")


@contextlib.contextmanager
def lazy_only():
    with dask.config.set(scheduler=_forbid_compute):
        yield


def D(a, chunks=2):
    return da.from_array(np.asarray(a), chunks=chunks)


def _leaves(r):
    if isinstance(r, (tuple, list)):
        out = []
        for v in r:
            out.extend(_leaves(v))
        return out
    return [r]


def compute(r):
    """Check every array leaf of ``r`` is a Dask array, then compute."""
    leaves = _leaves(r)
    for v in leaves:
        assert isinstance(v, da.Array), f"expected a lazy Dask array, got {type(v).__name__}"
    return dask.compute(*leaves, scheduler="sync")


def assert_close(got, want, rtol=1e-10, atol=1e-12):
    got = _leaves(got)
    want = _leaves(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g = np.asarray(g)
        w = np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


rng = np.random.default_rng(0)
A = rng.standard_normal((4, 6))
B = rng.standard_normal((4, 6))
C = A + 1j * B
V = rng.standard_normal(6)
SQ = rng.standard_normal((4, 4)) + 4 * np.eye(4)
ST = rng.standard_normal((3, 4, 4))  # a stack of matrices
STI = ST + 4 * np.eye(4)  # well-conditioned stack
SPD = ST @ np.swapaxes(ST, -1, -2) + 4 * np.eye(4)
HPD = SPD + 1j * (ST - np.swapaxes(ST, -1, -2))  # Hermitian positive definite
TALL = rng.standard_normal((8, 3))
WIDE = TALL.T.copy()
IDX = rng.integers(0, 6, size=(4, 6))


def run(fn, *arrays, rtol=1e-10, atol=1e-12, **kw):
    """fn(namespace, *arrays) on Dask inputs vs array_api_compat.numpy."""
    want = fn(cnp, *arrays, **kw)
    with lazy_only():
        got = fn(xp, *[D(a) if isinstance(a, np.ndarray) else a for a in arrays], **kw)
    assert_close(compute(got), want, rtol=rtol, atol=atol)
    return got


# ------------------------------------------------------------ namespace ---

def test_lazy_only_catches_compute():
    with lazy_only(), pytest.raises(AssertionError, match="lazy"):
        D(A).sum().compute()


def test_namespace_falls_back_to_array_api_compat():
    # every function is wrapped once (calls on empty arrays, see backends/dask/empty.py)
    assert xp.exp.__wrapped__ is cda.exp and xp.exp is xp.exp
    assert xp.asarray.__wrapped__ is cda.asarray
    assert xp.sum.__wrapped__.__wrapped__ is cda.sum  # reductions remember chunks
    assert xp.linalg.matmul.__wrapped__ is cda.linalg.matmul
    assert xp.fft.fftshift.__wrapped__ is cda.fft.fftshift
    assert xp.__array_api_version__ == cda.__array_api_version__
    assert xp.float64 is cda.float64
    assert xp.take_along_axis.__wrapped__ is ydask.toplevel.take_along_axis
    assert xp.linalg.det.__wrapped__ is ydask.linalg.det
    assert xp.fft.fft.__wrapped__ is ydask.fft.fft
    names = dir(xp)
    assert "take_along_axis" in names and "sum" in names and "linalg" in names
    assert "det" in dir(xp.linalg) and "rfftn" in dir(xp.fft)
    with pytest.raises(AttributeError):
        xp.no_such_function


def test_device_and_is_lazy():
    x = D(A)
    assert ydask.device(x) == array_api_compat.device(x)
    assert ydask.is_lazy is True


def test_standard_names_present():
    """Every function of the 2025.12 lists is reachable on the namespace."""
    strict = pytest.importorskip("array_api_strict")
    for name in strict.__all__:
        if name.startswith("_") or name[0].isupper() or "flags" in name:
            continue
        assert hasattr(xp, name), name
    for name in strict.linalg.__all__:
        assert hasattr(xp.linalg, name), name
    for name in strict.fft.__all__:
        assert hasattr(xp.fft, name), name


# ------------------------------------------------------------ top level ---

def test_take_along_axis():
    run(lambda m, x, i: m.take_along_axis(x, i, axis=1), A, IDX)
    run(lambda m, x, i: m.take_along_axis(x, i, axis=0), A, IDX[:3] % 4)
    run(lambda m, x, i: m.take_along_axis(x, i, axis=-1), A, np.argsort(A, axis=-1))
    # broadcasting of the other axes
    run(lambda m, x, i: m.take_along_axis(x, i, axis=1), A, IDX[:1, :5])
    run(lambda m, x, i: m.take_along_axis(x, i, axis=0), A[:, :1], IDX[:, :1] % 4)


def test_take():
    run(lambda m, x, i: m.take(x, i, axis=None), V, np.array([0, 5, 5, 1]))
    run(lambda m, x, i: m.take(x, i), V, np.array([3, 3]))
    run(lambda m, x, i: m.take(x, i, axis=1), A, np.array([0, 5, 5, 1]))
    with pytest.raises(ValueError):
        xp.take(D(A), D(np.array([0])))


def test_broadcast_shapes():
    assert xp.broadcast_shapes((3, 1), (1, 4), (4,)) == (3, 4)


def test_eye():
    run(lambda m: m.eye(3, 4, k=1))
    run(lambda m: m.eye(5, 3, k=-2, dtype=m.float32))
    run(lambda m: m.eye(4))


def test_reshape_not_a_merge_or_split():
    run(lambda m, x: m.reshape(x, (3, 8)), A)
    run(lambda m, x: m.reshape(x, (2, 3, 4)), A)
    run(lambda m, x: m.reshape(x, (-1,)), A)


def test_repeat():
    run(lambda m, x: m.repeat(x, 2), A)
    run(lambda m, x: m.repeat(x, 3, axis=1), A)
    run(lambda m, x: m.repeat(x, np.array([1, 0, 2, 3]), axis=0), A)
    # lazy repeats: unknown output length along the axis
    with lazy_only():
        r = xp.repeat(D(A), D(np.array([2, 0, 1, 1, 3, 1])), axis=1)
    (got,) = compute(r)
    np.testing.assert_array_equal(got, np.repeat(A, [2, 0, 1, 1, 3, 1], axis=1))


def test_searchsorted():
    s = np.sort(V)
    run(lambda m, x, y: m.searchsorted(x, y), s, A)
    run(lambda m, x, y: m.searchsorted(x, y, side="right"), s, V)
    run(lambda m, x, y, o: m.searchsorted(x, y, sorter=o), V, A, np.argsort(V))
    run(lambda m, x: m.searchsorted(x, 0.1), s)


def test_matrix_transpose():
    run(lambda m, x: m.matrix_transpose(x), ST)


def _has_rechunk(a):
    return any("rechunk" in name for name in a.__dask_graph__().layers)


def test_broadcast_to_uses_chunks_seen_by_reductions():
    """A reduction's cotangent broadcast back to the input's shape gets the
    input's chunks, so combining them needs no rechunk (no hub task)."""
    ydask.reset()  # no hints left by earlier tests
    data = D(rng.standard_normal(12), chunks=3)
    g = xp.reshape(xp.asarray(np.float64(0.5)), (1,))
    with lazy_only():
        plain = xp.broadcast_to(g, (12,))  # shape not seen yet: one chunk
        assert plain.chunks == ((12,),)
        m = xp.mean(data)
        b = xp.broadcast_to(g, (12,))
        assert type(b) is da.Array and b.chunks == data.chunks
        for r in (b * data, data - b, xp.where(data > 0, b, data)):
            assert r.chunks == data.chunks and not _has_rechunk(r)
    np.testing.assert_allclose(compute(b * data)[0], 0.5 * np.asarray(data))
    np.testing.assert_allclose(compute(m)[0], np.asarray(data).mean())
    # stretched middle axis (sum over an axis with keepdims); kept chunks elsewhere
    x3 = D(rng.standard_normal((4, 6, 2)), chunks=(2, 3, 1))
    with lazy_only():
        s = xp.sum(x3, axis=1, keepdims=True)
        r = xp.broadcast_to(s, (4, 6, 2)) * x3
    assert r.chunks == x3.chunks and not _has_rechunk(r)
    np.testing.assert_allclose(compute(r)[0], np.asarray(x3).sum(1, keepdims=True) * np.asarray(x3))
    # an incompatible hint is only a hint
    with lazy_only():
        r3 = xp.broadcast_to(g, (3, 12)) * data
        xp.linalg.vector_norm(D(np.ones((3, 12)), chunks=(1, 5)))
        r4 = xp.broadcast_to(D(np.arange(12.0), chunks=4), (3, 12))
    np.testing.assert_allclose(compute(r3)[0], 0.5 * np.broadcast_to(np.asarray(data), (3, 12)))
    assert r4.chunks == ((1, 1, 1), (4, 4, 4))
    np.testing.assert_allclose(compute(r4)[0], np.broadcast_to(np.arange(12.0), (3, 12)))


# --------------------------------------------------------------- linalg ---

def test_linalg_cross():
    a, b = rng.standard_normal((2, 5, 3))
    run(lambda m, x, y: m.linalg.cross(x, y), a, b)
    run(lambda m, x, y: m.linalg.cross(x, y, axis=0), a.T, b.T)
    run(lambda m, x, y: m.linalg.cross(x, y), a, b[:1])


@pytest.mark.parametrize("x", [SQ, STI], ids=["2d", "stack"])
def test_linalg_det_slogdet_inv(x):
    run(lambda m, a: m.linalg.det(a), x)
    r = run(lambda m, a: m.linalg.slogdet(a), x)
    assert type(r).__name__ == "SlogdetResult" and r.sign is r[0]
    run(lambda m, a: m.linalg.inv(a), x)


def test_linalg_slogdet_complex():
    run(lambda m, a: m.linalg.slogdet(a), HPD + 0.3j)


def test_linalg_inv_solve_uneven_chunks():
    want = np.linalg.inv(SQ)
    with lazy_only():
        got = xp.linalg.inv(D(SQ, chunks=(3, 2)))
    assert_close(compute(got), want)
    with lazy_only():
        got = xp.linalg.solve(D(SQ, chunks=(3, 2)), D(A, chunks=(1, 4)))
    assert_close(compute(got), np.linalg.solve(SQ, A))


def test_linalg_solve():
    run(lambda m, a, b: m.linalg.solve(a, b), SQ, A)
    run(lambda m, a, b: m.linalg.solve(a, b), SQ, V[:4])
    run(lambda m, a, b: m.linalg.solve(a, b), STI, ST)
    run(lambda m, a, b: m.linalg.solve(a, b), STI, V[:4])
    run(lambda m, a, b: m.linalg.solve(a, b), STI, ST[:1])  # batch broadcast
    run(lambda m, a, b: m.linalg.solve(a, b), STI.astype(np.float32), ST, rtol=1e-6)  # promotes


@pytest.mark.parametrize("x", [SPD[0], SPD, HPD], ids=["2d", "stack", "complex"])
def test_linalg_cholesky(x):
    run(lambda m, a: m.linalg.cholesky(a), x)
    run(lambda m, a: m.linalg.cholesky(a, upper=True), x)


def test_linalg_cholesky_blocked_2d():
    big = rng.standard_normal((6, 6))
    big = big @ big.T + 6 * np.eye(6)
    for upper in (False, True):
        with lazy_only():
            got = xp.linalg.cholesky(D(big, chunks=3), upper=upper)
        assert_close(compute(got), cnp.linalg.cholesky(big, upper=upper))


@pytest.mark.parametrize("x", [SPD, HPD], ids=["real", "complex"])
def test_linalg_eigh_eigvalsh(x):
    with lazy_only():
        r = xp.linalg.eigh(D(x))
    assert type(r).__name__ == "EighResult"
    w, v = compute(r)
    want_w, _ = cnp.linalg.eigh(x)
    assert_close(w, want_w)
    np.testing.assert_allclose(v @ (w[..., None] * np.conj(np.swapaxes(v, -1, -2))), x, atol=1e-10)
    run(lambda m, a: m.linalg.eigvalsh(a), x)


def test_linalg_eig_eigvals():
    with lazy_only():
        r = xp.linalg.eig(D(STI))
        ev = xp.linalg.eigvals(D(STI))
    w, v = compute(r)
    np.testing.assert_allclose(STI @ v, v * w[..., None, :], atol=1e-10)
    (ev,) = compute(ev)
    np.testing.assert_allclose(np.sort_complex(ev.ravel()), np.sort_complex(w.ravel()))


def test_linalg_matrix_power():
    for n in (0, 1, 2, 3, 5, -1, -2):
        run(lambda m, a: m.linalg.matrix_power(a, n), STI, rtol=1e-9)
        run(lambda m, a: m.linalg.matrix_power(a, n), SQ, rtol=1e-9)


def test_linalg_pinv_matrix_rank():
    run(lambda m, a: m.linalg.pinv(a), A)
    run(lambda m, a: m.linalg.pinv(a), ST)
    run(lambda m, a: m.linalg.pinv(a, rtol=0.3), ST)
    rt = np.array([0.01, 0.3, 0.5])
    run(lambda m, a, r: m.linalg.pinv(a, rtol=r), ST, rt, rtol=1e-8)
    low = TALL[:, :2] @ WIDE[:2, :]  # 8x8 of rank 2
    run(lambda m, a: m.linalg.matrix_rank(a), low)
    run(lambda m, a: m.linalg.matrix_rank(a), ST)
    run(lambda m, a: m.linalg.matrix_rank(a, rtol=0.5), ST)


@pytest.mark.parametrize("ord", ["fro", 1, -1, np.inf, 2, -2, "nuc"])
def test_linalg_matrix_norm(ord):
    run(lambda m, a: m.linalg.matrix_norm(a, ord=ord), A)
    run(lambda m, a: m.linalg.matrix_norm(a, ord=ord, keepdims=True), ST)


@pytest.mark.parametrize("x", [TALL, WIDE, SQ, ST], ids=["tall", "wide", "square", "stack"])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_linalg_qr(x, mode):
    with lazy_only():
        r = xp.linalg.qr(D(x), mode=mode)
    assert type(r).__name__ == "QRResult"
    q, rr = compute(r)
    wq, wr = cnp.linalg.qr(x, mode=mode)
    assert q.shape == wq.shape and rr.shape == wr.shape and q.dtype == wq.dtype
    np.testing.assert_allclose(q @ rr, x, atol=1e-10)
    k = q.shape[-1]
    np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)), atol=1e-10)
    np.testing.assert_allclose(np.tril(rr, -1), 0, atol=1e-10)
    # same factorisation up to the signs of R's diagonal
    np.testing.assert_allclose(np.abs(rr), np.abs(wr), atol=1e-10)


@pytest.mark.parametrize("x", [TALL, WIDE, SQ, ST], ids=["tall", "wide", "square", "stack"])
@pytest.mark.parametrize("full", [False, True])
def test_linalg_svd_svdvals(x, full):
    with lazy_only():
        r = xp.linalg.svd(D(x), full_matrices=full)
    assert type(r).__name__ == "SVDResult"
    u, s, vh = compute(r)
    wu, ws, wvh = cnp.linalg.svd(x, full_matrices=full)
    assert (u.shape, s.shape, vh.shape) == (wu.shape, ws.shape, wvh.shape)
    assert_close(s, ws)
    k = s.shape[-1]
    np.testing.assert_allclose((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], x, atol=1e-10)
    run(lambda m, a: m.linalg.svdvals(a), x)


def test_linalg_wrapped_by_compat_still_work():
    run(lambda m, a: m.linalg.trace(a, offset=1), ST)
    run(lambda m, a: m.linalg.vector_norm(a, axis=1, ord=1), A)
    run(lambda m, a, b: m.linalg.vecdot(a, b), A, B)
    run(lambda m, a: m.linalg.diagonal(a), ST)


def test_linalg_float32_stays_float32():
    x32 = STI.astype(np.float32)
    for fn in (
        lambda m, a: m.linalg.det(a),
        lambda m, a: m.linalg.inv(a),
        lambda m, a: m.linalg.slogdet(a),
        lambda m, a: m.linalg.eigvalsh(a @ m.matrix_transpose(a)),
        lambda m, a: m.linalg.svdvals(a),
        lambda m, a: m.linalg.pinv(a),
    ):
        run(fn, x32, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ fft ---

@pytest.mark.parametrize("name", ["fft", "ifft"])
def test_fft_c2c(name):
    f = lambda m, x, **kw: getattr(m.fft, name)(x, **kw)  # noqa: E731
    run(f, C)
    run(f, C, n=9)
    run(f, C, n=3, axis=0)
    run(f, C, norm="ortho")
    run(f, C, axis=0, norm="forward")
    run(f, C.astype(np.complex64), rtol=1e-5, atol=1e-5)


def test_fft_real_and_hermitian():
    run(lambda m, x, **kw: m.fft.rfft(x, **kw), A)
    run(lambda m, x, **kw: m.fft.rfft(x, **kw), A, n=9, axis=0, norm="ortho")
    run(lambda m, x, **kw: m.fft.rfft(x, **kw), A.astype(np.float32), rtol=1e-5, atol=1e-5)
    run(lambda m, x, **kw: m.fft.irfft(x, **kw), C)
    run(lambda m, x, **kw: m.fft.irfft(x, **kw), C, n=7, axis=0)
    run(lambda m, x, **kw: m.fft.hfft(x, **kw), C)
    run(lambda m, x, **kw: m.fft.hfft(x, **kw), C, n=7, axis=0, norm="ortho")
    run(lambda m, x, **kw: m.fft.ihfft(x, **kw), A)
    run(lambda m, x, **kw: m.fft.ihfft(x, **kw), A, n=5, axis=0)


# the NumPy reference warns for s without axes (the standard defines it)
@pytest.mark.filterwarnings("ignore:`axes` should not be `None`:DeprecationWarning")
@pytest.mark.parametrize("name", ["fftn", "ifftn", "rfftn", "irfftn"])
def test_fftn(name):
    f = lambda m, x, **kw: getattr(m.fft, name)(x, **kw)  # noqa: E731
    x = ST + 0.5j * ST[::-1] if name in ("fftn", "ifftn", "irfftn") else ST
    run(f, x)
    run(f, x, axes=(0, 2), norm="forward")
    run(f, x, s=(5,), axes=(1,))
    run(f, x, s=(4, 6))  # last two axes
    run(f, x, s=(-1, 6), axes=(0, 1))


def test_fft_helpers_from_compat():
    run(lambda m, x: m.fft.fftshift(x), A)
    run(lambda m, x: m.fft.ifftshift(x, axes=(0,)), A)
    run(lambda m: m.fft.fftfreq(7, d=0.5))
    run(lambda m: m.fft.rfftfreq(8, dtype=m.float32))


# ------------------------------------------------- scatter_add / setitem ---

SHAPE = (4, 5, 6)
X = rng.standard_normal(SHAPE)
KEYS = {
    "int": 1,
    "neg-int": -1,
    "slice": slice(1, 3),
    "step": (slice(None, None, -2), 2),
    "ellipsis": (Ellipsis, 0),
    "none": (None, 1, slice(0, 3)),
    "empty-tuple": (),
    "int-array": np.array([0, 2, 0, 3]),
    "neg-int-array": np.array([-1, 0, -1]),
    "array-axis1": (slice(None), np.array([4, 4, 0])),
    "array-2d": np.array([[0, 1], [1, 1]]),
    "two-arrays": (np.array([0, 1, 1]), np.array([2, 2, 4])),
    "two-arrays-broadcast": (np.array([[0], [1]]), np.array([2, 2, 4])),
    "separated-arrays": (np.array([0, 1, 1]), slice(1, 4), np.array([2, 2, 5])),
    "int-and-array": (1, slice(None), np.array([0, 5, 0])),
    "array-and-int": (np.array([3, 3]), slice(None), 2),
    "ellipsis-array": (Ellipsis, np.array([1, 1, 2])),
    "array-none": (np.array([0, 0]), None, slice(1, 3)),
    "mask": X > 0.5,
    "mask-2d": X[:, :, 0] > 0,
    "mask-last-axes": (slice(None), X[0] > 0),
    "mask-and-array": (X[:, 0, 0] > -10, np.array([1, 2, 3, 4])),
    "list": [0, 0, 3],
}


def _daskify(key):
    if isinstance(key, np.ndarray):
        return D(key)
    if isinstance(key, tuple):
        return tuple(D(k) if isinstance(k, np.ndarray) else k for k in key)
    return key


def _has_mask(key):
    return any(isinstance(k, np.ndarray) and k.dtype == bool
               for k in (key if isinstance(key, tuple) else (key,)))


@pytest.fixture(params=["dense", "per-block"])
def strategy(request, monkeypatch):
    monkeypatch.setattr(yscatter, "SCATTER_DENSE_BYTES", 2**26 if request.param == "dense" else 0)
    return request.param


@pytest.mark.parametrize("key_kind", ["numpy-key", "dask-key"])
@pytest.mark.parametrize("name", list(KEYS))
def test_scatter_add_setitem_getitem(name, key_kind, strategy):
    key = KEYS[name]
    kd = _daskify(key) if key_kind == "dask-key" else key
    if key_kind == "dask-key" and name == "mask-and-array":
        with pytest.raises(NotImplementedError, match="mask"):
            ydask.scatter_add(xp, da.zeros(SHAPE, chunks=2), kd, 1.0)
        return
    sel = X[key]
    lazy_sel = key_kind == "dask-key" and _has_mask(key)
    Xd = D(X)
    with lazy_only():
        got_sel = ydask.getitem(xp, Xd, kd)
    (g,) = compute(got_sel)
    np.testing.assert_array_equal(g, sel)

    # values: the selection itself (unknown length for a lazy mask, as the
    # cotangent of x[mask] would be), or fresh values of the selection's shape
    vals = sel * 1.5 + 0.25
    vals_d = got_sel * 1.5 + 0.25 if lazy_sel else (D(vals) if vals.ndim else vals)
    want = np.zeros(SHAPE)
    np.add.at(want, key, vals)
    x0 = da.zeros(SHAPE, chunks=2)
    with lazy_only():
        got = ydask.scatter_add(xp, x0, kd, vals_d)
    (r,) = compute(got)
    np.testing.assert_allclose(r, want, atol=1e-12)
    assert r.dtype == want.dtype
    assert got.chunks == x0.chunks

    base = rng.standard_normal(SHAPE)
    want_set = base.copy()
    want_set[key] = vals
    bd = D(base)
    with lazy_only():
        got = ydask.setitem(xp, bd, kd, vals_d)
    (r, b_after) = compute((got, bd))
    np.testing.assert_allclose(r, want_set)
    np.testing.assert_array_equal(b_after, base)  # x is not modified


def test_scatter_add_accumulates_repeats_and_scalars(strategy):
    idx = np.array([1, 1, 1, 0, 3, 1])
    want = np.zeros((5, 3))
    np.add.at(want, idx, 2.0)
    with lazy_only():
        got = ydask.scatter_add(xp, da.zeros((5, 3), chunks=2), D(idx, chunks=4), 2.0)
    (r,) = compute(got)
    np.testing.assert_allclose(r, want)
    # values broadcast against x[key]
    want = np.ones((5, 3))
    np.add.at(want, (idx, slice(None)), np.arange(3.0))
    with lazy_only():
        got = ydask.scatter_add(xp, da.ones((5, 3), chunks=2), (idx, slice(None)), np.arange(3.0))
    np.testing.assert_allclose(compute(got)[0], want)


def test_scatter_add_does_not_modify_x_and_keeps_dtype(strategy):
    for dtype in (np.float32, np.complex128, np.int64):
        base = (np.arange(24).reshape(4, 6) * (1 + (1j if dtype == np.complex128 else 0))).astype(dtype)
        vals = np.ones((3, 6), dtype=dtype) * 2
        bd = D(base)
        for key in (slice(0, 3), np.array([0, 0, 2])):
            want = base.copy()
            np.add.at(want, key, vals)
            with lazy_only():
                got = ydask.scatter_add(xp, bd, key, D(vals))
            r, b_after = compute((got, bd))
            assert r.dtype == dtype
            np.testing.assert_array_equal(r, want)
            np.testing.assert_array_equal(b_after, base)


def test_scatter_add_streams_many_index_chunks(strategy):
    """An embedding-style gradient: many index chunks into a small table."""
    n, vocab, dim = 200, 7, 3
    idx = rng.integers(0, vocab, size=n)
    vals = rng.standard_normal((n, dim))
    want = np.zeros((vocab, dim))
    np.add.at(want, idx, vals)
    with lazy_only():
        got = ydask.scatter_add(xp, da.zeros((vocab, dim), chunks=(3, 2)),
                                D(idx, chunks=16), D(vals, chunks=(16, 3)))
    np.testing.assert_allclose(compute(got)[0], want)


def test_scatter_add_out_of_bounds_raises():
    x = da.zeros((4, 3), chunks=2)
    with pytest.raises(IndexError):
        ydask.scatter_add(xp, x, (np.array([0, 5]),), 1.0).compute(scheduler="sync")
    with pytest.raises(IndexError):
        ydask.scatter_add(xp, x, (np.array([0, 1]), np.array([0, 3])), 1.0).compute(scheduler="sync")
    with pytest.raises(IndexError):
        ydask.scatter_add(xp, x, 7, 1.0)


@pytest.mark.parametrize("namespace", [ydask.namespace, cda, da], ids=["yota.backends.dask", "compat", "dask.array"])
def test_dask_functions_called_on_traced_arrays_are_an_error(namespace):
    # Dask wraps a traced array in a graph of its own (chunks that are tracers): returned, or used
    # in traced arithmetic, it would be a constant and the gradient silently zero
    X = da.from_array(np.random.default_rng(0).random((40, 5)), chunks=(10, 5))
    w = np.ones(5)

    def returned(w, X):
        return namespace.sum(namespace.exp(X @ w))

    def used(w, X):
        s = namespace.sum(namespace.exp(X @ w))
        return array_api_compat.array_namespace(w).sum(w) * s

    for f in (returned, used):
        with pytest.raises(yota.errors.WrappedTracerError, match="array_namespace"):
            yota.grad(f, w, X)
