"""The public API contract: grad, vjp, trace, gradtape, compile,
reset, update_, tangents, primitives and rules, caching, guards, nested grad."""
from __future__ import annotations

import threading
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest
from array_api_compat import array_namespace
from array_api_compat import device as array_device

import yota
from _helpers import namespace_of
from yota.testing import check_grad


@dataclass
class Linear:
    W: np.ndarray
    b: np.ndarray


def forward(m, X):
    return m.W @ X


def loss(m, X):
    xp = array_namespace(X)
    return xp.sum(forward(m, X))


def test_seed_example_and_training_loop(rng):
    m = Linear(rng.random((3, 4)), rng.random(3))
    X = rng.random((4, 5))
    val, g = yota.grad(loss, m, X)
    assert g[0] == yota.ZeroTangent()
    assert isinstance(g[1], yota.Tangent) and g[1].primal_type is Linear
    assert g[1].b == yota.ZeroTangent() and isinstance(g[1]["b"], yota.ZeroTangent)
    np.testing.assert_allclose(g[1].W, np.ones((3, 5)) @ X.T)
    np.testing.assert_allclose(g[2], m.W.T @ np.ones((3, 5)))
    assert "Linear" in repr(g[1]) and "W=" in repr(g[1])
    W0 = m.W
    first = val
    for _ in range(100):
        val, g = yota.grad(loss, m, X)
        assert yota.update_(m, g[1], lambda x, gx: x - 0.01 * gx) is m
    assert val < first and m.W is not W0
    assert yota.cache_info()["traces"] == 1


def test_zero_tangent_is_additive_identity():
    z = yota.ZeroTangent()
    x = np.ones(3)
    assert x + z is x and z + x is x and 1.5 + z == 1.5
    assert yota.NoTangent() != yota.ZeroTangent() and isinstance(yota.NoTangent(), yota.ZeroTangent)


def test_argument_structures(rng):
    P = namedtuple("P", "a b")

    @dataclass(frozen=True)
    class Frozen:
        a: np.ndarray
        k: int

    class Slots:
        __slots__ = ("a", "name")

        def __init__(self, a):
            self.a, self.name = a, "s"

    class Plain:
        def __init__(self, a):
            self.a = a

    def f(t, lst, d, p, fr, s, pl, fl, i, st, none):
        xp = array_namespace(t[0])
        return xp.sum(t[0] * lst[1] * d["z"] * p.a * fr.a * s.a * pl.a) * fl * i

    a = [rng.random(3) + 0.5 for _ in range(7)]
    args = ((a[0],), [None, a[1]], {"z": a[2]}, P(a[3], 1), Frozen(a[4], 2), Slots(a[5]), Plain(a[6]), 1.5, 2,
            "s", None)
    val, g = yota.grad(f, *args)
    prod = a[0] * a[1] * a[2] * a[3] * a[4] * a[5] * a[6]
    assert isinstance(g[1], tuple) and isinstance(g[2], list) and isinstance(g[3], dict)
    np.testing.assert_allclose(g[1][0], prod / a[0] * 3.0)
    assert g[2][0] == yota.NoTangent()
    assert isinstance(g[4], P) and g[4].b == yota.NoTangent()
    assert g[5].primal_type is Frozen and g[5].k == yota.NoTangent()
    assert g[6].primal_type is Slots and g[7].primal_type is Plain
    assert isinstance(g[8], float) and g[8] == pytest.approx(float(np.sum(prod)) * 2)
    assert g[9] == g[10] == g[11] == yota.NoTangent()
    check_grad(f, *args)
    # update_ writes through frozen dataclasses, slots, dicts and lists
    yota.update_(args[4], g[5], lambda x, gx: x * 0)
    yota.update_(args[5], g[6], lambda x, gx: x * 0)
    yota.update_(args[2], g[3], lambda x, gx: x * 0)
    yota.update_(args[1], g[2], lambda x, gx: x * 0)
    assert not args[4].a.any() and not args[5].a.any() and not args[2]["z"].any() and not args[1][1].any()


