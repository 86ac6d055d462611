"""NumPy-style code (``np.exp(x)``, ``np.dot(W, x)``, ``x.sum()``) is traced onto the same rules.

NumPy-style code runs on NumPy arrays, so these tests use the NumPy backend
only. Each case checks the forward value against plain NumPy and the gradient
with check_grad.
"""
from __future__ import annotations

import numpy as np
import pytest

import yota
from yota.frontends import numpy as numpy_compat
from yota.testing import check_grad

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))            # general matrix
Y = RNG.standard_normal((3, 4))
V = RNG.standard_normal(4)                 # vector
S = RNG.standard_normal((4, 4)) + 4 * np.eye(4)   # well-conditioned square matrix
SPD = S @ S.T                              # symmetric positive definite
T3 = RNG.standard_normal((2, 3, 4))
Z = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
POS = np.abs(X) + 0.5                      # away from 0 (log, power, prod)


def case(id_, f, *args, rules=()):
    return pytest.param(f, args, id=id_)


def check(f, *args):
    """Forward value equals NumPy's own; gradient passes check_grad (traced, then cached)."""
    expected = f(*args)
    value, _ = yota.trace(f, *args)
    np.testing.assert_allclose(np.asarray(value), np.asarray(expected), rtol=1e-12, atol=1e-12)
    check_grad(f, *args)


# ---------------------------------------------------------------------- ufuncs

UFUNCS = [
    case("exp", lambda x: np.exp(x), X),
    case("log", lambda x: np.log(x), POS),
    case("log1p", lambda x: np.log1p(x), POS),
    case("expm1", lambda x: np.expm1(x), X, rules=["expm1"]),
    case("log2", lambda x: np.log2(x), POS, rules=["log2"]),
    case("log10", lambda x: np.log10(x), POS, rules=["log10"]),
    case("exp2", lambda x: np.exp2(x), X),
    case("sin_cos_tan", lambda x: np.sin(x) + np.cos(x) + np.tan(0.3 * x), X, rules=["tan"]),
    case("sinh_cosh_tanh", lambda x: np.sinh(x) * np.cosh(x) + np.tanh(x), X, rules=["sinh", "cosh"]),
    case("arc_trig", lambda x: np.arcsin(0.3 * np.tanh(x)) + np.arccos(0.3 * np.tanh(x)) + np.arctan(x), X,
         rules=["asin", "acos", "atan"]),
    case("arc_hyp", lambda x: np.arcsinh(x) + np.arccosh(x + 2.0) + np.arctanh(0.5 * np.tanh(x)), POS,
         rules=["asinh", "acosh", "atanh"]),
    case("arctan2", lambda x, y: np.arctan2(x, y + 3.0), X, Y, rules=["atan2"]),
    case("sqrt", lambda x: np.sqrt(x), POS),
    case("square", lambda x: np.square(x), X, rules=["square"]),
    case("abs_absolute_fabs", lambda x: np.abs(x) + np.absolute(x) + np.fabs(x), X),
    case("negative_positive", lambda x: np.negative(x) * np.positive(x), X),
    case("reciprocal", lambda x: np.reciprocal(x), POS, rules=["reciprocal"]),
    case("power", lambda x, y: np.power(x, y), POS, Y),
    case("float_power", lambda x: np.float_power(x, 1.5), POS),
    case("add_subtract", lambda x, y: np.add(x, y) - np.subtract(y, 2.0 * x), X, Y),
    case("multiply_divide", lambda x, y: np.multiply(x, y) / np.true_divide(y * y + 1.0, 2.0), X, Y),
    case("broadcast_add", lambda x, v: np.add(x, v), X, V),
    case("maximum_minimum", lambda x, y: np.maximum(x, y) + np.minimum(x, 0.1), X, Y),
    case("fmax_fmin", lambda x, y: np.fmax(x, y) + np.fmin(x, 0.1), X, Y, rules=["isnan"]),
    case("logaddexp", lambda x, y: np.logaddexp(x, y), X, Y, rules=["logaddexp"]),
    case("logaddexp2", lambda x, y: np.logaddexp2(x, y), X, Y, rules=["logaddexp"]),
    case("hypot", lambda x, y: np.hypot(x, y), X, Y, rules=["hypot"]),
    case("deg2rad", lambda x: np.deg2rad(x) + np.rad2deg(x), X),
    case("sign_mask", lambda x: np.sign(x) * x, X, rules=["sign"]),
    case("comparisons", lambda x, y: x * np.greater(x, y) + y * np.less_equal(x, y) + np.equal(x, x), X, Y),
    case("logical", lambda x: np.where(np.logical_and(x > -1, np.logical_not(x > 1)), x, 0.0), X),
    case("conjugate_complex", lambda z: np.conjugate(z) * z, Z, rules=["conj"]),
    case("matmul_ufunc", lambda x, y: np.matmul(x, y.T), X, Y),
    case("vecdot_ufunc", lambda x, y: np.vecdot(x, y), X, Y, rules=["vecdot"]),
    case("matvec_ufunc", lambda s, v: np.matvec(s, v), S, V),
    case("ufunc_dtype", lambda x: np.exp(x, dtype=np.float64), X),
    # ufunc methods
    case("add.reduce", lambda x: np.add.reduce(x), X),
    case("add.reduce_axis", lambda x: np.add.reduce(x, axis=1, keepdims=True), X),
    case("multiply.reduce", lambda x: np.multiply.reduce(x, axis=0), POS, rules=["prod"]),
    case("maximum.reduce", lambda x: np.maximum.reduce(x, axis=None), X),
    case("add.accumulate", lambda x: np.add.accumulate(x, axis=1), X, rules=["cumulative_sum"]),
    case("multiply.outer", lambda v, x: np.multiply.outer(v, x[0]), V, X),
]


