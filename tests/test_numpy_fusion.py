"""NumPy fusion: regions of elementwise ops run as numexpr kernels
(backends/fusion/numexpr.py), switched by yota.backends.numpy.use_fusion.

* the emitter, op by op: every member it claims gives NumPy's dtype, shape,
  NaN and infinity positions and signed zeros, and NumPy's values (exactly,
  or within 4 ulp for the C library's transcendental functions), on inputs
  with NaN, infinities and both zeros, float32 and float64; what it does not
  claim is a fixed list (each left out for a reason in the module docstring);
* the backend end to end: yota.grad with fusion on and off gives the same
  value and gradients (traced, then cached), for the chain, an MLP layer, GELU
  with layer norm; fallback, the size threshold, the switch, the cache;
* the speed check: a region numexpr does not run faster stays NumPy calls
  (these tests otherwise fuse every region planned, ``CHECK_SPEED`` off, so
  that what they check does not depend on this machine's timings).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("numexpr")

from array_api_compat import array_namespace  # noqa: E402

import yota  # noqa: E402
from _helpers import chain, mlp_layer  # noqa: E402
from yota import codegen  # noqa: E402
from yota.backends import numpy as yn  # noqa: E402
from yota.backends.fusion import numexpr as fne  # noqa: E402
from yota.backends.fusion import plan as fplan  # noqa: E402

xpn = yn.namespace
N = yn.FUSION_MIN_SIZE  # arrays this large are fused


@pytest.fixture(autouse=True)
def _fusion_on(monkeypatch):
    prev = yn.use_fusion(True)
    monkeypatch.setattr(yn, "CHECK_SPEED", False)
    yield
    yn.use_fusion(prev)


# --------------------------------------------------------------------------- the emitter, op by op

_SPECIAL = [-0.0, 0.0, math.nan, math.inf, -math.inf, 1.0, -1.0, 0.5, -0.5, 2.5, -3.0, 1e-30, 1e30, 0.999,
            1.001, -1e-8, 7.0]


def _inputs(dtype):
    """x, y covering every pair of special values (-0.0 with 0.0 both ways, NaN
    on either side...) and random values; m a mask; k int32; w float64."""
    rng = np.random.default_rng(7)
    a, b = np.meshgrid(_SPECIAL, _SPECIAL)
    x = np.concatenate([a.ravel(), rng.standard_normal(600) * 3, rng.uniform(-1, 1, 300)]).astype(dtype)
    y = np.concatenate([b.ravel(), rng.standard_normal(600) * 3, rng.uniform(-1, 1, 300)]).astype(dtype)
    m = rng.random(x.shape) > 0.5
    k = rng.integers(-3, 4, x.shape).astype(np.int32)
    w = rng.standard_normal(x.shape)
    return x, y, m, k, w


def _xp(x):
    return array_namespace(x)


# name -> f(x, y, m, k, w): one member (or a few) the emitter claims
CLAIMED = {
    "add": lambda x, y, m, k, w: x + y, "subtract": lambda x, y, m, k, w: x - y,
    "multiply": lambda x, y, m, k, w: x * y, "divide": lambda x, y, m, k, w: x / y,
    "negative": lambda x, y, m, k, w: -x, "square": lambda x, y, m, k, w: _xp(x).square(x),
    "literal_mul": lambda x, y, m, k, w: x * 1.01, "literal_rsub": lambda x, y, m, k, w: 1.01 - x,
    "literal_div": lambda x, y, m, k, w: x / 3.0, "literal_negzero": lambda x, y, m, k, w: x * -0.0 + x * 0.0,
    "literal_int": lambda x, y, m, k, w: x * 3 + 2, "literal_inf": lambda x, y, m, k, w: x + math.inf,
    "less": lambda x, y, m, k, w: x < y, "less_equal": lambda x, y, m, k, w: x <= y,
    "greater": lambda x, y, m, k, w: x > y, "greater_equal": lambda x, y, m, k, w: x >= y,
    "equal": lambda x, y, m, k, w: x == y, "not_equal": lambda x, y, m, k, w: x != y,
    "cmp_literal": lambda x, y, m, k, w: x > 0.5, "cmp_int_float": lambda x, y, m, k, w: k > 0.5,
    "cmp_bools": lambda x, y, m, k, w: m < (x > 0),
    "logical_and": lambda x, y, m, k, w: _xp(x).logical_and(m, x > y),
    "logical_or": lambda x, y, m, k, w: _xp(x).logical_or(m, x > y),
    "logical_xor": lambda x, y, m, k, w: _xp(x).logical_xor(m, x > y),
    "logical_not": lambda x, y, m, k, w: _xp(x).logical_not(x > y),
    "bitwise_bool": lambda x, y, m, k, w: (m & (x > y)) | (~m ^ (y > 0)),
    "bitwise_int": lambda x, y, m, k, w: (k & 3) | (k ^ 1) | ~k,
    **{n: (lambda n: lambda x, y, m, k, w: getattr(_xp(x), n)(x))(n)
       for n in ("exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "sin", "cos", "tan", "asin", "acos",
                 "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "floor", "ceil", "trunc", "round",
                 "abs", "sign", "reciprocal", "isnan", "isinf", "isfinite", "signbit")},
    **{n: (lambda n: lambda x, y, m, k, w: getattr(_xp(x), n)(x, y))(n)
       for n in ("atan2", "hypot", "copysign", "maximum", "minimum")},
    "maximum_literal": lambda x, y, m, k, w: _xp(x).maximum(x, 0.0),
    "minimum_negzero": lambda x, y, m, k, w: _xp(x).minimum(-0.0, x),
    "maximum_int": lambda x, y, m, k, w: _xp(x).maximum(k, 1),
    "pow_2": lambda x, y, m, k, w: x ** 2, "pow_half": lambda x, y, m, k, w: x ** 0.5,
    "pow_minus1": lambda x, y, m, k, w: x ** -1, "pow_3": lambda x, y, m, k, w: x ** 3,
    "pow_1_7": lambda x, y, m, k, w: x ** 1.7, "pow_0": lambda x, y, m, k, w: x ** 0,
    "where": lambda x, y, m, k, w: _xp(x).where(x > y, x, y),
    "where_literal": lambda x, y, m, k, w: _xp(x).where(m, x, -0.0),
    "astype_bool": lambda x, y, m, k, w: _xp(x).astype(x, _xp(x).bool),
    "astype_from_bool": lambda x, y, m, k, w: _xp(x).astype(m, x.dtype) * x,
    "astype_from_int": lambda x, y, m, k, w: _xp(x).astype(k, x.dtype) * x,
    "astype_up": lambda x, y, m, k, w: _xp(x).astype(x, _xp(x).float64) + w,
    "promote": lambda x, y, m, k, w: x * w,
    "int_promote": lambda x, y, m, k, w: k * 0.5 + k / 2,
    "broadcast": lambda x, y, m, k, w: _xp(x).abs(x) * _xp(x).ones_like(x) + _xp(x).zeros_like(x) + 0.25,
    "full_like": lambda x, y, m, k, w: x + _xp(x).full_like(x, -0.0) * y,
}

# The transcendental functions are the C library's in numexpr and NumPy's own
# SIMD code in NumPy: a few units in the last place apart (the most seen is 3).
_APPROX = {"exp", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
           "cosh", "tanh", "asinh", "acosh", "atanh", "atan2", "pow_3", "pow_1_7"}

# What the emitter leaves to NumPy (reasons in backends/fusion/numexpr.py)
LEFT_OUT = {
    "clip": lambda x, y, m, k, w: _xp(x).clip(x, -0.0, 0.0),
    "pow_array": lambda x, y, m, k, w: x ** y,
    "astype_down": lambda x, y, m, k, w: _xp(x).astype(w, _xp(x).float32),
    "int_add": lambda x, y, m, k, w: k + k,
    "int_abs": lambda x, y, m, k, w: _xp(x).abs(k),
    "isnan_int": lambda x, y, m, k, w: _xp(x).isnan(k),
}


def _ordered(a):
    bits = {4: np.int32, 8: np.int64}[a.dtype.itemsize]
    i = a.view(bits).astype(np.int64)
    return np.where(i < 0, np.iinfo(bits).min - i, i)


def assert_as_numpy(got, want, max_ulp=0):
    """Same dtype, shape, NaN positions, infinities and signs of zeros; values
    equal, or within ``max_ulp`` units in the last place."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(np.signbit(got[~nan]), np.signbit(want[~nan]))
    inf = np.isinf(want)
    np.testing.assert_array_equal(got[inf], want[inf])
    finite = ~nan & ~inf
    assert np.isfinite(got[finite]).all()
    ulps = np.abs(_ordered(got[finite]) - _ordered(want[finite]))
    assert ulps.max(initial=0) <= max_ulp, (ulps.max(), got[finite][ulps.argmax()], want[finite][ulps.argmax()])


