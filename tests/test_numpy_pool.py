"""Kept temporaries on NumPy (backends/_pool.py): large private temporaries
are written into buffers allocated once per compiled tape. Nothing the caller
can hold may live in one: results, views of temporaries, what a primitive
keeps; concurrent and re-entered calls run without them. Every test calls the
compiled function several times and checks that earlier results did not
change."""
from __future__ import annotations

import gc
import threading

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota
from yota.backends import _pool
from yota.backends import numpy as yn

N = 1 << 16  # float64 elements: 512 KiB, above _pool.MIN_BYTES


@pytest.fixture(autouse=True)
def _kept(monkeypatch):
    monkeypatch.setattr(yn, "KEEP_TEMPORARIES", True)
    yota.reset()
    yield
    yota.reset()


def gelu_ln(x, w):
    xp = array_namespace(x)
    z = x * w
    g = 0.5 * z * (1.0 + xp.tanh(0.79788456 * (z + 0.044715 * z * z * z)))
    m = xp.mean(g, axis=-1, keepdims=True)
    c = g - m
    y = c / xp.sqrt(xp.mean(c * c, axis=-1, keepdims=True) + 1e-5)
    return xp.sum(y * y * w)


def _calls(f, make, n=4):
    """Values and gradients of n calls (traced, compiled, cached...), each checked
    against a fresh trace after all of them ran."""
    kept = []
    for i in range(n):
        args = make(i)
        kept.append((args, yota.grad(f, *args)))
    for args, (value, grads) in kept:
        yota.reset()
        v2, g2 = yota.grad(f, *args)  # the trace itself: no compiled code, no kept buffer
        np.testing.assert_allclose(value, v2, rtol=1e-12)
        for a, b in zip(grads[1:], g2[1:]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)
    return kept


def _rand(shape):
    return lambda i: tuple(np.random.default_rng(i).standard_normal(s) for s in shape)


def _pooled(f, *args):
    tape = yn.transform(yota.passes.optimize(yota.gradtape(f, *args)))
    return tape