@pytest.mark.parametrize("f, args", UFUNCS)
def test_ufuncs(f, args):
    check(f, *args)


# ---------------------------------------------------------------------- reductions (functions and methods)

REDUCTIONS = [
    case("np.sum", lambda x: np.sum(x), X),
    case("np.sum_axis0", lambda x: np.sum(x, axis=0), X),
    case("np.sum_tuple_keepdims", lambda x: np.sum(T3 * x, axis=(0, 2), keepdims=True), X),
    case("np.sum_initial", lambda x: np.sum(x, axis=1, initial=2.0), X),
    case("x.sum", lambda x: x.sum(), X),
    case("x.sum_axis", lambda x: x.sum(1), X),
    case("np.mean", lambda x: np.mean(x, axis=1), X),
    case("x.mean", lambda x: x.mean(axis=0, keepdims=True), X),
    case("np.max", lambda x: np.max(x, axis=1), X),
    case("np.amin", lambda x: np.amin(x, axis=0), X),
    case("x.max_x.min", lambda x: x.max() - x.min(axis=1), X),
    case("np.prod", lambda x: np.prod(x, axis=1), POS, rules=["prod"]),
    case("x.prod", lambda x: x.prod(), POS, rules=["prod"]),
    case("np.std", lambda x: np.std(x, axis=0), X, rules=["std"]),
    case("x.std_ddof", lambda x: x.std(ddof=1), X, rules=["std"]),
    case("x.var_ddof_axis", lambda x: x.var(axis=1, ddof=1), X),
    case("np.var_correction", lambda x: np.var(x, correction=1.5), X, rules=["var"]),
    case("np.cumsum_flat", lambda x: np.cumsum(x), X, rules=["cumulative_sum"]),
    case("x.cumsum_axis", lambda x: x.cumsum(axis=0), X, rules=["cumulative_sum"]),
    case("x.cumprod", lambda x: x.cumprod(axis=1), POS, rules=["cumulative_prod"]),
    case("np.ptp", lambda x: np.ptp(x, axis=1), X),
    case("np.average_weights", lambda x, v: np.average(x, axis=1, weights=v * v + 0.5), X, V),
    case("argmax_gathers", lambda x: x[np.arange(3), x.argmax(axis=1)], X),
]