def _fused_forward(f, args, **plan_kw):
    """(plan, fused outputs, NumPy outputs) of f's forward tape, every region a numexpr kernel."""
    _, tape = yota.trace(f, *args)
    plan = fplan.plan(tape, fne.can_emit, **{"min_ops": 1, "max_params": fne.NumexprEmitter.max_params, **plan_kw})
    fused = fplan.rewrite(tape, plan, fne.compile_region)
    got = codegen.compile_tape(fused, "trace")(xpn, yn, *args)
    want = codegen.compile_tape(tape, "trace")(xpn, yn, *args)
    return plan, got, want


_SPECIAL_INPUTS = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN and inf inputs, on purpose


@_SPECIAL_INPUTS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CLAIMED))
def test_every_claimed_member_is_numpy(name, dtype):
    args = _inputs(dtype)
    plan, got, want = _fused_forward(CLAIMED[name], args)
    assert len(plan.regions) == 1, plan
    assert len(plan.regions[0].exprs) == sum(1 for op in yota.trace(CLAIMED[name], *args)[1].ops
                                             if op.kind == "call"), plan  # every op of the tape fused
    assert_as_numpy(got[0], want[0], 4 if name in _APPROX else 0)


@_SPECIAL_INPUTS
@pytest.mark.parametrize("name", sorted(LEFT_OUT))
def test_what_numexpr_cannot_write_exactly_stays_a_numpy_call(name):
    args = _inputs(np.float32)
    plan, got, want = _fused_forward(LEFT_OUT[name], args)
    assert plan.regions == [], plan
    assert_as_numpy(got[0], want[0])