def test_temporaries_are_kept_and_results_never_are():
    args = _rand([(64, N // 64), (N // 64,)])(0)
    tape = _pooled(gelu_ln, *args)
    assert _pool.UNPOOLED in tape.meta
    kept = {id(c) for c in tape.consts if isinstance(c, np.ndarray) and c.nbytes >= _pool.MIN_BYTES}
    assert kept
    # lifetimes that do not overlap share buffers: fewer buffers than kept ops
    uses = [op for op in tape.ops if "out" in op.kwargs and type(op.kwargs["out"]).__name__ == "Const"]
    assert len(kept) < len(uses)
    _calls(gelu_ln, _rand([(64, N // 64), (N // 64,)]))


def test_a_result_is_never_overwritten_by_the_next_call():
    results = [yota.grad(gelu_ln, *_rand([(64, N // 64), (N // 64,)])(i)) for i in range(3)]
    copies = [(float(v), [np.array(g) for g in gs[1:]]) for v, gs in results]
    yota.grad(gelu_ln, *_rand([(64, N // 64), (N // 64,)])(9))
    for (v, gs), (v0, g0) in zip(results, copies):
        assert float(v) == v0
        for a, b in zip(gs[1:], g0):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make_view", [
    lambda xp, t: xp.reshape(t, (-1,)),
    lambda xp, t: t[1:],
    lambda xp, t: xp.permute_dims(t, (1, 0)),
    lambda xp, t: xp.matrix_transpose(t),
    lambda xp, t: xp.broadcast_to(t, (2,) + t.shape)[0],
])
def test_a_view_of_a_temporary_that_escapes_keeps_it_out(make_view):
    def f(x):
        xp = array_namespace(x)
        t = xp.tanh(x) * 3.0
        v = make_view(xp, t)
        return xp.sum(v * v), v  # the view is part of the result (has_aux)

    outs = []
    for i in range(4):
        x = np.random.default_rng(i).standard_normal((64, N // 64))
        (value, aux), g = yota.value_and_grad(f, has_aux=True)(x)
        outs.append((x, np.array(aux), aux, np.array(g)))
    for x, aux_copy, aux, g in outs:
        np.testing.assert_array_equal(aux, aux_copy)  # not rewritten by a later call
        np.testing.assert_allclose(aux_copy, make_view(np, np.tanh(x) * 3.0), rtol=1e-14)


def test_what_a_primitive_keeps_is_not_overwritten():
    seen = []

    @yota.primitive
    def remember(t):
        seen.append(t)  # keeps a reference to its argument
        return t * 1.0

    @yota.rrule(remember)
    def _(xp, t):
        return remember(t), lambda g: (g,)

    def f(x):
        xp = array_namespace(x)
        return xp.sum(remember(xp.exp(x) * 2.0))

    for i in range(4):
        yota.grad(f, np.random.default_rng(i).standard_normal(N))
    for i, t in enumerate(seen):
        np.testing.assert_allclose(t, np.exp(np.random.default_rng(i).standard_normal(N)) * 2.0, rtol=1e-14)


def test_concurrent_calls_are_right():
    make = _rand([(64, N // 64), (N // 64,)])
    yota.grad(gelu_ln, *make(0))
    yota.grad(gelu_ln, *make(0))  # compiled
    want = {}
    for i in range(8):
        want[i] = yota.grad(gelu_ln, *make(i))
    got = {}
    errors = []

    def work(i):
        try:
            for _ in range(5):
                got[i] = yota.grad(gelu_ln, *make(i))
                np.testing.assert_allclose(got[i][1][1], want[i][1][1], rtol=1e-12)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_a_call_re_entered_from_a_primitive_is_right():
    depth = [0]

    @yota.primitive
    def inner(t):
        if depth[0] == 0:  # the same compiled function, called while it runs
            depth[0] += 1
            try:
                return t + 0.0 * float(yota.grad(outer, t * 0.5)[0])
            finally:
                depth[0] -= 1
        return t

    @yota.rrule(inner)
    def _(xp, t):
        return inner(t), lambda g: (g,)

    def outer(x):
        xp = array_namespace(x)
        u = xp.tanh(x) * 2.0
        return xp.sum(inner(u) * u)

    for i in range(4):
        x = np.random.default_rng(i).standard_normal(N)
        value, (_, g) = yota.grad(outer, x)
        u = np.tanh(x) * 2.0
        np.testing.assert_allclose(value, np.sum(u * u), rtol=1e-12)
        np.testing.assert_allclose(g, 2 * u * 2.0 * (1 - np.tanh(x) ** 2), rtol=1e-12)


def test_the_bytes_kept_are_bounded_and_given_back(monkeypatch):
    gc.collect()
    before = _pool.kept_bytes()
    args = _rand([(64, N // 64), (N // 64,)])(0)
    yota.grad(gelu_ln, *args)
    yota.grad(gelu_ln, *args)
    held = _pool.kept_bytes() - before
    assert held >= _pool.MIN_BYTES
    yota.reset()
    gc.collect()
    assert _pool.kept_bytes() == before
    monkeypatch.setattr(_pool, "MAX_BYTES", before + held - 1)  # not room enough
    assert _pool.UNPOOLED not in _pooled(gelu_ln, *args).meta
    _calls(gelu_ln, _rand([(64, N // 64), (N // 64,)]))


def test_small_arrays_and_the_switch(monkeypatch):
    small = _rand([(4, 8), (8,)])(0)
    assert _pool.UNPOOLED not in _pooled(gelu_ln, *small).meta
    monkeypatch.setattr(yn, "KEEP_TEMPORARIES", False)
    assert _pool.UNPOOLED not in _pooled(gelu_ln, *_rand([(64, N // 64), (N // 64,)])(0)).meta


@pytest.mark.parametrize("kind", ["vjp", "jvp", "vmap", "checkpoint"])
def test_every_kind_of_call_keeps_results_apart(kind):
    def f(x):
        xp = array_namespace(x)
        return xp.tanh(x * 1.5) * x + 1.0

    def run(x):
        if kind == "vjp":
            y, pb = yota.vjp(f, x)
            return y, pb(np.ones_like(x))
        if kind == "jvp":
            return yota.jvp(f, (x,), (np.ones_like(x),))
        if kind == "vmap":
            return yota.vmap(f)(x.reshape(4, -1))
        return yota.grad(lambda a: array_namespace(a).sum(yota.checkpoint(f)(a)), x)

    def flat(r):
        if isinstance(r, (tuple, list)):
            return [a for b in r for a in flat(b)]
        return [r] if isinstance(r, np.ndarray) else []

    results = []
    for i in range(4):
        x = np.random.default_rng(i).standard_normal(N)
        r = run(x)
        results.append((x, flat(r), [np.array(a) for a in flat(r)]))
    for x, arrays, copies in results:
        for a, c in zip(arrays, copies):
            np.testing.assert_array_equal(a, c)
        yota.reset()
        for a, b in zip(copies, flat(run(x))):
            np.testing.assert_allclose(a, b, rtol=1e-12)