def test_closures_hit_the_cache_with_new_values(rng):
    def make(w):
        def f(x):
            xp = array_namespace(x)
            return xp.sum(w * x)
        return f

    x = rng.random(3)
    for k in range(3):
        w = rng.random(3)
        _, g = yota.grad(make(w), x)
        np.testing.assert_allclose(g[0].w, x)
        np.testing.assert_allclose(g[1], w)
    assert yota.cache_info()["traces"] == 1
    check_grad(make(rng.random(3)), x)


def test_callable_object_and_bound_method(rng):
    class Model:
        def __init__(self):
            self.W = rng.random((2, 3))
            self.scale = 3

        def __call__(self, x):
            return array_namespace(x).sum(self.W @ x)

        def loss(self, x):
            return array_namespace(x).sum(self.W @ x) * self.scale

    m = Model()
    x = rng.random(3)
    _, g = yota.grad(m, x)
    assert g[0].primal_type is Model
    np.testing.assert_allclose(g[0].W, np.ones((2, 1)) * x)
    _, g = yota.grad(m.loss, x)
    np.testing.assert_allclose(g[0].W, 3 * np.ones((2, 1)) * x)
    check_grad(m.loss, x)
    yota.update_(m.loss, g[0], lambda w, gw: w - gw)
    np.testing.assert_allclose(m.W, m.W)  # updated in place through the method's self


def test_seed_kinds(rng):
    x = rng.random(3)
    with pytest.raises(ValueError, match="seed"):
        yota.grad(lambda x: x * 2.0, x)
    _, g = yota.grad(lambda x: x * 2.0, x, seed="ones")
    np.testing.assert_allclose(g[1], 2.0)
    u = rng.random(3)
    _, g = yota.grad(lambda x: x * x, x, seed=u)
    np.testing.assert_allclose(g[1], 2 * x * u)
    val, pullback = yota.vjp(lambda x: x * x, x)
    np.testing.assert_allclose(val, x * x)
    np.testing.assert_allclose(pullback(u)[1], 2 * x * u)
    np.testing.assert_allclose(pullback(2 * u)[1], 4 * x * u)
    with pytest.raises(ValueError, match="seed"):
        yota.grad(lambda x: x, x, seed="twos")


def test_trace_gradtape_compile_and_printing(rng):
    m = Linear(rng.random((3, 4)), rng.random(3))
    X = rng.random((4, 5))
    val, tape = yota.trace(loss, m, X)
    np.testing.assert_allclose(val, np.sum(m.W @ X))
    text = str(tape)
    assert "matmul(%1, %3)" in text and "float64[3,5]" in text
    f = yota.compile(tape)
    m2 = Linear(rng.random((3, 4)), rng.random(3))
    np.testing.assert_allclose(f(loss, m2, X), np.sum(m2.W @ X))

    gt = yota.gradtape(loss, m, X)
    text = str(gt)
    assert "# forward" in text and "# backward" in text and "/d%1" in text
    assert text.startswith("Tape: loss(m, X)")
    compiled = yota.compile(gt)
    val2, g2 = compiled(loss, m2, X)
    np.testing.assert_allclose(g2[1].W, np.ones((3, 5)) @ X.T)
    assert "def grad(xp, ext" in compiled.__yota_source__


def test_tape_traced_on_numpy_runs_on_array_api_strict(rng):
    strict = pytest.importorskip("array_api_strict")
    m = Linear(rng.random((3, 4)), rng.random(3))
    X = rng.random((4, 5))
    compiled = yota.compile(yota.gradtape(loss, m, X))
    ms = Linear(strict.asarray(m.W), strict.asarray(m.b))
    Xs = strict.asarray(X)
    val, g = compiled(loss, ms, Xs)
    assert type(g[1].W).__module__.startswith("array_api_strict")
    np.testing.assert_allclose(np.asarray(g[2]), m.W.T @ np.ones((3, 5)))