def test_cbrt_is_left_out():
    # (yota has no rule for cbrt, so no traced tape holds it: the member itself)
    e = fplan.Expr(2, "cbrt", (("v", 1),), "float64", (4,), "float64", ("float64",))
    assert not fne.can_emit(e)
    assert fne.can_emit(fplan.Expr(2, "sin", (("v", 1),), "float64", (4,), "float64", ("float64",)))


def test_claimed_functions_cover_the_planners():
    """Every function the planner knows is either tested above or left out on purpose."""
    named = {n.split("_")[0] for n in CLAIMED if n.startswith(("pow", "astype", "maximum", "minimum"))}
    named |= set(CLAIMED) | {n.split("_")[0] for n in LEFT_OUT}
    covered = named | {"cbrt", "positive", "broadcast_to", "ones_like", "zeros_like", "full_like",
                       "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_invert"}
    assert set(fplan.CATEGORY) - covered == set()


def test_float32_literals_stay_float32():
    x = np.linspace(-1, 1, 64, dtype=np.float32)
    plan, got, want = _fused_forward(lambda x: x * 1.01 + 0.1 - x / 3.0, (x,))
    assert got[0].dtype == np.float32
    np.testing.assert_array_equal(got[0], want[0])  # float64 literals would round differently


def test_a_long_chain_is_cut_into_bounded_programs():
    def deep(x):
        xp = array_namespace(x)
        for _ in range(30):
            x = xp.sin(x) * 0.9 + x * 0.2  # x is used twice: the expanded tree doubles each step
        return x

    x = np.linspace(-2, 2, 200)
    plan, got, want = _fused_forward(deep, (x,))
    assert len(plan.regions) == 1
    kernel = fne.compile_region(plan.regions[0])
    assert 2 < len(kernel.steps) < 30  # temporaries, far fewer than one per op
    assert_as_numpy(got[0], want[0], 64)  # 30 steps of sin, each a few ulp apart


def test_outputs_of_broadcast_and_constant_members():
    # a region whose outputs include a copy of an input broadcast to the region's shape and a constant
    def f(x, r):
        xp = array_namespace(x)
        b = xp.broadcast_to(r, x.shape)
        return xp.sin(x) + b, b, xp.full_like(x, -0.0), xp.ones_like(x) * 2.0

    x = np.linspace(-1, 1, 12).reshape(3, 4)
    r = np.array([[-0.0, 1.0, np.nan, 2.0]])
    _, got, want = _fused_forward(f, (x, r))
    for g, w in zip(got, want):
        assert_as_numpy(g, w)