@pytest.mark.parametrize("f, args", REDUCTIONS)
def test_reductions(f, args):
    check(f, *args)


# ---------------------------------------------------------------------- manipulation

MANIPULATION = [
    case("x.reshape_varargs", lambda x: x.reshape(2, 6), X),
    case("x.reshape_tuple", lambda x: x.reshape((4, -1)), X),
    case("np.reshape", lambda x: np.reshape(x, (6, 2)), X),
    case("x.reshape_int", lambda x: x.reshape(-1), X),
    case("x.flatten", lambda x: x.flatten(), X),
    case("x.ravel", lambda x: x.ravel(), X),
    case("np.ravel", lambda x: np.ravel(x), X),
    case("x.transpose", lambda x: x.transpose(), X),
    case("x.transpose_varargs", lambda t: t.transpose(2, 0, 1), T3),
    case("np.transpose_axes", lambda t: np.transpose(t, (1, -1, 0)), T3),
    case("np.swapaxes", lambda t: np.swapaxes(t, 0, 2), T3),
    case("x.swapaxes", lambda t: t.swapaxes(-1, 1), T3),
    case("np.moveaxis", lambda t: np.moveaxis(t, 0, -1), T3, rules=["moveaxis"]),
    case("np.squeeze", lambda x: np.squeeze(x[:, None, :1]), X),
    case("x.squeeze_axis", lambda x: x[None].squeeze(0), X),
    case("np.expand_dims", lambda x: np.expand_dims(x, 1), X),
    case("np.expand_dims_tuple", lambda x: np.expand_dims(x, (0, 3)), X),
    case("np.concatenate", lambda x, y: np.concatenate([x, 2.0 * y], axis=1), X, Y, rules=["concat"]),
    case("np.concatenate_none", lambda x, y: np.concatenate((x, y), axis=None), X, Y, rules=["concat"]),
    case("np.stack", lambda x, y: np.stack([x, y], axis=-1), X, Y, rules=["stack"]),
    case("np.vstack", lambda x, v: np.vstack([x, v]), X, V, rules=["concat"]),
    case("np.hstack", lambda x, y: np.hstack((x, y)), X, Y, rules=["concat"]),
    case("np.split", lambda x: np.split(x, 2, axis=1)[1], X),
    case("np.flip", lambda x: np.flip(x, axis=0), X, rules=["flip"]),
    case("np.roll", lambda x: np.roll(x, 1, axis=1), X, rules=["roll"]),
    case("np.tile", lambda v: np.tile(v, (2, 1)), V, rules=["tile"]),
    case("np.repeat", lambda x: np.repeat(x, 2, axis=0), X, rules=["repeat"]),
    case("np.broadcast_to", lambda v: np.broadcast_to(v, (3, 4)), V),
    case("np.tril_triu", lambda s: np.tril(s) + np.triu(s, 1), S, rules=["tril", "triu"]),
    case("np.diagonal", lambda s: np.diagonal(s, 1), S, rules=["linalg.diagonal"]),
    case("np.trace", lambda s: np.trace(s), S, rules=["linalg.trace"]),
    case("np.diff", lambda x: np.diff(x, axis=1), X, rules=["diff"]),
    case("np.take", lambda x: np.take(x, [0, 2], axis=1), X, rules=["take"]),
    case("np.where", lambda x, y: np.where(x > y, x, y), X, Y),
    case("np.where_scalar", lambda x: np.where(x > 0, x, 0.0), X),
    case("np.clip", lambda x: np.clip(x, -0.5, 0.5), X, rules=["clip"]),
    case("np.clip_kw", lambda x: np.clip(x, a_min=-0.5, a_max=None), X, rules=["clip"]),
    case("x.clip", lambda x: x.clip(max=0.5), X, rules=["clip"]),
    case("x.copy", lambda x: x.copy() * 2.0, X),
    case("np.copy", lambda x: np.copy(x) * 2.0, X),
    case("np.zeros_like", lambda x: np.zeros_like(x) + np.ones_like(x) * x, X),
    case("np.full_like", lambda x: np.full_like(x, 2.0) * x, X),
    case("x.astype", lambda x: x.astype(np.float64) * 2.0, X),
    case("x.real", lambda x: x.real * 2.0, X),
    case("complex_real_imag", lambda z: z.real * z.imag, Z, rules=["real", "imag"]),
    case("x.conj", lambda z: (z.conj() * z).real, Z, rules=["conj", "real"]),
    case("np.real_imag", lambda z: np.real(z) + np.imag(z) ** 2, Z, rules=["real", "imag"]),
]