def test_source_holds_no_user_data(rng):
    secret = np.array([123456.789])
    f = lambda x: array_namespace(x).sum(x * secret)  # noqa: E731
    compiled = yota.compile(yota.gradtape(f, rng.random(1)))
    assert "123456" not in compiled.__yota_source__


def test_threads_share_the_cache(rng):
    xs = [rng.random((8,)) for _ in range(16)]
    results = [None] * 16

    def work(i):
        def f(x):
            xp = array_namespace(x)
            return xp.sum(xp.tanh(x) * x)
        for _ in range(20):
            results[i] = yota.grad(f, xs[i])[1][1]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for x, g in zip(xs, results):
        np.testing.assert_allclose(g, np.tanh(x) + x * (1 - np.tanh(x) ** 2))
    assert yota.cache_info()["entries"] == 1


def test_cache_is_bounded(rng, monkeypatch):
    from yota import cache
    monkeypatch.setattr(cache, "MAX_ENTRIES", 4)
    for n in range(1, 10):
        yota.grad(lambda x: array_namespace(x).sum(x), rng.random(n))
    assert yota.cache_info()["entries"] == 4


def test_failed_trace_caches_nothing(rng):
    calls = []

    def f(x):
        xp = array_namespace(x)
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return xp.sum(x)

    with pytest.raises(RuntimeError):
        yota.grad(f, rng.random(2))
    assert yota.cache_info()["entries"] == 0
    yota.grad(f, rng.random(2))
    assert yota.cache_info()["entries"] == 1


def test_if_on_a_traced_value_retraces_per_path(rng):
    def f(x):
        xp = array_namespace(x)
        if xp.sum(x) > 0:
            return xp.sum(x * x)
        return xp.sum(xp.sin(x))

    for sign in (1, -1, 1, -1, 1):
        x = sign * (rng.random(3) + 0.1)
        _, g = yota.grad(f, x)
        np.testing.assert_allclose(g[1], 2 * x if sign > 0 else np.cos(x))
    info = yota.cache_info()
    assert info["traces"] == 2 and info["variants"] == 2


def test_while_loop_with_value_dependent_trip_count():
    def f(x):
        xp = array_namespace(x)
        y = x
        while xp.max(xp.abs(y)) < 100:
            y = y * 2.0
        return xp.sum(y)

    for s in (1.0, 10.0, 1.0, 3.0, 10.0):
        _, g = yota.grad(f, np.full(2, s))
        expected = 2.0 ** int(np.ceil(np.log2(100 / s))) if 100 / s != 2 ** np.log2(100 / s) else 0
        y = s
        k = 0
        while abs(y) < 100:
            y *= 2
            k += 1
        np.testing.assert_allclose(g[1], 2.0 ** k)
        del expected
    assert yota.cache_info()["traces"] == 3


def test_int_of_traced_value_is_guarded(rng):
    def f(x, n):
        xp = array_namespace(x)
        k = int(xp.sum(n))
        return xp.sum(x[:k] ** 2)

    x = rng.random(4)
    for k in (2, 3, 2):
        _, g = yota.grad(f, x, np.array([k]))
        want = np.where(np.arange(4) < k, 2 * x, 0)
        np.testing.assert_allclose(g[1], want)
        assert g[2] == yota.NoTangent()


def test_nested_grad_second_derivative(rng):
    def inner(x):
        xp = array_namespace(x)
        return xp.sum(xp.sin(x) * x)

    def outer(x):
        xp = array_namespace(x)
        _, g = yota.grad(inner, x)
        return xp.sum(g[1])

    for x in (rng.random(3), rng.random(3)):
        _, g = yota.grad(outer, x)
        np.testing.assert_allclose(g[1], -np.sin(x) * x + 2 * np.cos(x))


