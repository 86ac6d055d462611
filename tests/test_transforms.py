"""Transformations (JAX's semantics), checked against each other and against
finite differences: value_and_grad, stop_gradient, custom_vjp, checkpoint,
jvp, linearize, hvp, and their compositions. Every test calls twice, traced
then cached."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import yota
from _helpers import namespace_of
from yota.testing import check_grad, to_numpy

EPS = 1e-6


def f2(x, w):
    xp = namespace_of(x)
    return xp.tanh(x * w) + xp.sin(x) * xp.sum(w * w)


def loss(x):
    xp = namespace_of(x)
    return xp.sum(xp.sin(x) * x * x) + xp.sum(xp.exp(x * 0.3))


def _np(x):
    return to_numpy(x) if not isinstance(x, float) else np.asarray(x)


def _fd(f, primals, tangents):
    plus = f(*[p + EPS * t for p, t in zip(primals, tangents)])
    minus = f(*[p - EPS * t for p, t in zip(primals, tangents)])
    return (_np(plus) - _np(minus)) / (2 * EPS)


def _traces():
    return yota.cache_info()["traces"]


# --------------------------------------------------------------------------- value_and_grad

def test_value_and_grad_argnums_aux_and_kwargs(backend):
    x, w = backend.asarray([0.5, -1.0, 2.0]), backend.asarray([0.3, 0.2, 0.1])

    def g(x, w, scale=1.0, extra=None):
        xp = namespace_of(x)
        return xp.sum(f2(x, w)) * scale + (0 if extra is None else xp.sum(extra))

    for k in (1.0, 2.0):  # traced, then cached
        xs = x * k
        val, gw = yota.value_and_grad(g, argnums=1)(xs, w, scale=3.0, extra=w)
        _, ref = yota.grad(lambda x, w: g(x, w, 3.0, w), xs, w)
        np.testing.assert_allclose(_np(gw), _np(ref[2]) - 1.0)  # extra=w is not differentiated
        _, (gx, gw2) = yota.value_and_grad(g, argnums=(0, -1 + 2))(xs, w)
        np.testing.assert_allclose(_np(gx), _np(yota.grad(g, xs, w)[1][1]))
    before = _traces()
    yota.value_and_grad(g, argnums=1)(x * 5, w, scale=3.0, extra=w)
    assert _traces() == before

    def with_aux(x):
        xp = namespace_of(x)
        return xp.sum(x * x), {"mean": xp.mean(x), "n": 3}

    (val, aux), gx = yota.value_and_grad(with_aux, has_aux=True)(x)
    np.testing.assert_allclose(_np(gx), 2 * _np(x))
    np.testing.assert_allclose(_np(aux["mean"]), _np(x).mean())
    assert aux["n"] == 3


@pytest.mark.parametrize("argnums", [2, -3, (0, 5), "x", (), 1.5])
def test_value_and_grad_argnums_out_of_range(rng, argnums):
    with pytest.raises(ValueError, match="argnums"):
        yota.value_and_grad(lambda a, b: namespace_of(a).sum(a * b), argnums=argnums)(rng.random(2), rng.random(2))


def test_has_aux_needs_a_pair(rng):
    with pytest.raises(TypeError, match="pair"):
        yota.value_and_grad(lambda a: namespace_of(a).sum(a), has_aux=True)(rng.random(2))


# --------------------------------------------------------------------------- stop_gradient

def test_stop_gradient_on_arrays_floats_and_structures(backend):
    x = backend.asarray([0.5, -1.0, 2.0])

    def f(x, c):
        xp = namespace_of(x)
        frozen = yota.stop_gradient({"a": x * 2.0, "b": (x, c)})
        return xp.sum(x * frozen["a"]) + xp.sum(frozen["b"][0]) * c + yota.stop_gradient(c) * c

    for k in (1.0, -2.0):
        _, g = yota.grad(f, x * k, 1.5)
        np.testing.assert_allclose(_np(g[1]), 2 * _np(x) * k)
        np.testing.assert_allclose(float(_np(g[2])), float(np.sum(_np(x) * k)) + 1.5, rtol=1e-12)


def test_stop_gradient_holds_under_higher_orders(rng):
    x = rng.random(3)
    # d/dx of the inner gradient: the stopped factor is a constant at every order
    h = yota.hessian(lambda x: namespace_of(x).sum(x * x * yota.stop_gradient(x)))(x)
    np.testing.assert_allclose(h, np.diag(2 * x))


# --------------------------------------------------------------------------- custom_vjp

@yota.custom_vjp
def clipped_identity(x, lo):
    return x


def _ci_fwd(x, lo):
    return x, lo


def _ci_bwd(lo, g):
    xp = namespace_of(g)
    return xp.clip(g, lo, -lo), None


clipped_identity.defvjp(_ci_fwd, _ci_bwd)


def test_custom_vjp_replaces_the_rule(backend):
    x = backend.asarray([0.5, -1.0, 2.0])
    for scale in (3.0, -5.0):
        _, g = yota.grad(lambda x: namespace_of(x).sum(clipped_identity(x, -0.1) * scale), x)
        np.testing.assert_allclose(_np(g[1]), np.clip(scale, -0.1, 0.1) * np.ones(3))


def test_custom_vjp_structures_and_nondiff_arguments(rng):
    @yota.custom_vjp
    def scaled(p, k):
        xp = namespace_of(p["w"])
        return xp.sum(p["w"] * p["b"]) * k

    def fwd(p, k):
        return scaled(p, k), (p, k)

    def bwd(k, res, g):  # nondiff_argnums: k comes first
        p, _ = res
        return ({"w": g * p["b"] * k, "b": g * p["w"] * k},)

    scaled = yota.custom_vjp(scaled.fun, nondiff_argnums=(1,))
    scaled.defvjp(fwd, bwd)
    p = {"w": rng.random(3), "b": rng.random(3)}
    for k in (2, 3):
        _, g = yota.grad(lambda p: scaled(p, k), p)
        np.testing.assert_allclose(g[1]["w"], p["b"] * k)
        np.testing.assert_allclose(g[1]["b"], p["w"] * k)


def test_custom_vjp_checks_the_cotangents(rng):
    @yota.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1],))
    with pytest.raises(yota.errors.RuleError, match="1 cotangents for 2"):
        yota.grad(lambda a: namespace_of(a).sum(f(a, a)), rng.random(3))

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (namespace_of(g).sum(g), g))
    with pytest.raises(yota.errors.RuleError, match="shape"):
        yota.grad(lambda a: namespace_of(a).sum(f(a, a)), rng.random(3))


def test_custom_vjp_at_higher_orders_differentiates_bwd(rng):
    # log(1 + exp(x)) with its stable derivative sigmoid(x): second order via bwd
    @yota.custom_vjp
    def softplus(x):
        xp = namespace_of(x)
        return xp.log1p(xp.exp(x))

    def fwd(x):
        return softplus(x), x

    def bwd(x, g):
        xp = namespace_of(x)
        return (g / (1 + xp.exp(-x)),)

    softplus.defvjp(fwd, bwd)
    x = rng.standard_normal(4)
    h = yota.hessian(lambda x: namespace_of(x).sum(softplus(x)))(x)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(h, np.diag(s * (1 - s)), rtol=1e-8)
    _, jv = yota.jvp(softplus, (x,), (np.ones(4),))  # forward mode through the custom rule
    np.testing.assert_allclose(jv, s)
    # the value path of an inner trace still uses the custom rule at the outer level
    outer = yota.grad(lambda x: yota.value_and_grad(lambda y: namespace_of(y).sum(softplus(y)))(x)[0], x)[1][1]
    np.testing.assert_allclose(outer, s)


# --------------------------------------------------------------------------- checkpoint

def _block(x, w):
    xp = namespace_of(x)
    return xp.tanh(x @ w) + x


def test_checkpoint_gives_the_same_gradients(backend, rng):
    x = backend.asarray(rng.standard_normal((3, 4)))
    ws = [backend.asarray(rng.standard_normal((4, 4)) * 0.3) for _ in range(3)]
    block = yota.checkpoint(_block)

    def plain(x, ws):
        for w in ws:
            x = _block(x, w)
        return namespace_of(x).sum(x * x)

    def ckpt(x, ws):
        for w in ws:
            x = block(x, w)
        return namespace_of(x).sum(x * x)

    for k in (1.0, 0.5):
        a, b = yota.grad(plain, x * k, ws), yota.grad(ckpt, x * k, ws)
        np.testing.assert_allclose(_np(a[0]), _np(b[0]))
        np.testing.assert_allclose(_np(a[1][1]), _np(b[1][1]), rtol=1e-10)
        for ga, gb in zip(a[1][2], b[1][2]):
            np.testing.assert_allclose(_np(ga), _np(gb), rtol=1e-10)
    check_grad(ckpt, x, ws)


def test_checkpoint_keeps_only_block_outputs_for_the_backward_pass(rng):
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 4))
    block = yota.checkpoint(_block)
    tape = yota.gradtape(lambda x: namespace_of(x).sum(block(block(x, w), w)), x)
    text = str(tape)
    forward = text.split("# backward")[0]
    assert "tanh" not in forward and forward.count("checkpoint(_block)") == 2
    assert "recompute _block" in text and text.count("tanh(") == 2


def test_nested_checkpoints_and_under_vjp_and_jvp(rng):
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 3)) * 0.5
    inner = yota.checkpoint(_block)
    outer = yota.checkpoint(lambda x, w: inner(inner(x, w), w))
    f = lambda x: namespace_of(x).sum(outer(x, w) ** 2)  # noqa: E731
    g = lambda x: namespace_of(x).sum(_block(_block(x, w), w) ** 2)  # noqa: E731
    np.testing.assert_allclose(yota.grad(f, x)[1][1], yota.grad(g, x)[1][1], rtol=1e-10)
    u = rng.standard_normal((2, 3))
    _, pb = yota.vjp(lambda x: outer(x, w), x)
    _, pb2 = yota.vjp(lambda x: _block(_block(x, w), w), x)
    np.testing.assert_allclose(pb(u)[1], pb2(u)[1], rtol=1e-10)
    np.testing.assert_allclose(yota.jvp(lambda x: outer(x, w), (x,), (u,))[1],
                               yota.jvp(lambda x: _block(_block(x, w), w), (x,), (u,))[1], rtol=1e-10)


def test_checkpoint_stays_lazy_on_dask(rng):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    x = da.from_array(rng.standard_normal((6, 4)), chunks=(3, 2))
    w = rng.standard_normal((4, 4)) * 0.3
    block = yota.checkpoint(_block)

    def refuse(*a, **k):
        raise AssertionError("something was computed")

    f = lambda x: namespace_of(x).sum(block(block(x, w), w))  # noqa: E731
    for k in (1.0, 2.0):
        with dask.config.set(scheduler=refuse):
            val, g = yota.grad(f, x * k)
        ref = yota.grad(f, (x * k).compute())
        np.testing.assert_allclose(g[1].compute(scheduler="sync"), ref[1][1])


# --------------------------------------------------------------------------- jvp, linearize

def test_jvp_against_finite_differences_and_the_vjp(backend, rng):
    x, w = backend.asarray([0.5, -1.0, 2.0]), backend.asarray([0.3, 0.2, 0.1])
    v, vw = backend.asarray(rng.standard_normal(3)), backend.asarray(rng.standard_normal(3))
    u = rng.standard_normal(3)
    for k in (1.0, 1.7):  # traced, then cached
        xs = x * k
        y, jv = yota.jvp(f2, (xs, w), (v, vw))
        np.testing.assert_allclose(_np(y), _np(f2(xs, w)))
        np.testing.assert_allclose(_np(jv), _fd(f2, (xs, w), (v, vw)), rtol=1e-6, atol=1e-8)
        _, pb = yota.vjp(f2, xs, w)
        g = pb(backend.asarray(u))
        lhs = float(np.sum(u * _np(jv)))  # <u, J v>
        rhs = float(np.sum(_np(g[1]) * _np(v)) + np.sum(_np(g[2]) * _np(vw)))  # <J^T u, v>
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


@dataclass
class Params:
    W: np.ndarray
    b: np.ndarray


def test_jvp_tangents_mirror_structures(rng):
    p = Params(rng.standard_normal((2, 3)), rng.standard_normal(2))
    d = {"x": rng.standard_normal(3)}
    tp = Params(rng.standard_normal((2, 3)), rng.standard_normal(2))
    td = {"x": rng.standard_normal(3)}

    def f(p, d):
        xp = namespace_of(d["x"])
        return {"out": xp.tanh(p.W @ d["x"] + p.b)}

    y, jv = yota.jvp(f, (p, d), (tp, td))
    fd = (f(Params(p.W + EPS * tp.W, p.b + EPS * tp.b), {"x": d["x"] + EPS * td["x"]})["out"]
          - f(Params(p.W - EPS * tp.W, p.b - EPS * tp.b), {"x": d["x"] - EPS * td["x"]})["out"]) / (2 * EPS)
    np.testing.assert_allclose(jv["out"], fd, rtol=1e-6)
    with pytest.raises(ValueError, match="tangent"):
        yota.jvp(f, (p, d), (tp,))


def test_linearize_does_not_rerun_the_forward_pass(rng):
    calls = []

    @yota.primitive
    def counted(x):
        calls.append(1)
        return x * 2.0

    @yota.rrule(counted)
    def _(xp, x):
        return counted(x), lambda g: (g * 2.0,)

    x, v = rng.random(3), rng.random(3)
    f = lambda x: namespace_of(x).sin(counted(x))  # noqa: E731
    y, f_jvp = yota.linearize(f, x)
    n = len(calls)
    for t in (v, 2 * v, -v):
        np.testing.assert_allclose(f_jvp(t), np.cos(2 * x) * 2 * t)
    assert len(calls) == n
    np.testing.assert_allclose(y, np.sin(2 * x))


# --------------------------------------------------------------------------- hvp

def test_hvp_against_finite_differences_and_symmetric(backend, rng):
    x = backend.asarray(rng.standard_normal(4))
    v, w = rng.standard_normal(4), rng.standard_normal(4)
    grad_of = lambda x: _np(yota.grad(loss, x)[1][1])  # noqa: E731
    for k in (1.0, 0.5):
        xs = x * k
        y, hv = yota.hvp(loss, (xs,), (backend.asarray(v),))
        xn = _np(xs)
        fd = (grad_of(backend.asarray(xn + EPS * v)) - grad_of(backend.asarray(xn - EPS * v))) / (2 * EPS)
        np.testing.assert_allclose(_np(hv), fd, rtol=1e-5, atol=1e-7)
        _, hw = yota.hvp(loss, (xs,), (backend.asarray(w),))
        np.testing.assert_allclose(float(np.dot(w, _np(hv))), float(np.dot(v, _np(hw))), rtol=1e-10)


def test_hvp_of_a_function_that_calls_value_and_grad(rng):
    x, v = rng.standard_normal(3), rng.standard_normal(3)

    def energy(x):
        # a loss that uses another transformation inside
        val, g = yota.value_and_grad(loss)(x)
        return val + 0.5 * namespace_of(x).sum(g * g)

    _, hv = yota.hvp(energy, (x,), (v,))
    grad_of = lambda x: yota.grad(energy, x)[1][1]  # noqa: E731
    fd = (grad_of(x + EPS * v) - grad_of(x - EPS * v)) / (2 * EPS)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- compositions

def test_grad_of_jvp_and_jvp_of_grad(backend, rng):
    x = backend.asarray(rng.standard_normal(3))
    v = backend.asarray(rng.standard_normal(3))

    def directional(x):  # grad of a jvp
        return namespace_of(x).sum(yota.jvp(loss, (x,), (v,))[1])

    check_grad(directional, x)
    g_fn = lambda x: yota.grad(loss, x)[1][1]  # noqa: E731
    _, jv = yota.jvp(g_fn, (x,), (v,))  # jvp of grad = hvp
    _, hv = yota.hvp(loss, (x,), (v,))
    np.testing.assert_allclose(_np(jv), _np(hv), rtol=1e-10)


def test_transformations_stay_lazy_on_dask(rng):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    x = da.from_array(rng.standard_normal(6), chunks=3)
    v = da.from_array(rng.standard_normal(6), chunks=3)

    def refuse(*a, **k):
        raise AssertionError("something was computed")

    for k in (1.0, 2.0):
        with dask.config.set(scheduler=refuse):
            _, jv = yota.jvp(loss, (x * k,), (v,))
            _, hv = yota.hvp(loss, (x * k,), (v,))
            _, gx = yota.value_and_grad(loss)(x * k)
        xn, vn = (x * k).compute(), v.compute()
        np.testing.assert_allclose(jv.compute(scheduler="sync"), yota.jvp(loss, (xn,), (vn,))[1])
        np.testing.assert_allclose(hv.compute(scheduler="sync"), yota.hvp(loss, (xn,), (vn,))[1])
        np.testing.assert_allclose(gx.compute(scheduler="sync"), yota.grad(loss, xn)[1][1])


def test_forward_mode_sections_are_labelled(rng):
    x, v = rng.random(3), rng.random(3)
    tape = yota.gradtape(lambda x: namespace_of(x).sum(yota.jvp(loss, (x,), (v,))[1]), x)
    assert "# forward: jvp(loss)" in str(tape)


def test_inputs_that_do_not_reach_the_output(backend, rng):
    # A field, an argument or the whole input with no path to the output: its derivative is zero,
    # never an error or a shifted pairing of tangents with other inputs (JAX's results: zeros)
    def f(p, x):
        xp = namespace_of(x)
        return xp.sum(p.W[0, ...] * x * x)  # p.b unused

    def linear(x):
        return namespace_of(x).sum(x * 2.0)

    def const(x):
        return namespace_of(x).ones((2,)) * 1.5

    for _ in range(2):  # traced, then cached
        W, b, x = rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal(3)
        tW, tb, tx = rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal(3)
        p, t = Params(backend.asarray(W), backend.asarray(b)), Params(backend.asarray(tW), backend.asarray(tb))
        X, TX = backend.asarray(x), backend.asarray(tx)
        want = np.sum(tW[0] * x * x) + np.sum(W[0] * 2 * x * tx)
        _, jv = yota.jvp(f, (p, X), (t, TX))
        np.testing.assert_allclose(_np(jv), want, rtol=1e-10)
        np.testing.assert_allclose(_np(yota.linearize(f, p, X)[1](t, TX)), want, rtol=1e-10)
        _, hv = yota.hvp(f, (p, X), (t, TX))
        np.testing.assert_allclose(_np(hv[1]), 2 * tW[0] * x + 2 * W[0] * tx, rtol=1e-10)
        _, jc = yota.jvp(const, (X,), (TX,))
        np.testing.assert_array_equal(_np(jc), np.zeros(2))
        np.testing.assert_array_equal(_np(yota.hessian(linear)(X)), np.zeros((3, 3)))
        np.testing.assert_array_equal(_np(yota.jacfwd(const)(X)), np.zeros((2, 3)))
        for jac in (yota.jacrev, yota.jacfwd):
            jp, jx = jac(f, argnums=(0, 1))(p, X)
            np.testing.assert_array_equal(_np(jp.b), np.zeros(2))
            np.testing.assert_allclose(_np(jp.W), np.stack([x * x, np.zeros(3)]), rtol=1e-10)
            np.testing.assert_allclose(_np(jx), 2 * W[0] * x, rtol=1e-10)