@pytest.mark.parametrize("f, args", MANIPULATION)
def test_manipulation(f, args):
    check(f, *args)


# ---------------------------------------------------------------------- linear algebra and fft

LINALG = [
    case("dot_2d_2d", lambda x, y: np.dot(x, y.T), X, Y),
    case("dot_2d_1d", lambda x, v: np.dot(x, v), X, V),
    case("dot_1d_1d", lambda v: np.dot(v, v), V),
    case("dot_scalar", lambda x: np.dot(x, 3.0), X),
    case("dot_3d_3d", lambda t: np.dot(t, T3.transpose(0, 2, 1)), T3, rules=["tensordot"]),
    case("x.dot", lambda x, y: x.dot(y.T), X, Y),
    case("np.matmul", lambda x, s: np.matmul(x, s), X, S),
    case("np.outer", lambda v, x: np.outer(v, x[0]), V, X),
    case("np.inner", lambda x, y: np.inner(x, y), X, Y, rules=["tensordot"]),
    case("np.inner_1d", lambda v: np.inner(v, v), V),
    case("np.vdot", lambda x, y: np.vdot(x, y), X, Y, rules=["vecdot"]),
    case("np.tensordot", lambda t, x: np.tensordot(t, x, axes=([1, 2], [0, 1])), T3, X, rules=["tensordot"]),
    case("np.einsum", lambda x, y: np.einsum("ij,kj->ik", x, y), X, Y, rules=["einsum"]),
    case("np.kron", lambda v, x: np.kron(v[:2], x), V, X),
    case("norm", lambda x: np.linalg.norm(x), X, rules=["linalg.vector_norm"]),
    case("norm_axis", lambda x: np.linalg.norm(x, axis=1), X, rules=["linalg.vector_norm"]),
    case("norm_ord1", lambda v: np.linalg.norm(v, 1), V, rules=["linalg.vector_norm"]),
    case("norm_matrix_1", lambda s: np.linalg.norm(s, 1), S, rules=["linalg.matrix_norm"]),
    case("norm_fro_axes", lambda t: np.linalg.norm(t, "fro", axis=(0, 2)), T3, rules=["linalg.vector_norm"]),
    case("inv", lambda s: np.linalg.inv(s), S, rules=["linalg.inv"]),
    case("det", lambda s: np.linalg.det(s), S, rules=["linalg.det"]),
    case("slogdet", lambda s: np.linalg.slogdet(s)[1], S, rules=["linalg.slogdet"]),
    case("solve", lambda s, x: np.linalg.solve(s, x.T), S, X, rules=["linalg.solve"]),
    case("cholesky", lambda a: np.linalg.cholesky(a @ a.T), S, rules=["linalg.cholesky"]),
    case("svdvals", lambda x: np.linalg.svd(x, compute_uv=False), X, rules=["linalg.svdvals"]),
    case("eigvalsh", lambda a: np.linalg.eigvalsh(a + a.T), S, rules=["linalg.eigvalsh"]),
    case("pinv", lambda x: np.linalg.pinv(x), X, rules=["linalg.pinv"]),
    case("matrix_power", lambda s: np.linalg.matrix_power(s, 3), S, rules=["linalg.matrix_power"]),
    case("multi_dot", lambda x, s: np.linalg.multi_dot([x, s, s.T]), X, S),
    case("eigh_values", lambda a: np.linalg.eigh(a + a.T)[0], S, rules=["linalg.eigh"]),
    case("qr_r", lambda x: np.linalg.qr(x.T, mode="r"), X, rules=["linalg.qr"]),
    case("svd_s", lambda x: np.linalg.svd(x, full_matrices=False)[1], X, rules=["linalg.svd"]),
    case("np.cross", lambda x, y: np.cross(x[:, :3], y[:, :3]), X, Y, rules=["linalg.cross"]),
    case("np.linalg.outer", lambda v: np.linalg.outer(v, v[:3]), V, rules=["linalg.outer"]),
    case("fftshift", lambda x: np.fft.fftshift(x, axes=1), X, rules=["fft.fftshift"]),
    case("rfft_real", lambda v: np.fft.rfft(v).real, V, rules=["fft.rfft", "real"]),
    case("fft_abs", lambda x: np.abs(np.fft.fft(x, axis=0)), X, rules=["fft.fft"]),
]


