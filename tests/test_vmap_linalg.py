"""vmap of linear algebra: matmul (1-D, 2-D and stacked examples, either side
batched), matrix_transpose, tensordot, vecdot, einsum and the whole linalg
extension, against a loop over the examples; the gradient tests' cases
(tests/test_rules_linalg.py) with every batched/unbatched assignment of their
arguments, moved axes, out_axes=-1 and nested vmap."""
from __future__ import annotations

import pytest

from test_rules_linalg import CASES, EIG_CASES, EINSUM, near_diag, spd
from test_vmap_indexing import combos, floats, nested_check, vmap_check

B = 3

# the cases Dask runs (each call there builds and computes a graph)
DASK = {"matmul_batched_broadcast", "matmul_vec_batched", "matmul_vec_vec", "tensordot_pairs", "vecdot_broadcast",
        "outer", "cross_axis", "diagonal_offset", "trace_offset", "inv", "solve_vector", "solve_broadcast_a",
        "slogdet_batched_both", "matrix_power_3", "pinv_tall", "matrix_rank_nondiff", "cholesky", "eigh",
        "qr_normalized", "svd_tall", "svdvals", "vector_norm_axes_keepdims", "matrix_norm_2", "eig", "batched",
        "ellipsis_broadcast", "implicit", "solve_vector_stack", "pinv_rtol_array", "linalg_matmul",
        "matmul_matrix_vector", "matmul_vector_matrix", "matmul_outer"}


def _dask_subset(backend, name):
    if backend.name == "dask" and name not in DASK:
        pytest.skip("a representative subset runs on Dask (each call builds and computes a graph)")


def _makers(shapes):
    makers = [floats(s, away=False) for s in shapes]
    return lambda rng: [m(rng) for m in makers]