# --------------------------------------------------------------------------- the backend end to end

def gelu_layernorm(x, g, b):
    xp = array_namespace(x)
    h = 0.5 * x * (1.0 + xp.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))
    mu = xp.mean(h, axis=-1, keepdims=True)
    d = h - mu
    var = xp.mean(d * d, axis=-1, keepdims=True)
    y = d / xp.sqrt(var + 1e-5) * g + b
    return xp.sum(y * y)


def _workloads(dtype):
    rng = np.random.default_rng(0)
    yield "chain", chain, (rng.uniform(-2, 2, N).astype(dtype),)
    B, D, H = 256, 64, 160  # the hidden layer: 256 * 160 elements, above the threshold
    yield "mlp_layer", mlp_layer, ((rng.standard_normal((D, H)) / 8).astype(dtype),
                                   rng.standard_normal(H).astype(dtype), rng.standard_normal((B, D)).astype(dtype))
    yield "gelu_layernorm", gelu_layernorm, (rng.standard_normal((256, 192)).astype(dtype),
                                             rng.standard_normal(192).astype(dtype),
                                             rng.standard_normal(192).astype(dtype))


WORKLOADS = [(name, f, args, dt) for dt in (np.float32, np.float64) for name, f, args in _workloads(dt)]


def _leaves(out):
    value, grads = out
    return [value] + [g for g in grads[1:]]


def _kernels(tape):
    return [c for c in tape.consts if isinstance(c, fne.NumexprKernel)]


@pytest.mark.parametrize("name,f,args,dtype", WORKLOADS, ids=[f"{w[0]}-{w[3].__name__}" for w in WORKLOADS])
def test_fused_grad_is_the_unfused_grad(name, f, args, dtype):
    yota.reset()
    assert _kernels(yn.transform(yota.gradtape(f, *args)))  # the workload is fused
    fused = [_leaves(yota.grad(f, *args)) for _ in range(2)]  # traced, then cached
    assert yota.cache_info()["hits"] >= 1
    yn.use_fusion(False)
    assert not _kernels(yn.transform(yota.gradtape(f, *args)))
    plain = _leaves(yota.grad(f, *args))
    # chains of transcendental functions, a few ulp apart each, then sums
    rtol = 1e-4 if dtype == np.float32 else 1e-11
    for run in fused:
        for g, w in zip(run, plain):
            g, w = np.asarray(g), np.asarray(w)
            assert g.dtype == w.dtype == dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * np.abs(w).max())


def test_chain_is_two_kernels_and_reuse_leaves_them_alone():
    x = np.linspace(-2, 2, N)
    tape = yn.transform(yota.gradtape(chain, x))
    assert len(_kernels(tape)) == 2  # forward and backward
    src = codegen.generate(tape)
    assert "out=" not in src  # every elementwise op is in a kernel: nothing left for buffer reuse