def test_third_derivative():
    def d(f):
        def df(x):
            return yota.grad(f, x)[1][1]
        return df

    def f(x):
        return array_namespace(x).sum(x ** 4)

    x = np.array([1.5])
    d3 = d(lambda x: array_namespace(x).sum(d(lambda x: array_namespace(x).sum(d(f)(x)))(x)))
    np.testing.assert_allclose(d3(x), 24 * x)


def test_primitive_and_rrule_invalidate_the_cache(rng):
    @yota.primitive
    def double(x):
        return x * 2.0

    def f(x):
        return array_namespace(x).sum(double(x))

    x = rng.random(3)
    with pytest.raises(NotImplementedError, match="yota.rrule"):
        yota.grad(f, x)

    @yota.rrule(double)
    def _(xp, x):
        return double(x), lambda g: (g * 2.0,)

    np.testing.assert_allclose(yota.grad(f, x)[1][1], 2.0)
    assert "double(%1)" in str(yota.gradtape(f, x))

    @yota.rrule(double, override=True)
    def _(xp, x):  # a (wrong) new rule must be used: the cached tape is invalidated
        return double(x), lambda g: (g * 3.0,)

    np.testing.assert_allclose(yota.grad(f, x)[1][1], 3.0)
    # and the primitive still runs plainly outside of traces
    np.testing.assert_allclose(double(x), 2 * x)


def test_a_primitive_is_called_as_itself_whatever_its_function_holds(rng):
    # the primitive's function keeps arrays in its closure: the primitive is still the
    # registered object on every trace (a copy rebuilt from its fields had no rule)
    yota.reset()
    seen = []

    @yota.primitive
    def remember(t):
        seen.append(t)
        return t * 2.0

    @yota.rrule(remember)
    def _(xp, t):
        return remember(t), lambda g: (g * 2.0,)

    def f(x):
        return array_namespace(x).sum(remember(x) * x)

    for i in range(4):  # traced, compiled, cached, cached
        x = rng.random(3)
        value, (_, g) = yota.grad(f, x)
        np.testing.assert_allclose(value, np.sum(2 * x * x))
        np.testing.assert_allclose(g, 4 * x)
    assert len(seen) == 4 and all(type(t) is np.ndarray for t in seen)
    assert yota.cache_info()["traces"] == 1  # what the opaque function holds is not part of the key


def test_a_primitive_whose_result_changes_size_retraces(rng):
    # the primitive runs on every call; given arguments of the same shapes it may still return
    # another size (here, read from a global), which the tape's pullbacks were not made for
    keep = [3]

    @yota.primitive
    def head(x):
        return x[:keep[0]] * 1.0

    @yota.rrule(head)
    def _(xp, x):
        y = head(x)
        return y, lambda g: (xp.concat([g, xp.zeros(x.shape[0] - g.shape[0], dtype=x.dtype)]),)

    def f(x):
        xp = array_namespace(x)
        return xp.sum(head(x) ** 2) + xp.sum(x)

    x = rng.random(4)
    for k in (3, 3, 1, 1, 4):
        keep[0] = k
        value, (_, g) = yota.grad(f, x)
        want = 2 * x * (np.arange(4) < k) + 1.0
        np.testing.assert_allclose(g, want)
        np.testing.assert_allclose(value, np.sum(x[:k] ** 2) + np.sum(x))


def test_user_rule_for_standard_name(rng):
    entry = yota.ops.get("exp")
    saved = entry.rule
    try:
        @yota.rrule("exp", override=True)
        def _(xp, x):
            y = xp.exp(x)
            return y, lambda g: (g * y * 0.0,)

        _, g = yota.grad(lambda x: array_namespace(x).sum(array_namespace(x).exp(x)), rng.random(2))
        np.testing.assert_allclose(g[1], 0.0)
    finally:
        entry.rule = saved
        yota.reset()