def _run(backend, name, shapes, fn, rtol=1e-9, atol=1e-11):
    _dask_subset(backend, name)
    make = _makers(shapes)
    for in_axes, out_axes in combos(backend, [len(s) for s in shapes]):
        vmap_check(backend, fn, make, in_axes, out_axes, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", list(CASES))
def test_linalg(backend, name):
    if backend.name == "cupy" and name == "solve_broadcast_a":
        pytest.skip("CuPy's linalg.solve does not broadcast batch dimensions (the plain call)")
    shapes, fn = CASES[name]
    _run(backend, name, shapes, fn)


@pytest.mark.parametrize("name", list(EIG_CASES))
def test_eig(backend, name):
    if not hasattr(backend.xp.linalg, "eig"):
        pytest.skip(f"{backend.name} has no linalg.eig")
    shapes, fn = EIG_CASES[name]
    _run(backend, name, shapes, fn)


@pytest.mark.parametrize("name", list(EINSUM))
def test_einsum(backend, name):
    if not hasattr(backend.xp, "einsum"):
        pytest.skip(f"{backend.name} has no einsum (not in the array API standard)")
    subs, shapes = EINSUM[name]
    _run(backend, name, shapes, lambda xp, *a: xp.einsum(subs, *a))


def _positive_qr(xp, r):
    d = xp.sign(xp.linalg.diagonal(r.R))
    return r.Q * d[..., None, :], r.R * d[..., :, None]


STRICT_SOLVE = "array-api-strict: linalg.solve of a stack with a 1-D right-hand side fails in the plain call"
STRICT_POS_AXIS = "array-api-strict: a non-negative axis is refused in the plain call"

# beyond the gradient tests' cases: keyword arrays, positive axes, a vector against a stack
MORE = {
    "solve_vector_stack": ([(2, 3, 3), (3,)], lambda xp, a, b: xp.linalg.solve(near_diag(xp, a), b),
                           {"array_api_strict": STRICT_SOLVE}),
    "pinv_rtol_array": ([(2, 3, 3), (2,)], lambda xp, a, r: xp.linalg.pinv(a, rtol=xp.abs(r)), {}),
    "matrix_rank_rtol_array": ([(2, 3, 3), (2,)],
                               lambda xp, a, r: xp.linalg.matrix_rank(a @ xp.matrix_transpose(a), rtol=xp.abs(r)), {}),
    "vecdot_positive_axis": ([(4, 3), (4, 3)], lambda xp, a, b: xp.vecdot(a, b, axis=0),
                             {"array_api_strict": STRICT_POS_AXIS}),
    "cross_positive_axis": ([(3, 2), (3, 1)], lambda xp, a, b: xp.linalg.cross(a, b, axis=0),
                            {"array_api_strict": STRICT_POS_AXIS}),
    # QR is unique up to the signs of R's diagonal, which Dask's tall-skinny QR (a 2-D example)
    # and LAPACK's (a stack) choose differently: compared with those signs made positive
    "qr_normalized": ([(4, 3)], lambda xp, a: _positive_qr(xp, xp.linalg.qr(a)), {}),
    "vector_norm_all_keepdims": ([(2, 3)], lambda xp, a: xp.linalg.vector_norm(a, keepdims=True, ord=1), {}),
    "tensordot_axes_ints": ([(3, 4), (4, 3)], lambda xp, a, b: xp.tensordot(a, b, axes=([1], [0])), {}),
    # one plain matrix against batched vectors or matrices: the batching rule's one-product forms
    "matmul_matrix_vector": ([(3, 4), (4,)], lambda xp, a, b: a @ b, {}),
    "matmul_vector_matrix": ([(3,), (3, 4)], lambda xp, a, b: a @ b, {}),
    "matmul_outer": ([(3, 1), (1, 4)], lambda xp, a, b: a @ b, {}),
    "matmul_stack_by_vector": ([(2, 3, 4), (4,)], lambda xp, a, b: xp.linalg.matmul(a, b), {}),
    "solve_one_matrix_many": ([(3, 3), (3, 2, 3, 1)], lambda xp, a, b: xp.linalg.solve(near_diag(xp, a), b), {}),
    "cholesky_of_spd_trace": ([(3, 3)], lambda xp, a: xp.linalg.trace(xp.linalg.cholesky(spd(xp, a))), {}),
}


@pytest.mark.parametrize("name", list(MORE))
def test_more(backend, name):
    shapes, fn, fails = MORE[name]
    if fails.get(backend.name):
        pytest.skip(fails[backend.name])
    if backend.name == "dask" and name not in DASK:
        pytest.skip("a representative subset runs on Dask (each call builds and computes a graph)")
    make = _makers(shapes)
    for in_axes, out_axes in combos(backend, [len(s) for s in shapes]):
        vmap_check(backend, fn, make, in_axes, out_axes)


@pytest.mark.parametrize("name", ["matmul_vec_batched", "matmul_vec_vec", "tensordot_pairs", "solve_vector",
                                  "vector_norm_axis", "outer", "qr_reduced_tall"])
def test_nested(backend, name):
    if backend.name != "numpy":
        pytest.skip("nested vmap is backend-independent; kept to NumPy for time")
    shapes, fn = CASES[name]

    def make(rng):
        return [[rng.standard_normal(s) for _ in range(B * B)] for s in shapes]

    nested_check(backend, fn, make, (0,) * len(shapes))
    if len(shapes) > 1:
        nested_check(backend, fn, make, (None,) + (0,) * (len(shapes) - 1))


def test_einsum_nested(backend):
    if backend.name != "numpy":
        pytest.skip("nested vmap is backend-independent; kept to NumPy for time")

    def make(rng):
        return [[rng.standard_normal(s) for _ in range(B * B)] for s in [(2, 3), (3,)]]

    nested_check(backend, lambda xp, a, b: xp.einsum("ij,j", a, b), make, (0, 0))
    nested_check(backend, lambda xp, a, b: xp.einsum("...j,j->...", a, b), make, (0, None))