def test_small_regions_stay_numpy_calls_with_buffer_reuse():
    from yota.backends import _reuse
    x = np.linspace(-2, 2, max(_reuse.MIN_SIZE, N // 2))  # below the fusion threshold, above reuse's
    tape = yn.transform(yota.gradtape(chain, x))
    assert not _kernels(tape)
    assert "out=" in codegen.generate(tape)
    big = yn.transform(yota.gradtape(chain, np.linspace(-2, 2, N)))
    assert _kernels(big)


def test_an_op_numexpr_lacks_splits_the_region_and_stays_a_numpy_call():
    def f(x):
        xp = array_namespace(x)
        y = xp.sin(x) * 2.0 + 1.0
        z = xp.clip(y, -0.5, 2.0) * 3.0 - x  # clip: not fused
        return xp.sum(xp.exp(-z * z) * y)

    x = np.linspace(-2, 2, N)
    tape = yn.transform(yota.gradtape(f, x))
    assert any(op.fn == "clip" for op in tape.ops)
    assert len(_kernels(tape)) >= 2
    got = _leaves(yota.grad(f, x))
    yn.use_fusion(False)
    want = _leaves(yota.grad(f, x))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


@_SPECIAL_INPUTS
def test_fused_results_keep_nan_and_signed_zeros():
    def f(x):
        xp = array_namespace(x)
        return xp.maximum(x, 0.0) * 2.0 + xp.where(x > 1.0, -0.0, x * 0.0)

    x = np.resize(np.array([-0.0, 0.0, np.nan, -1.0, 2.0, np.inf, -np.inf]), N)
    val, g = yota.grad(f, x, seed=np.ones(N))
    yn.use_fusion(False)
    val2, g2 = yota.grad(f, x, seed=np.ones(N))
    assert_as_numpy(val, val2)
    assert_as_numpy(g[1], g2[1])


def test_switch_resets_the_cache_and_reset_empties_the_kernel_cache():
    x = np.linspace(-2, 2, N)
    yota.reset()
    yota.grad(chain, x)
    yota.grad(chain, x)  # compiled (and fused) on its first reuse
    assert fne.cache_size() > 0
    traces = yota.cache_info()["traces"]
    assert yn.use_fusion(False) is True
    assert yota.cache_info()["entries"] == 0  # settings_changed emptied yota's cache
    yota.grad(chain, x)
    assert yota.cache_info()["traces"] == 1 <= traces
    yn.use_fusion(True)
    yota.grad(chain, x)
    yota.reset()
    assert fne.cache_size() == 0


def test_kernel_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(fne, "MAX_PROGRAMS", 3)
    fne.clear()
    for c in (1.5, 2.5, 3.5, 4.5, 5.5):
        _fused_forward(lambda x, c=c: array_namespace(x).sin(x) * c, (np.ones(8),))
    assert fne.cache_size() == 3
    fne.clear()


def test_programs_are_compiled_once_per_expression_and_signature():
    fne.clear()
    for n in (8, 80):  # another shape: the same programs
        _fused_forward(chain, (np.linspace(-1, 1, n),))
    k = fne.cache_size()
    _fused_forward(chain, (np.linspace(-1, 1, 8, dtype=np.float32),))  # another dtype: new ones
    assert fne.cache_size() == 2 * k


def test_numpy_error_modes_that_act_run_the_numpy_calls():
    # numexpr reports no floating-point errors: under np.errstate(...="raise") the kernel
    # runs the region's NumPy calls instead, so the error is raised as without fusion
    def f(x):
        xp = array_namespace(x)
        return xp.sum(xp.log(x) * 2.0 + x * x)

    x = np.linspace(0.5, 2, N)
    tape = yn.transform(yota.gradtape(f, x))
    assert _kernels(tape)
    want = _leaves(yota.grad(f, x))
    with np.errstate(invalid="raise", divide="raise"):
        got = _leaves(yota.grad(f, x))  # no error in range: the same result
        with pytest.raises(FloatingPointError):
            yota.grad(f, -x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13)
    with np.errstate(all="ignore"):
        val, _ = yota.grad(f, -x)  # fused again: NaN, as NumPy gives
    assert np.isnan(val)


def test_array_subclasses_run_the_numpy_calls():
    # numexpr reads a masked array's data and drops its mask; the kernel runs the region's NumPy calls instead
    def f(x):
        xp = array_namespace(x)
        return xp.sum(xp.sin(x) * 2.0 + x * x)

    x = np.linspace(0, 1, N)
    tape = yota.gradtape(f, x)
    plan = yn.fusion_plan(tape)
    (kernel, *_) = _kernels(yn.transform(tape))
    region = next(r for r in plan.regions if r.name == kernel.name)
    reference = codegen.compile_tape(fplan.region_tape(tape, region), "region")
    inputs = [np.ma.masked_array(x, mask=np.arange(N) % 3 == 0) if v in tape.inputs else
              np.full(region.shapes[v], 0.5) for v in region.inputs]
    got = kernel(*inputs)
    want = reference(xpn, yn, *inputs)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want):
        assert isinstance(g, np.ma.MaskedArray)
        np.testing.assert_array_equal(np.ma.getmaskarray(g), np.ma.getmaskarray(w))
        np.testing.assert_array_equal(g.filled(0), w.filled(0))


# --------------------------------------------------------------------------- the speed check

def _gelu_sum(x):
    xp = array_namespace(x)
    return xp.sum(0.5 * x * (1.0 + xp.tanh(0.79788456 * (x + 0.044715 * x ** 3))))


def test_a_region_that_does_not_pay_off_stays_numpy_calls_with_buffer_reuse(monkeypatch):
    monkeypatch.setattr(yn, "CHECK_SPEED", True)
    monkeypatch.setattr(fne, "pays_off", lambda kernel: False)
    yota.reset()
    x = np.random.default_rng(0).standard_normal(N)
    tape = yota.gradtape(_gelu_sum, x)
    out = yn.transform(tape)
    assert not _kernels(out)
    assert len(out.ops) == len(yn.reuse_buffers(tape, lambda name: getattr(np, name)).ops)
    assert any("out" in op.kwargs for op in out.ops)  # the region's ops reuse dead buffers
    for v in (x, x[::-1].copy(), x + 1):  # traced, then compiled, then cached
        _, (_, got) = yota.grad(_gelu_sum, v)
        np.testing.assert_allclose(got, 0.5 * (1 + np.tanh(0.79788456 * (v + 0.044715 * v ** 3)))
                                   + 0.5 * v * (1 - np.tanh(0.79788456 * (v + 0.044715 * v ** 3)) ** 2)
                                   * 0.79788456 * (1 + 3 * 0.044715 * v ** 2), rtol=1e-12, atol=1e-15)


def test_the_speed_verdict_is_timed_once_per_region_signature(monkeypatch):
    monkeypatch.setattr(yn, "CHECK_SPEED", True)
    yota.reset()
    timed = []
    real = fne._best
    monkeypatch.setattr(fne, "_best", lambda fn, args, reps=3: timed.append(fn) or real(fn, args, reps))
    x = np.random.default_rng(0).standard_normal(N)
    tape = yota.gradtape(_gelu_sum, x)
    yn.transform(tape)
    first = len(timed)
    assert first > 0
    yn.transform(yota.gradtape(_gelu_sum, x + 1))  # the same regions: their verdicts are kept
    assert len(timed) == first
    yota.reset()  # drops the verdicts with the compiled programs
    yn.transform(tape)
    assert len(timed) == 2 * first


def test_a_function_numexpr_computes_slowly_stays_a_numpy_call_between_fused_ops(monkeypatch):
    monkeypatch.setattr(yn, "CHECK_SPEED", True)
    monkeypatch.setattr(fne, "pays_off", lambda kernel: True)  # (the region check: not this test's subject)
    monkeypatch.setattr(fne, "_time_function", lambda fn, dtype, arity: fn != "tanh")
    yota.reset()
    x = np.random.default_rng(0).standard_normal(N)
    tape = yota.gradtape(_gelu_sum, x)
    plan = yn.fusion_plan(tape)
    members = [e.fn for r in plan.regions for e in r.exprs]
    assert "tanh" not in members and "multiply" in members  # the arithmetic around it still fuses
    out = yn.transform(tape)
    assert _kernels(out) and any(op.fn == "tanh" for op in out.ops)
    for v in (x, x[::-1].copy(), x + 1):  # traced, then compiled, then cached
        _, (_, got) = yota.grad(_gelu_sum, v)
        t = np.tanh(0.79788456 * (v + 0.044715 * v ** 3))
        np.testing.assert_allclose(got, 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * 0.79788456
                                   * (1 + 3 * 0.044715 * v ** 2), rtol=1e-12, atol=1e-15)
    # and with the check off, every member numexpr can write exactly fuses
    monkeypatch.setattr(yn, "CHECK_SPEED", False)
    assert "tanh" in [e.fn for r in yn.fusion_plan(tape).regions for e in r.exprs]


def test_each_function_is_timed_once_per_dtype(monkeypatch):
    yota.reset()
    timed = []
    real = fne._time_function
    monkeypatch.setattr(fne, "_time_function", lambda fn, dtype, arity: timed.append((fn, dtype)) or real(fn, dtype, arity))
    e64 = fplan.Expr(2, "sin", (("v", 1),), "float64", (4,), "float64", ("float64",))
    e32 = fplan.Expr(2, "sin", (("v", 1),), "float32", (4,), "float32", ("float32",))
    add = fplan.Expr(2, "add", (("v", 1), ("v", 1)), "float64", (4,), "float64", ("float64", "float64"))
    for _ in range(3):
        assert isinstance(fne.keeps_up(e64), bool) and isinstance(fne.keeps_up(e32), bool)
        assert fne.keeps_up(add)  # arithmetic is never timed
    assert timed == [("sin", "float64"), ("sin", "float32")]
    yota.reset()  # drops the verdicts with the compiled programs
    fne.keeps_up(e64)
    assert timed[-1] == ("sin", "float64") and len(timed) == 3
