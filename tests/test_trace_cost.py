"""What keeps a long trace cheap (the collector, shared types, one kwargs mapping)
must not change an answer or the program's own garbage-collector settings."""
from __future__ import annotations

import gc

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota
from yota import tape as tape_mod
from yota.tape import type_of


def _loop(n):
    def loss(x):
        xp = array_namespace(x)
        for _ in range(n):
            x = xp.tanh(x) * 1.0001
        return xp.sum(x)
    return loss


def _loop_grad(n, x):
    d = np.ones_like(x)
    for _ in range(n):
        t = np.tanh(x)
        d = d * (1 - t * t) * 1.0001
        x = t * 1.0001
    return d


@pytest.mark.parametrize("state", ["enabled", "disabled", "frozen"])
def test_the_collector_is_left_as_the_program_set_it(state):
    yota.reset()
    before = gc.isenabled()
    frozen_obj = [object()]
    try:
        if state == "disabled":
            gc.disable()
        if state == "frozen":
            gc.freeze()
        freeze_count = gc.get_freeze_count()
        f = _loop(300)
        for seed in (0, 1):  # traced, then cached
            x = np.random.default_rng(seed).standard_normal(5)
            np.testing.assert_allclose(yota.grad(f, x)[1][1], _loop_grad(300, x), rtol=1e-12)
        assert gc.isenabled() is (state != "disabled")
        # what the program froze stays frozen (unfreezing it would hand it back to the collector)
        if state != "frozen":
            assert gc.get_freeze_count() == 0  # (the trace's own freeze is undone)
        else:
            assert gc.get_freeze_count() > freeze_count // 2
        if state == "frozen":
            assert not any(o is frozen_obj for o in gc.get_objects())  # (the permanent generation is not listed)
    finally:
        gc.unfreeze()
        (gc.enable if before else gc.disable)()
    del frozen_obj


def test_a_long_trace_leaves_nothing_for_the_young_generation():
    yota.reset()
    gc.collect()
    x = np.random.default_rng(2).standard_normal(4)
    g = yota.grad(_loop(3000), x)[1][1]
    # the trace's objects (the cached tape holds several per op) went to the oldest generation at
    # once, not through a young-generation pass that walks them all
    young = len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1))
    assert young < 3000, young
    np.testing.assert_allclose(g, _loop_grad(3000, x), rtol=1e-11)


class _Shaped:
    """An array-like whose shape and dtype are whatever the test says."""

    def __init__(self, shape, dtype):
        self.shape = shape
        self.dtype = dtype


def test_type_of_tells_dtypes_and_shapes_apart():
    little, big = np.dtype("<f8"), np.dtype(">f8")
    assert type_of(_Shaped((2, 3), little)) == ((2, 3), "float64", None)
    assert type_of(_Shaped((2, 3), big)).dtype == "float64"
    assert type_of(_Shaped((2, 3), np.dtype("float32"))).dtype == "float32"
    assert type_of(_Shaped((3, 2), little)).shape == (3, 2)
    assert type_of(_Shaped([4, 5], little)).shape == (4, 5)  # a shape that does not hash
    assert type_of(_Shaped((np.int64(4),), little)).shape == (4,)
    assert type(type_of(_Shaped((np.int64(4),), little)).shape[0]) is int
    assert type_of(_Shaped((float("nan"), 3), little)).shape == (None, 3)  # a lazy library's unknown size
    assert type_of(_Shaped((None, 3), little)).shape == (None, 3)
    assert type_of(1.5).dtype == "py:float"


def test_type_of_never_serves_a_freed_dtype():
    # the cache holds the dtype it was made for, so another dtype cannot take over its id
    for name in ("float32", "float64", "int32", "complex64") * 3:
        dt = np.dtype(name).newbyteorder("=")
        assert type_of(_Shaped((2,), dt)).dtype == name
        del dt


def test_cotangents_of_another_dtype_are_still_cast():
    # the cheap path of the reverse sweep takes a cotangent as it is only when its type is the
    # argument's own; a rule returning float64 for a float32 argument is cast back
    @yota.primitive
    def scale(x):
        return x * 2.0

    @yota.rrule(scale)
    def scale_rule(xp, x):
        return scale(x), lambda g: (xp.astype(g, xp.float64) * 2.0,)

    def f(x):
        xp = array_namespace(x)
        return xp.sum(scale(x) * x)

    for seed in (0, 1):
        x = np.random.default_rng(seed).standard_normal(3).astype(np.float32)
        g = yota.grad(f, x)[1][1]
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, 4 * x, rtol=1e-6)


def test_ops_without_keywords_share_one_mapping_nobody_writes_to(rng):
    def f(x, w):
        xp = array_namespace(x)
        y = xp.sum(xp.tanh(x @ w), axis=0, keepdims=True)
        return xp.mean(xp.reshape(y, (-1,)) ** 2) + xp.max(x)

    for seed in (0, 1):
        r = np.random.default_rng(seed)
        x, w = r.standard_normal((4, 3)), r.standard_normal((3, 5))
        yota.grad(f, x, w)
        yota.vjp(f, x, w)
        yota.jacrev(xp_tanh)(x)
    assert tape_mod._NO_KWARGS == {}


def xp_tanh(a):
    return array_namespace(a).tanh(a)


def _mixed(x, w):
    xp = array_namespace(x)
    h = xp.tanh(x @ w)
    m = xp.max(h, axis=1, keepdims=True)
    e = xp.exp(h - m)
    s = e / xp.sum(e, axis=1, keepdims=True)
    if xp.sum(s) > 0:  # a guard
        s = s * 2.0
    u, v = xp.unique_inverse(xp.round(x))  # several results, a data-dependent size
    return xp.sum(s * s) + xp.sum(xp.sin(u)) + xp.sum(v * 0.0) + xp.sum(x[:, ::2])


@pytest.mark.parametrize("f, make", [
    (_mixed, lambda r: (r.standard_normal((6, 4)), r.standard_normal((4, 5)))),
    (_loop(40), lambda r: (r.standard_normal(5),)),
])
def test_long_tapes_reuse_names_and_compute_the_same(monkeypatch, f, make):
    from yota import codegen, passes
    r = np.random.default_rng(3)
    args = make(r)
    tape = passes.optimize(yota.gradtape(f, *args))
    plain_src = codegen.generate(tape, "g")
    monkeypatch.setattr(codegen, "REUSE_NAMES_ABOVE", 0)  # as for a long tape
    reused_src = codegen.generate(tape, "g")
    assert reused_src.count("del ") < plain_src.count("del ")
    from yota.backends import numpy as yn
    for seed in (4, 5):
        new = make(np.random.default_rng(seed))
        new = (args[0],) + new[1:]  # (the same x: the same unique values, the guards hold)
        monkeypatch.setattr(codegen, "REUSE_NAMES_ABOVE", 10 ** 9)
        want = codegen.compile_tape(tape, "g")(yn.namespace, yn, *new)
        monkeypatch.setattr(codegen, "REUSE_NAMES_ABOVE", 0)
        got = codegen.compile_tape(tape, "g")(yn.namespace, yn, *new)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
