"""The elementwise-fusion planner (backends/fusion/plan.py) and its CUDA C
emitter (backends/fusion/cuda.py), on the CPU.

The CuPy backend turns each planned region into a ``cupy.ElementwiseKernel``;
here the plan is checked without a GPU (the numexpr emitter has its own file,
tests/test_numpy_fusion.py):

* structure: which ops fuse, what splits regions, inputs/outputs, dtypes of
  the emitted C; what the emitter cannot express stays a plain call;
* numerics: the rewritten tape runs on NumPy with each region executed by a
  NumPy interpreter of its expressions (``Region.exprs``) and, where a C++
  compiler exists, by the emitted C body compiled for the host; both must
  match the unfused tape;
* the emitted kernels compile with nvcc (``-ptx``) where the CUDA toolkit is
  installed.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess

import numpy as np
import pytest

from array_api_compat import array_namespace

import yota
from _helpers import chain, mlp_layer
from yota import codegen
from yota.backends.fusion import cuda
from yota.backends.fusion import plan as fplan
from yota.backends import numpy as np_ext

xp = np_ext.namespace  # runs compiled tapes; traced functions take array_namespace(x)


def cplan(tape, **kw):
    """The plan the CuPy backend makes: what the CUDA C emitter can write."""
    return fplan.plan(tape, cuda.can_emit, **kw)


# --------------------------------------------------------------------------- workloads

def mlp(W1, b1, W2, b2, X, Y):
    xp = array_namespace(X)
    H = xp.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    Z = Z - xp.max(Z, axis=1, keepdims=True)
    logp = Z - xp.log(xp.sum(xp.exp(Z), axis=1, keepdims=True))
    return -xp.sum(Y * logp) / X.shape[0]


def mlp_args(rng, dtype=np.float32, B=8, sizes=(6, 5, 4)):
    W1 = (rng.standard_normal(sizes[:2]) / 2).astype(dtype)
    b1 = (rng.standard_normal(sizes[1]) / 4).astype(dtype)
    W2 = (rng.standard_normal(sizes[1:]) / 2).astype(dtype)
    b2 = (rng.standard_normal(sizes[2]) / 4).astype(dtype)
    X = rng.standard_normal((B, sizes[0])).astype(dtype)
    Y = np.eye(sizes[2], dtype=dtype)[rng.integers(0, sizes[2], B)]
    return W1, b1, W2, b2, X, Y


# --------------------------------------------------------------------------- executing plans on the CPU

_NP_UNARY = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "log2": np.log2,
             "log10": np.log10, "sqrt": np.sqrt, "cbrt": np.cbrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
             "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
             "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
             "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "round": np.rint,
             "negative": np.negative, "positive": np.positive, "square": np.square, "abs": np.abs,
             "sign": np.sign, "reciprocal": np.reciprocal, "logical_not": np.logical_not,
             "bitwise_invert": np.invert, "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
             "signbit": np.signbit}
_NP_BINARY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
              "less": np.less, "less_equal": np.less_equal, "greater": np.greater,
              "greater_equal": np.greater_equal, "equal": np.equal, "not_equal": np.not_equal,
              "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor,
              "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor,
              "atan2": np.arctan2, "hypot": np.hypot, "copysign": np.copysign, "pow": np.power,
              "maximum": np.maximum, "minimum": np.minimum}


def interpret(region, *args):
    """Run a region with NumPy, following its Expr IR (computation dtype ``ct``
    per op, literals cast to it), on inputs broadcast to the region's shape."""
    env = {v: np.broadcast_to(np.asarray(a), region.shape) for v, a in zip(region.inputs, args)}

    def val(o, ct):
        if o is None:
            return None
        if o[0] == "k":
            return np.asarray(o[1]).astype(ct)[()]
        return env[o[1]].astype(ct, copy=False)

    with np.errstate(all="ignore"):
        for e in region.exprs:
            ops = [val(o, e.ct) for o in e.operands]
            fn = e.fn
            if fn in ("ones_like", "zeros_like"):
                r = np.full(region.shape, 1 if fn == "ones_like" else 0, e.dtype)
            elif fn == "full_like":
                r = np.full(region.shape, e.operands[0][1], e.dtype)
            elif fn == "broadcast_to":
                r = ops[0]
            elif fn == "astype":
                r = env[e.operands[0][1]].astype(e.dtype)
            elif fn == "where":
                c = e.operands[0]
                cond = bool(c[1]) if c[0] == "k" else env[c[1]].astype(bool)
                r = np.where(cond, ops[1], ops[2])
            elif fn == "clip":
                r = ops[0]
                if ops[1] is not None:
                    r = np.maximum(r, ops[1])
                if ops[2] is not None:
                    r = np.minimum(r, ops[2])
            elif fn in _NP_UNARY:
                r = _NP_UNARY[fn](ops[0])
            else:
                r = _NP_BINARY[fn](ops[0], ops[1])
            env[e.var] = np.broadcast_to(np.asarray(r).astype(e.dtype), region.shape)
    outs = [np.array(env[v], copy=True) for v in region.outputs]
    return outs[0] if len(outs) == 1 else tuple(outs)


