"""Watch the upstream defects the Dask backend patches.

Each test calls the *unpatched* upstream function (array-api-compat's Dask
namespace ``cda`` or Dask itself) and asserts that the defect is still there.
When one fails, upstream has fixed it: the message says which fill in
``backends/dask/`` can go (check the fill's tests still pass without it).
"""
from __future__ import annotations

import warnings

import pytest

np = pytest.importorskip("numpy")
da = pytest.importorskip("dask.array")
cda = pytest.importorskip("array_api_compat.dask.array")


def fixed(what, where):
    return f"upstream fixed {what}: drop the fill in backends/dask/{where}"


def compute(r):
    if isinstance(r, tuple):
        return tuple(v.compute(scheduler="sync") for v in r)
    return r.compute(scheduler="sync") if hasattr(r, "compute") else r


def still_fails(fn, what, where):
    """The upstream call ``fn`` still raises (when built or computed)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compute(fn())
    except Exception:
        return
    pytest.fail(fixed(what, where))


def D(a, chunks=2):
    return da.from_array(np.asarray(a), chunks=chunks)


rng = np.random.default_rng(0)
A = rng.standard_normal((4, 6))
SPD = A[:, :4].T @ A[:, :4] + 4 * np.eye(4)
STACK = np.stack([SPD, 2 * SPD, 3 * SPD])


# ------------------------------------------------------------- missing names ---

@pytest.mark.parametrize("name", ["take_along_axis", "broadcast_shapes", "from_dlpack"])
def test_top_level_names_still_missing(name):
    assert not hasattr(cda, name), fixed(f"cda.{name} is missing", f"toplevel.py ({name})")


@pytest.mark.parametrize("name", "cross det slogdet eigh eigvalsh eig eigvals matrix_power pinv".split())
def test_linalg_names_still_missing(name):
    assert not hasattr(cda.linalg, name), fixed(f"cda.linalg.{name} is missing", f"linalg.py ({name})")


# ----------------------------------------------------------------- top level ---

def test_eye_rectangular_with_offset_builds_a_broken_graph():
    still_fails(lambda: cda.eye(3, 4, k=1), "cda.eye(n, m, k=...) with a missing chunk key",
                "toplevel.py (eye)")


def test_reshape_only_merges_or_splits():
    still_fails(lambda: cda.reshape(D(A), (3, 8)), "reshape that is not a merge or split of chunks",
                "toplevel.py (reshape)")


def test_repeat_needs_axis_and_integer_repeats():
    still_fails(lambda: cda.repeat(D(A), 2), "repeat with axis=None", "toplevel.py (repeat)")
    still_fails(lambda: cda.repeat(D(A), np.array([1, 0, 2, 3]), axis=0), "repeat with array repeats",
                "toplevel.py (repeat)")


def test_searchsorted_refuses_sorter_and_scalars():
    s = D(np.sort(A[0]))
    still_fails(lambda: cda.searchsorted(s, s, sorter=da.arange(6)), "searchsorted(sorter=)",
                "toplevel.py (searchsorted)")
    still_fails(lambda: cda.searchsorted(s, 0.1), "searchsorted with a Python scalar x2",
                "toplevel.py (searchsorted)")


def test_take_refuses_axis_none_on_1d():
    still_fails(lambda: cda.take(D(A[0]), np.array([0, 1]), axis=None), "take(axis=None) on 1-D",
                "toplevel.py (take)")


# -------------------------------------------------------------------- linalg ---

def test_cholesky_returns_the_upper_factor():
    got = compute(cda.linalg.cholesky(D(SPD)))
    assert not np.allclose(got, np.linalg.cholesky(SPD)), fixed("cda.linalg.cholesky returning U for L",
                                                                "linalg.py (cholesky)")
    np.testing.assert_allclose(got, np.linalg.cholesky(SPD).T)  # the defect as we know it


@pytest.mark.parametrize("name", ["inv", "cholesky", "solve"])
def test_matrix_functions_do_not_batch(name):
    args = (D(STACK),) * (2 if name == "solve" else 1)
    still_fails(lambda: getattr(cda.linalg, name)(*args), f"batched linalg.{name}", f"linalg.py ({name})")


def test_lu_needs_square_blocks():
    still_fails(lambda: cda.linalg.inv(D(SPD, chunks=(3, 2))), "inv of non-square blocks",
                "linalg.py (inv, solve: _square_chunks)")


def test_inv_upcasts_float32():
    r = cda.linalg.inv(D(SPD.astype(np.float32)))
    assert r.dtype == np.float64, fixed("inv of float32 giving float64", "linalg.py (inv: astype)")


def test_qr_modes_and_chunkings():
    still_fails(lambda: cda.linalg.qr(D(SPD), mode="complete"), "qr(mode='complete')", "linalg.py (qr)")
    still_fails(lambda: cda.linalg.qr(D(SPD)), "qr of a matrix chunked both ways", "linalg.py (qr)")
    still_fails(lambda: cda.linalg.qr(D(STACK)), "batched qr", "linalg.py (qr)")


def test_svd_full_matrices_and_svdvals():
    still_fails(lambda: cda.linalg.svd(D(A, chunks=(4, 2))), "svd(full_matrices=True)", "linalg.py (svd)")
    still_fails(lambda: cda.linalg.svdvals(D(A, chunks=(4, 2))), "svdvals", "linalg.py (svdvals)")
    still_fails(lambda: cda.linalg.svd(D(A), full_matrices=False), "svd of a matrix chunked both ways",
                "linalg.py (svd: _svd_native_2d)")


def test_matrix_rank_and_spectral_norms():
    still_fails(lambda: cda.linalg.matrix_rank(D(A)), "matrix_rank passing compute_uv",
                "linalg.py (matrix_rank)")
    still_fails(lambda: cda.linalg.matrix_norm(D(A), ord=2), "matrix_norm(ord=2) on two-way chunks",
                "linalg.py (matrix_norm)")


def test_apply_gufunc_cannot_rechunk_one_matrix_chunked_two_ways():
    def det(b):
        return np.linalg.det(b)

    still_fails(lambda: da.apply_gufunc(det, "(m,m)->()", D(np.eye(6), chunks=(2, 3)),
                                        output_dtypes=float, allow_rechunk=True),
                "apply_gufunc(allow_rechunk=True) with (m,m) chunked (2, 3)",
                "blocks.py (gufunc: the core-dim rechunk)")


# ----------------------------------------------------------------------- fft ---

@pytest.mark.parametrize("name", "fft ifft rfft irfft hfft ihfft fftn ifftn rfftn irfftn".split())
def test_fft_needs_one_chunk_along_transformed_axes(name):
    x = D(A + (0j if name in ("fft", "ifft", "irfft", "hfft", "fftn", "ifftn", "irfftn") else 0))
    still_fails(lambda: getattr(cda.fft, name)(x), f"fft.{name} on a multi-chunk axis", f"fft.py ({name})")


def test_fftn_keeps_minus_one_in_the_shape():
    r = cda.fft.fftn(D(A, chunks=-1), s=(-1, 6), axes=(0, 1))
    assert r.shape != (4, 6), fixed("fftn(s=(-1, ...)) metadata", "fft.py (_fftn: s == -1)")


# ------------------------------------------------------------ Dask indexing ---

def test_negative_step_slice_with_start_below_minus_n_reads_everything():
    x = da.arange(5, chunks=3)
    got = compute(x[-8::-1])
    assert got.shape != (0,), fixed("x[-8::-1] selecting all elements",
                                    "keys.py (canonical_slice: Dask keys are canonical)")


def test_dask_index_equal_to_the_offsets_array_collides():
    x = D(np.arange(24.0).reshape(4, 6), chunks=(4, 6))
    r = x[D(np.array([0]), chunks=1)]
    assert r.shape == (4, 6), fixed("the key collision of slice_with_int_dask_array's offsets",
                                    "keys.py (checked: the renamed index)")


def test_out_of_range_dask_index_reads_another_element():
    x = da.arange(4.0, chunks=2)
    got = compute(x[D(np.array([3, 7]), chunks=2)])
    np.testing.assert_array_equal(got, [3.0, 3.0], err_msg=fixed(
        "out-of-range Dask indices", "keys.py (checked: the bounds check)"))


def test_numpy_mask_gives_unknown_sizes():
    x = D(np.arange(4.0).reshape(2, 2))
    r = x[np.array([[True, False], [False, True]])]
    assert np.isnan(r.shape[0]), fixed("x[numpy_mask] with unknown sizes",
                                       "keys.py (normalize_key: NumPy masks as nonzero)")


def test_dask_index_next_to_none_fails():
    x = D(np.arange(24.0).reshape(4, 6))
    still_fails(lambda: x[D(np.array([0, 0])), None, 1:3], "x[dask_index, None, ...]",
                "indexing.py (_dask_reads_like_numpy: None)")


def test_integer_apart_from_an_index_array_moves_the_axis():
    xn = np.arange(24.0).reshape(2, 3, 4)
    got = compute(D(xn)[1, :, np.array([0, 3])])
    assert got.shape != xn[1, :, np.array([0, 3])].shape, fixed(
        "x[int, :, array] layout", "indexing.py (_dask_reads_like_numpy: ints)")


def test_several_index_arrays_are_refused():
    still_fails(lambda: D(A)[np.array([0, 1]), np.array([2, 3])], "x[i, j] with two index arrays",
                "indexing.py (getitem: the flat route)")


def test_empty_arrays_do_not_reshape():
    still_fails(lambda: da.reshape(D(np.zeros((0, 3)), chunks=(1, 2)), (-1,)), "reshape of empty arrays",
                "toplevel.py (reshape: size 0) and indexing.py (getitem: the empty result)")


def test_setitem_reverses_along_the_wrong_axis():
    xn = np.arange(24.0).reshape(2, 3, 4)
    v = -np.arange(12.0).reshape(3, 4) - 1
    want = xn.copy()
    want[1, ::-1, :] = v
    y = D(xn)
    try:
        y[1, ::-1, :] = v
        got = compute(y)
    except Exception:
        return  # refusing is not a wrong answer, but scatter.py still must not rely on it
    assert not np.array_equal(got, want), fixed("__setitem__ with an int before a negative step",
                                                "scatter.py (Dask's __setitem__ may be used again)")


# ------------------------------------------------- degenerate arrays, chunks ---

EMPTY = {
    "roll without axis": lambda e: cda.roll(e, 1),
    "concat(axis=None)": lambda e: cda.concat([e, e], axis=None),
    "repeat": lambda e: cda.repeat(e, 2, axis=0),
    "vector_norm(ord=0)": lambda e: cda.linalg.vector_norm(e, ord=0),
}


@pytest.mark.parametrize("name", list(EMPTY))
def test_empty_arrays_break(name):
    still_fails(lambda: EMPTY[name](D(np.zeros((0, 3)), chunks=(1, 2))), f"{name} on an empty array",
                "degenerate.py (stand-ins for empty arrays)")


def test_searchsorted_of_an_empty_x2_computes_another_shape():
    r = cda.searchsorted(D(np.arange(4.0)), D(np.zeros((0, 3)), chunks=1))
    assert compute(r).shape != r.shape, fixed("searchsorted(x1, empty x2) shape",
                                              "toplevel.py (searchsorted: x2.size == 0)")


ZERO_CHUNKS = {
    "max": lambda z: cda.max(z, axis=0),
    "tril": lambda z: cda.tril(z),
    "cumulative_prod": lambda z: cda.cumulative_prod(z, axis=0),
}


@pytest.mark.parametrize("name", list(ZERO_CHUNKS))
def test_zero_length_chunks_break(name):
    z = D(A, chunks=((0, 4), (0, 6)))
    still_fails(lambda: ZERO_CHUNKS[name](z), f"{name} with zero-length chunks",
                "degenerate.py (zero-length chunks dropped)")


def test_mask_then_compute_chunk_sizes_gives_zero_length_chunks():
    x = D(np.arange(40.0).reshape(20, 2), chunks=5)
    y = x[x[:, 0] > 25].compute_chunk_sizes()
    assert 0 in y.chunks[0]  # the case degenerate.py and inputs.prepare_inputs are for
    still_fails(lambda: y.max(), "max over zero-length chunks", "degenerate.py")


def test_elementwise_op_over_zero_length_chunks_on_two_axes_duplicates_data():
    x = D(np.arange(5.0).reshape(5, 1), chunks=((0, 5), (0, 1)))
    got = compute(x + 1)
    assert got.shape == (5, 2), fixed("blockwise handing tasks the wrong blocks around zero-length chunks",
                                      "degenerate.py and inputs.prepare_inputs (zero-length chunks dropped)")