@pytest.mark.parametrize("f, args", LINALG)
def test_linalg(f, args):
    check(f, *args)


# ---------------------------------------------------------------------- whole programs


def test_mlp_numpy_style():
    rng = np.random.default_rng(1)
    params = {"W1": rng.standard_normal((8, 3)), "b1": rng.standard_normal(8),
              "W2": rng.standard_normal((1, 8)), "b2": rng.standard_normal(1)}
    X_ = rng.standard_normal((3, 10))
    y_ = rng.standard_normal((1, 10))

    def loss(p, X, y):
        h = np.tanh(np.dot(p["W1"], X) + p["b1"][:, None])
        out = p["W2"].dot(h) + p["b2"][:, None]
        return np.square(out - y).sum() / X.shape[1]

    check_grad(loss, params, X_, y_)
    val, g = yota.grad(loss, params, X_, y_)
    np.testing.assert_allclose(val, loss(params, X_, y_))
    assert set(g[1]) == set(params)


def test_ndarray_left_operands_route_through_ufuncs():
    # ndarray.__mul__(tracer) etc. call np.multiply(...), which NumPy hands to the Tracer.
    def f(x):
        return (Y * x + (Y.T @ x).sum() + np.float64(2.0) * x + (Y > x) * x - Y / (x * x + 1.0)).sum()

    check(f, X)


def test_tape_names_array_api_functions():
    _, tape = yota.trace(lambda x: np.exp(x).sum(axis=0).mean(), X)
    text = str(tape)
    assert "exp(" in text and "sum(" in text and "mean(" in text
    assert "np." not in text and "numpy" not in text


def test_float32_in_float32_out():
    x = X.astype(np.float32)
    val, g = yota.grad(lambda x: np.sum(np.tanh(np.dot(x, x.T))), x)
    assert val.dtype == np.float32 and g[1].dtype == np.float32


def test_dtype_arguments_map_to_backend():
    val, _ = yota.trace(lambda x: (x.astype(np.float32), np.sum(x, dtype="float32"), x.astype(float)), X)
    assert [v.dtype for v in val] == [np.float32, np.float32, np.float64]


def test_ndarray_sort_in_place_is_copy_on_write():
    def f(x):
        y = x * 1.0
        y.sort(axis=1)
        return y[:, -1:] * x

    val, _ = yota.trace(f, X)
    np.testing.assert_allclose(val, np.sort(X, axis=1)[:, -1:] * X)


def test_metadata_functions():
    seen = {}

    def f(x):
        seen.update(shape=np.shape(x), ndim=np.ndim(x), size=np.size(x), cplx=np.iscomplexobj(x))
        return x.sum()

    yota.trace(f, X)
    assert seen == {"shape": (3, 4), "ndim": 2, "size": 12, "cplx": False}


# ---------------------------------------------------------------------- errors


def _traced(f, *args):
    """Run f on tracers; return what it returns (the trace's value)."""
    return yota.trace(f, *args)[0]