class Interpreted:
    def __init__(self, region):
        self.region = region

    def __call__(self, *args):
        return interpret(self.region, *args)


def run_tape(tape, leaves):
    fn = codegen.compile_tape(tape, "grad")
    return fn(xp, np_ext, *leaves)


def assert_same(got, want, rtol):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(w, (yota.ZeroTangent, yota.NoTangent)):
            assert type(g) is type(w)
            continue
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)


# ---- the emitted C, compiled for the host (g++) ------------------------------------------

_HOST_PRELUDE = r"""
#include <cmath>
#include <cstring>
using std::isnan; using std::isinf; using std::isfinite; using std::signbit;
static inline float __int_as_float(int x) { float f; std::memcpy(&f, &x, 4); return f; }
static inline double __longlong_as_double(long long x) { double f; std::memcpy(&f, &x, 8); return f; }
"""


def _wrapper(region, device):
    src = cuda.source(region)
    params = []
    loads = []
    for v in region.inputs:
        t = cuda.C_TYPES[region.dtypes[v]]
        params.append(f"const {t}* p_v{v}")
        loads.append(f"const {t} v{v} = p_v{v}[_i];")
    for v in region.outputs:
        t = cuda.C_TYPES[region.dtypes[v]]
        params.append(f"{t}* p_o{v}")
        loads.append(f"{t}& o{v} = p_o{v}[_i];")
    sig = ", ".join(["long long n"] + params)
    body = "\n      ".join(loads + ["{"] + src.body.splitlines() + ["}"])
    if device:
        return (f'extern "C" __global__ void {src.name}({sig}) {{\n'
                f"  long long _i = blockIdx.x * (long long)blockDim.x + threadIdx.x;\n"
                f"  if (_i < n) {{\n      {body}\n  }}\n}}\n")
    return (f'extern "C" void {src.name}({sig}) {{\n'
            f"  for (long long _i = 0; _i < n; ++_i) {{\n      {body}\n  }}\n}}\n")


class HostKernels:
    """Every region of some plans compiled into one shared library."""

    def __init__(self, regions, tmp):
        regions = list({cuda.source(r).name: r for r in regions}.values())
        src = _HOST_PRELUDE + "\n".join(_wrapper(r, device=False) for r in regions)
        path = os.path.join(tmp, "fused.cpp")
        with open(path, "w") as f:
            f.write(src)
        lib = os.path.join(tmp, "fused.so")
        proc = subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", lib, path],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-4000:] + "\n" + src[:4000]
        self.lib = ctypes.CDLL(lib)

    def call(self, region):
        fn = getattr(self.lib, cuda.source(region).name)

        def run(*args):
            ins = [np.array(np.broadcast_to(np.asarray(a, dtype=region.dtypes[v]), region.shape), order="C")
                   for v, a in zip(region.inputs, args)]
            outs = [np.empty(region.shape, region.dtypes[v]) for v in region.outputs]
            n = int(np.prod(region.shape, dtype=np.int64))
            fn(ctypes.c_longlong(n), *[a.ctypes.data_as(ctypes.c_void_p) for a in ins + outs])
            return outs[0] if len(outs) == 1 else tuple(outs)

        return run


needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="no host C++ compiler")