def test_errors_name_the_user_line(rng):
    x = rng.random(2)

    def uses_numpy_conversion(x):
        return array_namespace(x).sum(np.asarray(x))

    with pytest.raises(TypeError, match="array_namespace") as e:
        yota.grad(uses_numpy_conversion, x)
    assert "test_api.py:" in str(e.value)

    with pytest.raises(TypeError, match="tolist"):
        yota.grad(lambda x: x.tolist(), x)
    with pytest.raises(TypeError, match="item"):
        yota.grad(lambda x: x.item(), x)
    with pytest.raises(AttributeError, match="not a function of the array namespace"):
        yota.grad(lambda x: array_namespace(x).no_such_function(x), x)


def test_no_rule_error_shows_rrule(rng):
    entry = yota.ops.get("tanh")
    saved, entry.rule = entry.rule, None
    try:
        with pytest.raises(NotImplementedError, match=r"@yota.rrule\('tanh'\)"):
            yota.grad(lambda x: array_namespace(x).sum(array_namespace(x).tanh(x)), rng.random(2))
    finally:
        entry.rule = saved


def test_mixed_backends_name_both(rng):
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="array_api_strict and numpy"):
        yota.grad(lambda x, y: x, rng.random(()), strict.asarray(1.0))


def test_setitem_leaves_callers_array_alone(rng):
    x = rng.random(4)
    before = x.copy()

    def f(x):
        xp = array_namespace(x)
        x[1:3] = x[1:3] * 10.0
        return xp.sum(x * x)

    _, g = yota.grad(f, x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(g[1], 2 * x * np.array([1, 100, 100, 1]))


def test_wrt_skips_unwanted_gradients(rng):
    m = Linear(rng.random((3, 4)), rng.random(3))
    X = rng.random((4, 5))
    val, g = yota.grad(loss, m, X, wrt=1)
    np.testing.assert_allclose(g[1].W, np.ones((3, 5)) @ X.T)
    assert g[2] == yota.NoTangent() and g[0] == yota.ZeroTangent()
    assert "d%4/d%3" not in str(yota.gradtape(loss, m, X, wrt=(1,)))
    val2, pullback = yota.vjp(lambda W, X: W @ X, m.W, X, wrt=2)
    assert pullback(np.ones((3, 5)))[1] == yota.NoTangent()


def test_dtype_queries_inside_traced_code(backend, rng):
    x = backend.asarray(rng.standard_normal(4), dtype=np.float32)

    def f(x):
        xp = array_namespace(x)
        eps = xp.finfo(x.dtype).eps
        assert xp.isdtype(x.dtype, "real floating") and xp.result_type(x, x) == x.dtype
        assert xp.iinfo(xp.int32).max == 2**31 - 1
        z = xp.zeros(x.shape, dtype=x.dtype, device=array_device(x))
        return xp.sum(xp.sqrt(x * x + eps) + z)

    check_grad(f, x)


def test_fast_path_for_dataclass_parameters(rng):
    m = Linear(rng.random((3, 4)), rng.random(3))
    X = rng.random((4, 5))
    for _ in range(3):
        _, g = yota.grad(loss, m, X)
    from yota import cache
    assert cache._FAST  # the dataclass of arrays took the fast path
    m.W = m.W * 2  # a new field value is read on the next call
    _, g = yota.grad(loss, m, X)
    np.testing.assert_allclose(g[2], m.W.T @ np.ones((3, 5)))
    m.extra = 1  # a new field: another signature, the full path
    _, g = yota.grad(loss, m, X)
    assert g[1].extra == yota.NoTangent()


def test_cupy_arrays_on_two_devices_name_both():
    from yota.backends import MixedBackendError
    from yota.backends.base import check_one_device as check_devices

    class Device:
        def __init__(self, i):
            self.id = i

        def __repr__(self):
            return f"<CUDA Device {self.id}>"

    def fake(i):
        cls = type("ndarray", (), {"__module__": "cupy", "device": Device(i), "shape": ()})
        return cls()

    check_devices([fake(0), fake(0)])
    with pytest.raises(MixedBackendError, match="Device 0.*Device 1"):
        check_devices([fake(0), fake(1)])


def test_a_pullback_keeps_the_values_of_its_call(backend):
    # the backward half reads x and W themselves (and views of them: x.T, x[:, :1]); a write the
    # caller makes into them after vjp/linearize must not reach the pullback (JAX's semantics)
    if backend.name == "jax":
        pytest.skip("JAX arrays cannot be written")
    r = np.random.default_rng(4)
    x0, W0, ct = r.standard_normal((4, 5)), r.standard_normal((5, 5)) * 0.3, r.standard_normal((4, 5))

    def f(x, W):
        xp = namespace_of(x)
        return xp.tanh(x @ W) * x[:, :1]

    want = yota.vjp(f, backend.asarray(x0), backend.asarray(W0))[1](backend.asarray(ct))
    want_jv = yota.linearize(f, backend.asarray(x0), backend.asarray(W0))[1](backend.asarray(ct), backend.asarray(W0))
    for _ in range(2):  # traced, then cached
        x, W = backend.asarray(x0.copy()), backend.asarray(W0.copy())
        _, pb = yota.vjp(f, x, W)
        _, f_jvp = yota.linearize(f, x, W)
        x[...] = 0.0
        W[...] = 1.0
        got = pb(backend.asarray(ct))
        for a, b in zip(got[1:], want[1:]):
            np.testing.assert_allclose(yota.testing.to_numpy(a), yota.testing.to_numpy(b), rtol=1e-12)
        np.testing.assert_allclose(yota.testing.to_numpy(f_jvp(backend.asarray(ct), backend.asarray(W0))),
                                   yota.testing.to_numpy(want_jv), rtol=1e-12)


def test_yota_testing_is_an_attribute_of_yota():
    # the documented call, from a fresh interpreter: import yota, then yota.testing.check_grad
    import subprocess
    import sys
    code = "import yota; print(yota.testing.check_grad.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "check_grad", out.stderr[-500:]


def test_asarray_of_a_list_of_traced_values(backend):
    # jnp.array([a, b]) / np.asarray([a, b]): the values stacked, nested lists as more axes
    def f(x):
        xp = namespace_of(x)
        v = xp.asarray([x[0] * 2.0, xp.sum(x), 1.5])
        m = xp.asarray([[x[0], x[1]], [x[1], 3.0]])
        return xp.sum(v * v) + xp.sum(m @ m)

    x = backend.asarray(np.array([0.5, -1.0, 2.0]))
    if backend.name == "array_api_strict":
        pytest.skip("array-api-strict refuses arrays inside asarray's list (the standard has stack)")
    yota.testing.check_grad(f, x)
    x32 = backend.asarray(np.array([0.5, -1.0], dtype=np.float32))
    pair = yota.trace(lambda x: namespace_of(x).asarray([x[0], x[1]]), x32)[0]
    assert pair.dtype == x32.dtype


_W_READ = {}


def _reads_global_w(x):
    W = _W_READ["W"]
    return namespace_of(x).tanh(x @ W.T) * W[0, ...]  # the backward half reads W itself


def test_a_pullback_after_a_global_it_reads_was_written_in_place(backend):
    if backend.name == "jax":
        pytest.skip("JAX arrays cannot be written")
    r = np.random.default_rng(6)
    _W_READ["W"] = W = backend.asarray(r.standard_normal((5, 5)))
    x, ct = backend.asarray(r.standard_normal((3, 5))), backend.asarray(r.standard_normal((3, 5)))
    try:
        for _ in range(2):  # traced, then cached
            _, pb = yota.vjp(_reads_global_w, x)
            pb(ct)  # unchanged: fine
            W[0, ...] = backend.asarray(np.zeros(5))
            with pytest.raises(yota.errors.StaleTapeError, match="written in place since this vjp"):
                pb(ct)
            _W_READ["W"] = W = backend.asarray(r.standard_normal((5, 5)))
    finally:
        _W_READ.clear()