@pytest.mark.parametrize("call, name", [
    (lambda x: np.polyval([1.0, 2.0], x), "np.polyval"),
    (lambda x: np.linalg.lstsq(x, x), "np.linalg.lstsq"),
    (lambda x: np.cbrt(x), "np.cbrt"),
    (lambda x: np.nanmean(x), "np.nanmean"),
])
def test_unmapped_numpy_function_names_it(call, name):
    with pytest.raises(yota.YotaError, match=name.replace(".", r"\.") + " has no yota mapping") as info:
        yota.grad(lambda x: np.sum(call(x)), X)
    msg = str(info.value)
    assert "array_namespace" in msg and "@yota.rrule" in msg
    assert isinstance(info.value, numpy_compat.NumPyMappingError)
    assert isinstance(info.value, TypeError)
    assert "test_numpy_style.py" in msg  # where the user called it
    # A failed trace caches nothing: a good function still works afterwards.
    val, _ = yota.grad(lambda x: np.sum(np.exp(x)), X)
    np.testing.assert_allclose(val, np.exp(X).sum())


def test_ufunc_at_is_refused():
    with pytest.raises(yota.YotaError, match=r"np\.add\.at"):
        _traced(lambda x: np.add.at(x, [0], 1.0), X)


@pytest.mark.parametrize("call", [
    lambda x: np.exp(x, out=np.empty((3, 4))),
    lambda x: np.sum(x, axis=0, out=np.empty(4)),
    lambda x: x.sum(out=np.empty(())),
])
def test_out_argument_is_refused(call):
    with pytest.raises(numpy_compat.UnsupportedArgumentError, match="out="):
        _traced(call, X)


def test_where_argument_is_refused():
    with pytest.raises(numpy_compat.UnsupportedArgumentError, match="where="):
        _traced(lambda x: np.sum(x, where=np.ones((3, 4), bool)), X)


def test_method_lookup_attribute_errors():
    seen = {}

    def f(x):
        seen["has_sum"] = hasattr(x, "sum")
        seen["has_reshape"] = hasattr(x, "reshape")
        seen["has_unknown"] = hasattr(x, "no_such_method")
        seen["has_array_interface"] = hasattr(x, "__array_interface__")
        seen["has_private"] = hasattr(x, "_meta")
        seen["has_compute"] = hasattr(x, "compute")
        return x.sum()

    _traced(f, X)
    assert seen == {"has_sum": True, "has_reshape": True, "has_unknown": False,
                    "has_array_interface": False, "has_private": False, "has_compute": False}


def test_method_unknown_name_message():
    def f(x):
        return x.no_such_method()

    with pytest.raises(AttributeError, match="no_such_method"):
        _traced(f, X)


def test_numpy_asarray_on_tracer_is_refused():
    with pytest.raises(yota.YotaError, match="np.asarray"):
        _traced(lambda x: np.asarray(x), X)


# ---------------------------------------------------------------------- tools/coverage_table.py

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _run_coverage(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, str(ROOT / "tools" / "coverage_table.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_coverage_table_runs():
    r = _run_coverage()
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Array API 2025.12 coverage" in out
    assert "| `exp` | differentiable |" in out
    assert "| `equal` | non-differentiable |" in out
    assert "| `linalg.solve` |" in out and "| `fft.rfft` |" in out
    assert "Beyond the standard" in out and "| `einsum` |" in out
    spec = [l for l in (ROOT / "tools" / "array_api_2025_12.txt").read_text().splitlines()
            if l and not l.startswith(("#", "["))]
    assert len(spec) > 150 and all(f"| `{name}` |" in out for name in spec)


def test_coverage_table_rewrites_readme_section(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# yota\n\nintro\n\n<!-- coverage:start -->\nstale\n<!-- coverage:end -->\n\nafter\n")
    r = _run_coverage("--readme", str(readme))
    assert r.returncode == 0, r.stderr
    text = readme.read_text()
    assert text.startswith("# yota\n\nintro\n\n<!-- coverage:start -->\n### Array API 2025.12 coverage")
    assert text.endswith("<!-- coverage:end -->\n\nafter\n") and "stale" not in text
    again = _run_coverage("--readme", str(readme))
    assert again.returncode == 0 and readme.read_text() == text  # idempotent

    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    bad = _run_coverage("--readme", str(plain))
    assert bad.returncode != 0 and "coverage:start" in bad.stderr
    assert plain.read_text() == "no markers\n"