def _nvcc():
    for p in (shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if p and os.path.exists(p):
            return p
    return None


# --------------------------------------------------------------------------- structure

def test_chain_forward_and_backward_are_one_kernel_each():
    x = np.linspace(-2, 2, 64, dtype=np.float32)
    tape = yota.gradtape(chain, x)
    plan = cplan(tape)
    assert len(plan.regions) == 2, plan
    fwd, bwd = plan.regions
    assert fwd.fns.count("sin") == 6 and "cos" not in fwd.fns
    assert len(fwd.exprs) == 24
    assert bwd.fns.count("cos") == 6 and "sin" not in bwd.fns
    assert tuple(fwd.inputs) == tape.inputs  # reads x only
    # the value feeding sum, and what the backward pass needs, are handed out
    sum_op = next(op for op in tape.ops if op.fn == "sum")
    assert sum_op.args[0].id in fwd.outputs
    assert set(bwd.inputs) - {v for v in bwd.inputs if v in fwd.outputs} <= set(tape.inputs) | {
        op.out for op in tape.ops if op.fn == "reshape"}
    assert bwd.outputs == [tape.outputs[1].id]  # the gradient
    assert all(fn not in ("sum", "reshape") for r in plan.regions for fn in r.fns)
    # float32: float math only, Python scalars cast to float
    for r in plan.regions:
        c = cuda.source(r)
        assert "double" not in c.body and "float32" in c.in_params + c.out_params
    assert "sinf(v1)" in cuda.source(fwd).body and "((float)1.01)" in cuda.source(fwd).body
    assert "((float)0.5)" in cuda.source(fwd).body and "cosf(" in cuda.source(bwd).body


def test_float64_gives_double_kernels():
    x = np.linspace(-2, 2, 64)
    plan = cplan(yota.gradtape(chain, x))
    fwd = cuda.source(plan.regions[0])
    assert "const double v2 = sin(v1);" in fwd.body and "sinf" not in fwd.body
    assert "((double)1.01)" in fwd.body and "float" not in fwd.body.replace("float64", "")
    assert fwd.in_params == "float64 v1"


def test_rewritten_tape_calls_kernels_and_keeps_the_rest():
    x = np.linspace(-2, 2, 64, dtype=np.float32)
    tape = yota.gradtape(chain, x)
    before = tape.render()
    plan = cplan(tape)
    new = fplan.rewrite(tape, plan, Interpreted)
    assert tape.render() == before  # the user's tape is not changed
    fns = [op.fn_name() for op in new.ops]
    assert sum(1 for f in fns if f.startswith("yota_fused")) == 2
    fused = {p for r in plan.regions for p in r.positions}
    kept = [op.fn_name() for i, op in enumerate(tape.ops) if i not in fused]
    assert "sum" in kept and kept == [f for f in fns if not f.startswith("yota_fused")]
    src = codegen.generate(new)
    assert "k0(v1)" in src  # a fused call is a call of its constant-table entry
    text = new.render()
    assert "fused 24: sin multiply multiply add" in text


def test_mlp_layer_matmul_and_sum_split_regions():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((6, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    X = rng.standard_normal((8, 6)).astype(np.float32)
    tape = yota.gradtape(mlp_layer, W, b, X)
    plan = cplan(tape)
    for r in plan.regions:
        assert not {"matmul", "sum", "matrix_transpose", "reshape"} & set(r.fns)
    fwd = plan.regions[0]
    assert fwd.fns[:2] == ["add", "tanh"], plan
    assert fwd.shape == (8, 5)
    matmul_out = next(op.out for op in tape.ops if op.fn == "matmul")
    assert fwd.inputs[0] == matmul_out and fwd.inputs[1] == tape.inputs[1]  # b broadcast in the kernel
    assert fwd.shapes[tape.inputs[1]] == (5,)
    # backward: 1 - tanh^2 times the incoming cotangent is one kernel
    bwd = [r for r in plan.regions if r.fns.count("multiply") >= 2 and "subtract" in r.fns]
    assert bwd, plan


def test_mlp_softmax_row_statistics_are_recomputed_in_kernels():
    args = mlp_args(np.random.default_rng(1))
    tape = yota.gradtape(mlp, *args)
    plan = cplan(tape)
    # log(row sum) (shape (B, 1)) is computed inside the (B, N) kernel that uses it
    r = next(r for r in plan.regions if "log" in r.fns)
    log_expr = next(e for e in r.exprs if e.fn == "log")
    assert log_expr.shape == (8, 1) and r.shape == (8, 4)
    assert log_expr.var not in r.outputs
    for reg in plan.regions:
        for v in reg.outputs:
            assert next(e for e in reg.exprs if e.var == v).shape == reg.shape


def test_single_ops_are_left_alone():
    x = np.ones(5, np.float32)
    plan = cplan(yota.gradtape(lambda x: array_namespace(x).sum(x * 2.0), x))
    assert plan.regions == []


def test_guards_close_regions():
    def f(x):
        xp = array_namespace(x)
        y = xp.sin(x) * 2.0
        if xp.sum(y) > -100:  # a guard
            y = xp.cos(y) + 1.0
        return xp.sum(y * y)

    x = np.linspace(0, 1, 16)
    tape = yota.gradtape(f, x)
    plan = cplan(tape)
    guard_pos = next(i for i, op in enumerate(tape.ops) if op.kind == "guard")
    for r in plan.regions:
        assert all(p < guard_pos for p in r.positions) or all(p > guard_pos for p in r.positions)
    got = run_tape(fplan.rewrite(tape, plan, Interpreted), [x])
    want = run_tape(tape, [x])
    assert_same(got, want, 1e-12)


def test_kernel_key_depends_on_dtypes_and_source():
    x32 = np.linspace(-1, 1, 8, dtype=np.float32)
    p1 = cplan(yota.gradtape(chain, x32))
    p2 = cplan(yota.gradtape(chain, np.linspace(-3, 3, 100, dtype=np.float32)))
    p3 = cplan(yota.gradtape(chain, x32.astype(np.float64)))
    key = [cuda.source(r).key for r in p1.regions]
    assert key == [cuda.source(r).key for r in p2.regions]  # shape is not in the source
    assert [r.name for r in p1.regions] == [r.name for r in p2.regions]  # nor in the region's name
    assert {r.name for r in p1.regions}.isdisjoint(r.name for r in p3.regions)
    assert {cuda.source(r).name for r in p1.regions}.isdisjoint(cuda.source(r).name for r in p3.regions)


# --------------------------------------------------------------------------- numerics

def _cases():
    rng = np.random.default_rng(3)
    x32 = np.linspace(-2, 2, 64, dtype=np.float32)
    yield "chain32", chain, (x32,), 2e-5
    yield "chain64", chain, (x32.astype(np.float64),), 1e-12
    W = rng.standard_normal((6, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    X = rng.standard_normal((8, 6)).astype(np.float32)
    yield "layer", mlp_layer, (W, b, X), 2e-5
    yield "mlp32", mlp, mlp_args(rng), 2e-5
    yield "mlp64", mlp, mlp_args(rng, np.float64), 1e-12

    def misc(x, y):
        xp = array_namespace(x)
        a = xp.where(x > 0, x * 2.0, -x) + xp.maximum(x, y) - xp.minimum(x, 0.25)
        c = xp.clip(a, -1.5, 1.5) + xp.abs(y) ** 3 + xp.sqrt(x * x + 1.0) / (1.0 + y * y)
        d = xp.exp(xp.tanh(c)) + xp.log1p(x * x) + xp.astype(x > y, x.dtype) * 0.5
        return xp.sum(d * xp.cosh(y / 4) + xp.atan2(x, y + 3.0) + xp.expm1(-xp.abs(x)))

    x = rng.standard_normal((4, 5))
    y = rng.standard_normal(5)
    yield "misc64", misc, (x, y), 1e-12
    yield "misc32", misc, (x.astype(np.float32), y.astype(np.float32)), 3e-5

    def mixed(x, y):  # float32 with float64: promotes
        xp = array_namespace(x)
        return xp.sum(xp.sin(x) * y + x * 3)

    yield "mixed", mixed, (x.astype(np.float32), y), 1e-6

    def intcmp(x, k):  # integer and bool operands compared with Python scalars of other kinds
        xp = array_namespace(x)
        m = (k > 0.5) | (k == 1) | (xp.astype(k, xp.bool) == 1)
        return xp.sum(xp.where(m, xp.sin(x), x * 2.0) * 3.0 + xp.astype(k, x.dtype) * 0.5)

    def npscalars(x):  # NumPy scalars as operands (np.float64 is a float subclass with a non-C repr)
        xp = array_namespace(x)
        return xp.sum(np.float64(2.0) * xp.sin(x) + x * np.float32(0.5) - xp.maximum(x, np.int64(0)))

    yield "npscalars", npscalars, (np.linspace(-1, 1, 7),), 1e-12
    yield "intcmp", intcmp, (np.linspace(-1, 1, 6), np.array([0, 1, 2, 0, 1, 3])), 1e-12


_OPS1 = [lambda xp, a: xp.sin(a), lambda xp, a: xp.cos(a), lambda xp, a: xp.tanh(a), lambda xp, a: xp.exp(xp.tanh(a)),
         lambda xp, a: xp.log(1.0 + a * a), lambda xp, a: xp.sqrt(a * a + 0.5), lambda xp, a: -a, lambda xp, a: a * a,
         lambda xp, a: xp.abs(a) + 0.1, lambda xp, a: a ** 2, lambda xp, a: xp.clip(a, -0.7, 0.8),
         lambda xp, a: xp.where(a > 0.1, a, a * 0.3), lambda xp, a: 2.0 - a, lambda xp, a: a / 3.0,
         lambda xp, a: xp.sinh(a / 2), lambda xp, a: xp.atan(a)]
_OPS2 = [lambda xp, a, b: a + b, lambda xp, a, b: a - b, lambda xp, a, b: a * b, lambda xp, a, b: a / (1.5 + b * b),
         lambda xp, a, b: xp.maximum(a, b), lambda xp, a, b: xp.minimum(a, b), lambda xp, a, b: xp.where(a > b, a, b * 0.5),
         lambda xp, a, b: xp.hypot(a, b)]


def random_program(seed):
    """A random elementwise composition over x (4, 5), row r (1, 5) and column c (4, 1)."""
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(int(rng.integers(4, 12))):
        if rng.random() < 0.55:
            steps.append((1, int(rng.integers(len(_OPS1))), int(rng.integers(0, 100))))
        else:
            steps.append((2, int(rng.integers(len(_OPS2))), int(rng.integers(0, 100))))

    def f(x, r, c):
        xp = array_namespace(x)
        vals = [x, r, c]
        for kind, k, pick in steps:
            if kind == 1:
                vals.append(_OPS1[k](xp, vals[pick % len(vals)]))
            else:
                vals.append(_OPS2[k](xp, vals[pick % len(vals)], vals[-1]))
        out = vals[-1] + vals[-2] * 0.5
        return xp.sum(out * out) + xp.sum(vals[len(vals) // 2])

    return f


def _arrays(seed, dtype):
    rng = np.random.default_rng(seed + 1000)
    return (rng.standard_normal((4, 5)).astype(dtype), rng.standard_normal((1, 5)).astype(dtype),
            rng.standard_normal((4, 1)).astype(dtype))


ALL_CASES = list(_cases())


@pytest.mark.parametrize("name,f,args,rtol", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_interpreted_plan_matches_unfused(name, f, args, rtol):
    tape = yota.gradtape(f, *args)
    plan = cplan(tape)
    assert plan.regions
    got = run_tape(fplan.rewrite(tape, plan, Interpreted), list(args))
    assert_same(got, run_tape(tape, list(args)), rtol)


@pytest.mark.parametrize("seed", range(24))
def test_random_compositions_interpreted(seed):
    f = random_program(seed)
    dtype = np.float32 if seed % 2 else np.float64
    args = _arrays(seed, dtype)
    tape = yota.gradtape(f, *args)
    plan = cplan(tape)
    got = run_tape(fplan.rewrite(tape, plan, Interpreted), list(args))
    assert_same(got, run_tape(tape, list(args)), 3e-5 if dtype == np.float32 else 1e-11)


@needs_gxx
def test_emitted_c_matches_unfused_on_the_host(tmp_path):
    """The C bodies themselves, compiled with g++ (host libm in place of CUDA's)."""
    items = [(c[1], c[2], c[3]) for c in ALL_CASES]
    for seed in range(24):
        dtype = np.float32 if seed % 2 else np.float64
        items.append((random_program(seed), _arrays(seed, dtype), 3e-5 if dtype == np.float32 else 1e-11))
    tapes = [(yota.gradtape(f, *args), args, rtol) for f, args, rtol in items]
    plans = [cplan(t) for t, _, _ in tapes]
    lib = HostKernels([r for p in plans for r in p.regions], str(tmp_path))
    for (tape, args, rtol), plan in zip(tapes, plans):
        got = run_tape(fplan.rewrite(tape, plan, lib.call), list(args))
        assert_same(got, run_tape(tape, list(args)), rtol)


def _every_emitter_region(dtype):
    """A forward tape using every fusible function, with finite results."""
    def f(x, y, m):
        xp = array_namespace(x)
        a = xp.exp(x) + xp.expm1(x) + xp.log(xp.abs(x) + 1) + xp.log1p(xp.abs(x)) + xp.log2(y * y + 1)
        a = a + xp.log10(y * y + 2) + xp.sqrt(xp.abs(y)) + xp.sin(x) + xp.cos(y) + xp.tan(x / 4)
        a = a + xp.asin(xp.tanh(x)) + xp.acos(xp.tanh(y)) + xp.atan(x) + xp.sinh(y / 3) + xp.cosh(x / 3)
        a = a + xp.asinh(y) + xp.acosh(xp.abs(x) + 1) + xp.atanh(xp.tanh(y) * 0.5)
        a = a + xp.floor(x) + xp.ceil(y) + xp.trunc(x * 3) + xp.round(y * 3) + xp.atan2(x, y)
        a = a + xp.hypot(x, y) + xp.copysign(x, y) + xp.pow(xp.abs(x) + 1, y) + xp.sign(y) + xp.square(x)
        a = a + xp.maximum(x, y) + xp.minimum(x, float("inf")) + xp.maximum(y, float("-inf"))
        a = a + xp.clip(y, -0.5, None) + xp.clip(x, None, 0.3) + xp.clip(x, -0.2, 0.2) + xp.where(m, x, 2.0)
        a = a + xp.astype(xp.isnan(xp.where(m, x, float("nan"))) | xp.isinf(y) | ~xp.isfinite(x)
                          | xp.signbit(y), x.dtype)
        a = a + xp.astype(xp.logical_and(x < y, xp.logical_not(m)), x.dtype) + xp.astype(
            xp.logical_or(x <= y, x >= y) ^ (x == y) ^ (x != y), x.dtype)
        a = a - xp.ones_like(x) * 0.5 + xp.full_like(x, 3.0) * 0.25 + xp.zeros_like(y) + (+x) + (-y)
        a = a + xp.astype(xp.astype(x * 4, xp.int32) * 3 - 2, x.dtype) + xp.abs(x) ** 0.5 + xp.abs(y) ** -1
        return a + 1.0 / (xp.abs(x) + 1) + xp.astype(m, x.dtype) * 2 + xp.astype(x > y, x.dtype)

    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4)).astype(dtype)
    y = rng.standard_normal((3, 4)).astype(dtype)
    m = x > 0
    _, tape = yota.trace(f, x, y, m)
    return tape, (x, y, m)


_EMITTED = {"exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "sin", "cos", "tan", "asin", "acos",
            "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "tanh", "floor", "ceil", "trunc", "round",
            "atan2", "hypot", "copysign", "pow", "sign", "square", "maximum", "minimum", "clip", "where",
            "isnan", "isinf", "isfinite", "signbit", "logical_and", "logical_not", "logical_or",
            "bitwise_xor", "bitwise_or", "bitwise_invert", "less", "less_equal", "greater_equal", "equal",
            "not_equal", "greater", "zeros_like", "full_like", "positive", "negative", "astype",
            "add", "subtract", "multiply", "divide", "abs"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_emitter_interpreted(dtype):
    tape, args = _every_emitter_region(dtype)
    plan = cplan(tape)
    assert len(plan.regions) == 1, plan
    assert _EMITTED <= set(plan.regions[0].fns), _EMITTED - set(plan.regions[0].fns)
    got = codegen.compile_tape(fplan.rewrite(tape, plan, Interpreted), "trace")(xp, np_ext, *args)
    want = codegen.compile_tape(tape, "trace")(xp, np_ext, *args)
    assert np.isfinite(want[0]).all()
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5 if dtype == np.float32 else 1e-12)


@needs_gxx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_emitter_compiles_and_runs_on_the_host(tmp_path, dtype):
    tape, args = _every_emitter_region(dtype)
    plan = cplan(tape)
    lib = HostKernels(plan.regions, str(tmp_path))
    got = codegen.compile_tape(fplan.rewrite(tape, plan, lib.call), "trace")(xp, np_ext, *args)
    want = codegen.compile_tape(tape, "trace")(xp, np_ext, *args)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5 if dtype == np.float32 else 1e-12)
    body = cuda.source(plan.regions[0]).body
    if dtype == np.float32:
        assert "__int_as_float(0x7f800000)" in body and "double" not in body and " sinf(" in body
    else:
        assert "__longlong_as_double(0x7ff0000000000000LL)" in body and " sinf(" not in body


@pytest.mark.skipif(_nvcc() is None, reason="no CUDA toolkit (nvcc)")
def test_kernels_compile_with_nvcc(tmp_path):
    regions = []
    for _, f, args, _ in ALL_CASES:
        regions += cplan(yota.gradtape(f, *args)).regions
    for dtype in (np.float32, np.float64):
        regions += cplan(_every_emitter_region(dtype)[0]).regions
    regions = list({cuda.source(r).name: r for r in regions}.values())
    src = "\n".join(_wrapper(r, device=True) for r in regions)
    path = tmp_path / "fused.cu"
    path.write_text(src)
    proc = subprocess.run([_nvcc(), "-arch=sm_90", "-ptx", "-o", str(tmp_path / "fused.ptx"), str(path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ptx = (tmp_path / "fused.ptx").read_text()
    for r in regions:
        assert cuda.source(r).name in ptx


def test_plan_is_fast_on_a_long_tape():
    import time

    def deep(x):
        xp = array_namespace(x)
        for i in range(150):
            x = xp.tanh(x * 1.1 + 0.1) if i % 7 else xp.sum(x, axis=1, keepdims=True) * 0.01 + x
        return xp.sum(x)

    tape = yota.gradtape(deep, np.ones((4, 3)))
    t0 = time.perf_counter()
    plan = cplan(tape)
    assert time.perf_counter() - t0 < 5
    got = run_tape(fplan.rewrite(tape, plan, Interpreted), [np.ones((4, 3)) * 0.3])
    assert_same(got, run_tape(tape, [np.ones((4, 3)) * 0.3]), 1e-10)



def random_dag(seed):
    """Elementwise ops interleaved with ops that end regions (row sums, matmul,
    transpose), reading any earlier value: exercises merging and the cycle check."""
    rng = np.random.default_rng(seed)
    steps = [(int(rng.integers(0, 9)), int(rng.integers(0, 1000)), int(rng.integers(0, 1000)))
             for _ in range(int(rng.integers(6, 25)))]

    def f(x, w):
        xp = array_namespace(x)
        vals = [x, w]
        for kind, a, b in steps:
            u, v = vals[a % len(vals)], vals[b % len(vals)]
            if kind == 0:
                vals.append(xp.sum(u, axis=1, keepdims=True) * 0.1 + v)
            elif kind == 1:
                vals.append((u @ w) * 0.3)
            elif kind == 2:
                vals.append(xp.matrix_transpose(u) - v * 0.5)
            elif kind == 3:
                vals.append(xp.tanh(u) * v)
            elif kind == 4:
                vals.append(xp.sin(u) + xp.cos(v))
            elif kind == 5:
                vals.append(xp.where(u > v, u, v * 0.25))
            elif kind == 6:
                vals.append(u / (1.0 + v * v))
            elif kind == 7:
                vals.append(xp.exp(-u * u) - xp.max(v, axis=0, keepdims=True))
            else:
                vals.append(u * 1.5 + v)
        return xp.sum(vals[-1] * vals[-2]) + xp.sum(vals[len(vals) // 2])

    return f


@pytest.mark.parametrize("seed", range(60))
def test_random_dags_schedule_and_match(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 4))
    w = rng.standard_normal((4, 4)) / 2
    tape = yota.gradtape(random_dag(seed), x, w)
    want = run_tape(tape, [x, w])
    for max_params in (48, 5):  # 5: regions are cut into many pieces
        plan = cplan(tape, max_params=max_params)  # raises if the contracted graph had a cycle
        got = run_tape(fplan.rewrite(tape, plan, Interpreted), [x, w])
        assert_same(got, want, 1e-10)


def test_long_chains_are_cut_to_bounded_kernels():
    def long_chain(x):
        xp = array_namespace(x)
        for _ in range(120):
            x = xp.sin(x) * 1.01 + x * 0.5
        return xp.sum(x)

    x = np.linspace(-1, 1, 5)
    tape = yota.gradtape(long_chain, x)
    plan = cplan(tape)
    assert len(plan.regions) > 2
    assert max(len(r.inputs) + len(r.outputs) for r in plan.regions) <= 48
    assert sum(len(r.exprs) for r in plan.regions) > 0.95 * len(tape.ops)
    got = run_tape(fplan.rewrite(tape, plan, Interpreted), [x])
    assert_same(got, run_tape(tape, [x]), 1e-10)


# --------------------------------------------------------------------------- what the emitter and the op table say

def test_what_the_emitter_cannot_express_stays_a_plain_call():
    x = np.linspace(-2, 2, 64)
    tape = yota.gradtape(chain, x)
    plan = fplan.plan(tape, lambda e: e.fn != "sin")
    assert plan.regions and all("sin" not in r.fns for r in plan.regions)
    fused = {p for r in plan.regions for p in r.positions}
    assert all(i not in fused for i, op in enumerate(tape.ops) if op.fn == "sin")
    new = fplan.rewrite(tape, plan, Interpreted)
    assert sum(1 for op in new.ops if op.fn == "sin") == 6
    assert_same(run_tape(new, [x]), run_tape(tape, [x]), 1e-12)


def test_an_emitter_may_refuse_a_dtype():
    x32 = np.linspace(-2, 2, 64, dtype=np.float32)
    only64 = lambda e: e.ct == "float64" and e.dtype in ("float64", "bool")  # noqa: E731
    assert fplan.plan(yota.gradtape(chain, x32), only64).regions == []
    assert fplan.plan(yota.gradtape(chain, x32.astype(np.float64)), only64).regions


def test_the_op_table_decides_what_is_elementwise(monkeypatch):
    from yota import ops
    x = np.linspace(-2, 2, 64)
    tape = yota.gradtape(chain, x)
    monkeypatch.setattr(ops.lookup("sin"), "elementwise", False)
    plan = fplan.plan(tape)
    assert all("sin" not in r.fns for r in plan.regions)
    assert_same(run_tape(fplan.rewrite(tape, plan, Interpreted), [x]), run_tape(tape, [x]), 1e-12)


def test_small_regions_are_left_below_min_size():
    x = np.linspace(-2, 2, 64)
    tape = yota.gradtape(chain, x)
    assert len(fplan.plan(tape, min_size=64).regions) == 2
    assert fplan.plan(tape, min_size=65).regions == []


@needs_gxx
def test_emitted_c_keeps_nan_and_signed_zeros(tmp_path):
    def f(x, y):
        xp = array_namespace(x)
        return (xp.sign(x) * 1.0, xp.maximum(x, y) * 1.0, xp.minimum(x, y) + 0.0 * x, xp.where(x > y, -0.0, x) * 1.0,
                xp.abs(x) * -1.0)

    s = [-0.0, 0.0, np.nan, np.inf, -np.inf, 1.5, -2.0]
    a, b = np.meshgrid(s, s)
    args = (a.ravel(), b.ravel())
    _, tape = yota.trace(f, *args)
    plan = cplan(tape)
    lib = HostKernels(plan.regions, str(tmp_path))
    got = codegen.compile_tape(fplan.rewrite(tape, plan, lib.call), "trace")(xp, np_ext, *args)
    with np.errstate(all="ignore"):
        want = codegen.compile_tape(tape, "trace")(xp, np_ext, *args)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_array_equal(g[~np.isnan(w)], w[~np.isnan(w)])
        np.testing.assert_array_equal(np.signbit(g[~np.isnan(w)]), np.signbit(w[~np.isnan(w)]))
