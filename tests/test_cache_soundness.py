"""A cached tape is served only when everything the traced code read is unchanged.

Grouped by mechanism: what is in the key (function objects, partials, wrappers,
closures), what is guarded (globals, module and class attributes, small global
containers, closure cells of global functions), what invalidates (rules), what is
never merged (impure primitives), and how variants are kept (LRU, warnings). Each
test changes one thing between calls and checks the gradient against the value
computed from scratch.
"""
from __future__ import annotations

import array
import collections
import contextvars
import dataclasses
import functools
import itertools
import math
import os
import types
import warnings

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota
from yota import cache

import _dynamic_lib as dynlib
import _guarded_lib as lib
from _helpers import namespace_of


def fresh(f, *args, **kw):
    """The result of a call traced from scratch (no cache)."""
    saved = dict(cache._CACHE), dict(cache._FAST)
    cache._CACHE.clear()
    cache._FAST.clear()
    try:
        return yota.grad(f, *args, **kw)
    finally:
        cache._CACHE.clear()
        cache._CACHE.update(saved[0])
        cache._FAST.clear()
        cache._FAST.update(saved[1])


def same(a, b):
    va, ga = a
    vb, gb = b
    np.testing.assert_allclose(np.asarray(yota.testing.to_numpy(va)), np.asarray(yota.testing.to_numpy(vb)))
    for x, y in zip(ga, gb):
        if isinstance(x, yota.ZeroTangent) or isinstance(y, yota.ZeroTangent):
            assert type(x) is type(y)
            continue
        if isinstance(x, yota.Tangent):
            for k in x.fields:
                same((0.0, (x.fields[k],)), (0.0, (y.fields[k],)))
            continue
        if isinstance(x, (tuple, list)):
            same((0.0, tuple(x)), (0.0, tuple(y)))
            continue
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            same((0.0, tuple(x.values())), (0.0, tuple(y.values())))
            continue
        np.testing.assert_allclose(yota.testing.to_numpy(x), yota.testing.to_numpy(y))


# --------------------------------------------------------------------------- the key: functions and wrappers

def _sq(x, lam=1.0, w=None):
    xp = namespace_of(x)
    y = x if w is None else x * w
    return lam * xp.sum(y * y)


def test_partial_keywords_and_arrays_take_part(backend):
    x = backend.asarray([0.5, -1.0, 2.0])
    for lam in (1.0, 10.0, 3):
        same(yota.grad(functools.partial(_sq, lam=lam), x), fresh(functools.partial(_sq, lam=lam), x))
    w1, w2 = backend.asarray([1.0, 2.0, 3.0]), backend.asarray([2.0, 4.0, 6.0])
    for w in (w1, w2, w1):
        got = yota.grad(functools.partial(_sq, w=w), x)
        same(got, fresh(functools.partial(_sq, w=w), x))
    # the array bound in the partial gets its gradient too
    g = yota.grad(functools.partial(_sq, w=w1), x)[1][0]
    np.testing.assert_allclose(yota.testing.to_numpy(g.keywords["w"]),
                               2 * yota.testing.to_numpy(w1) * yota.testing.to_numpy(x) ** 2)


def test_nested_partials_and_positional_arguments(rng):
    x = rng.standard_normal(3)
    inner = functools.partial(_sq, lam=2.0)
    for w in (np.ones(3), np.full(3, 2.0)):
        f = functools.partial(inner, w=w)
        same(yota.grad(f, x), fresh(f, x))
    for lam in (1.5, 4.5):
        f = functools.partial(lambda lam, x: _sq(x, lam), lam)
        same(yota.grad(f, x), fresh(f, x))


def test_decorators_bound_methods_and_callable_objects(rng):
    x = rng.standard_normal(3)

    def scaled(k):
        def deco(fn):
            @functools.wraps(fn)
            def wrapper(x):
                return fn(x) * k
            return wrapper
        return deco

    for k in (2.0, 3.0, 2):
        f = scaled(k)(lambda x: _sq(x))
        same(yota.grad(f, x), fresh(f, x))

    class M:
        def __init__(self, lam):
            self.lam = lam

        def loss(self, x):
            return _sq(x, self.lam)

        __call__ = loss

    for lam in (1.0, 5.0, 2):
        same(yota.grad(M(lam).loss, x), fresh(M(lam).loss, x))
        same(yota.grad(M(lam), x), fresh(M(lam), x))


# --------------------------------------------------------------------------- guards: what the code resolved by name

SCALE = 2.0
FLAG = True
ARR = np.ones(3)
SIZES = [1.0, 2.0]


def _uses_globals(x):
    xp = namespace_of(x)
    y = xp.sum(xp.sin(x)) if FLAG else xp.sum(xp.cos(x))
    return y * SCALE + xp.sum(x * ARR) + sum(SIZES) * xp.sum(x)


def test_module_globals_are_guarded(backend, monkeypatch):
    x = backend.asarray([0.5, -1.0, 2.0])
    x2 = backend.asarray([0.1, 0.2, 0.3])
    monkeypatch.setitem(globals(), "ARR", backend.asarray(np.ones(3)))
    for name, value in (("SCALE", 5.0), ("SCALE", 5), ("FLAG", False), ("ARR", backend.asarray(np.full(3, 3.0))),
                        ("SCALE", -0.0)):
        same(yota.grad(_uses_globals, x), fresh(_uses_globals, x))
        monkeypatch.setitem(globals(), name, value)
        same(yota.grad(_uses_globals, x2), fresh(_uses_globals, x2))
        same(yota.grad(_uses_globals, x), fresh(_uses_globals, x))
    SIZES.append(4.0)  # a small global list: its contents are guarded
    try:
        same(yota.grad(_uses_globals, x), fresh(_uses_globals, x))
    finally:
        SIZES.pop()


def test_rebinding_to_an_equal_value_keeps_the_cache(rng, monkeypatch):
    x = rng.standard_normal(3)
    yota.grad(_uses_globals, x)
    monkeypatch.setitem(globals(), "SCALE", float("2.0"))  # a new object, the same value
    before = yota.cache_info()["traces"]
    yota.grad(_uses_globals, x)
    assert yota.cache_info()["traces"] == before


def test_module_attributes_and_helpers_are_guarded(rng, monkeypatch):
    x = rng.standard_normal(3)

    def loss(x):
        return array_namespace(x).sum(lib.softplus(x))

    same(yota.grad(loss, x), fresh(loss, x))
    monkeypatch.setattr(lib, "BETA", 3.0)  # read inside the helper's own module
    same(yota.grad(loss, x), fresh(loss, x))
    monkeypatch.setattr(lib, "softplus", lib.double)  # the helper itself rebound
    same(yota.grad(loss, x), fresh(loss, x))


def test_class_attributes_read_through_self(rng, monkeypatch):
    x = rng.standard_normal(3)

    class Base:
        scale = 2.0

        def act(self, x):
            return array_namespace(x).tanh(x)

    class Model(Base):
        def __init__(self, w):
            self.w = w

        def __call__(self, x):
            return array_namespace(x).sum(self.act(self.w * x)) * self.scale

    m = Model(np.ones(3))
    same(yota.grad(m, x), fresh(m, x))
    Base.scale = 5.0
    same(yota.grad(m, x), fresh(m, x))
    Model.scale = 7.0  # a subclass now shadows it
    same(yota.grad(m, x), fresh(m, x))
    Model.act = lambda self, x: array_namespace(x).sin(x)  # a method replaced
    same(yota.grad(m, x), fresh(m, x))


def test_lambdas_made_in_a_loop_over_a_global(rng):
    x = rng.standard_normal(3)
    fs = [lambda x: _sq(x, K) for K in range(1)]  # noqa: F821 - K is this module's global below
    globals()["K"] = 2.0
    try:
        same(yota.grad(fs[0], x), fresh(fs[0], x))
        globals()["K"] = 5.0
        same(yota.grad(fs[0], x), fresh(fs[0], x))
    finally:
        del globals()["K"]


def test_closure_cells_of_called_global_functions(rng):
    x = rng.standard_normal(3)

    def make(k):
        return lambda x: x * k

    globals()["_act"] = make(2.0)

    def loss(x):
        return array_namespace(x).sum(_act(x))  # noqa: F821

    try:
        same(yota.grad(loss, x), fresh(loss, x))
        globals()["_act"] = make(3.0)
        same(yota.grad(loss, x), fresh(loss, x))
    finally:
        del globals()["_act"]


# --------------------------------------------------------------------------- rules, primitives

def test_a_new_rule_drops_tapes_that_applied_the_old_one(rng):
    x = rng.standard_normal(3)

    @yota.primitive
    def cube(x):
        return x ** 3

    @yota.rrule(cube)
    def _(xp, x):
        return x * x * x, lambda g: (3 * g * x * x,)  # the forward does not call cube

    f = lambda x: array_namespace(x).sum(cube(x))  # noqa: E731
    np.testing.assert_allclose(yota.grad(f, x)[1][1], 3 * x * x)

    @yota.rrule(cube, override=True)
    def _(xp, x):
        return x * x * x, lambda g: (g * 0.0,)

    np.testing.assert_allclose(yota.grad(f, x)[1][1], 0.0)


def test_replacing_a_standard_rule_drops_tapes_whose_forward_records_other_ops(rng):
    x = rng.standard_normal((2, 2))
    entry = yota.ops.get("full_like")
    saved = entry.rule

    def f(x):
        xp = array_namespace(x)
        return xp.sum(xp.full_like(x, xp.sum(x)) * x)  # full_like's rule records zeros_like + astype

    try:
        first = yota.grad(f, x)

        @yota.rrule("full_like", override=True)
        def _(xp, x, /, fill_value, *, dtype=None, device=None):
            y = xp.zeros_like(x) + fill_value
            return y, lambda g: (None, lambda: xp.sum(g) * 0.0)

        assert not np.allclose(yota.grad(f, x)[1][1], first[1][1])
    finally:
        entry.rule = saved
        yota.reset()


def test_replacing_a_rule_warns_unless_overridden():
    @yota.primitive
    def p(x):
        return x

    yota.rrule(p)(lambda xp, x: (p(x), lambda g: (g,)))
    with pytest.warns(UserWarning, match="override=True"):
        yota.rrule(p)(lambda xp, x: (p(x), lambda g: (g,)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yota.rrule(p, override=True)(lambda xp, x: (p(x), lambda g: (g,)))


def test_impure_primitives_are_never_merged(rng):
    draws = np.random.default_rng(0)

    @yota.primitive
    def noise(x):
        return x + draws.standard_normal(x.shape)

    @yota.rrule(noise)
    def _(xp, x):
        return noise(x), lambda g: (g,)

    f = lambda x: array_namespace(x).sum(noise(x) - noise(x))  # noqa: E731
    x = rng.standard_normal(4)
    assert yota.grad(f, x)[0] != 0.0 and yota.grad(f, x)[0] != 0.0  # traced, then cached

    @yota.primitive(pure=True)
    def twice(x):
        return x * 2

    @yota.rrule(twice)
    def _(xp, x):
        return twice(x), lambda g: (g * 2,)

    tape = yota.gradtape(lambda x: array_namespace(x).sum(twice(x) - twice(x)), x)
    assert str(tape).count("twice(") == 1


# --------------------------------------------------------------------------- variants

def test_variants_are_least_recently_used(rng):
    def f(x, n):
        xp = array_namespace(x)
        y = x
        for _ in range(int(n[0])):  # a guard per value of n
            y = xp.sin(y)
        return xp.sum(y)

    x = rng.standard_normal(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k in range(cache.MAX_VARIANTS + 4):
            yota.grad(f, x, np.array([k % (cache.MAX_VARIANTS - 1)]))
            yota.grad(f, x, np.array([0]))  # the first variant, kept in use
    before = yota.cache_info()["traces"]
    yota.grad(f, x, np.array([0]))
    assert yota.cache_info()["traces"] == before


def test_a_function_that_keeps_retracing_warns_once_naming_the_line(rng):
    def f(x, n):
        if int(n[0]) == 1000:  # a different value every call
            return array_namespace(x).sum(x)
        return array_namespace(x).sum(x * x)

    x = rng.standard_normal(3)
    with pytest.warns(RuntimeWarning, match=r"traced 8 times.*test_cache_soundness.py:\d+") as record:
        for k in range(12):
            yota.grad(f, x, np.array([k]))
    assert len([w for w in record if "traced" in str(w.message)]) == 1


def test_compiled_tape_refuses_another_function(rng):
    x = rng.standard_normal(3)
    c = yota.compile(yota.gradtape(_sq, x))
    np.testing.assert_allclose(c(_sq, x * 2)[1][1], 4 * x)
    with pytest.raises(yota.YotaError, match="another function"):
        c(lambda x: _sq(x) * 2, x)
    with pytest.raises(yota.YotaError, match="another function"):
        c(_sq, np.ones(4))


def test_reset_empties_generated_sources(rng):
    import linecache

    from yota import codegen
    yota.grad(_sq, rng.standard_normal(3))
    yota.grad(_sq, rng.standard_normal(3))  # compiled on its first reuse
    assert any(k.startswith("<yota") for k in linecache.cache)
    yota.reset()
    assert not any(k.startswith("<yota") for k in linecache.cache)
    assert len(codegen._SOURCES) <= codegen.MAX_SOURCES


def test_static_values_that_compare_equal_are_told_apart(rng):
    x = rng.standard_normal(3)

    def f(x, flag):
        return namespace_of(x).sum(x) * (2.0 if flag is True else 3.0)

    def g(x, c):
        import math
        return namespace_of(x).sum(x) * (5.0 if math.copysign(1.0, c.real) < 0 else 1.0)

    for a, b in ((True, 1), (1, True)):
        same(yota.grad(f, x, a), fresh(f, x, a))
        same(yota.grad(f, x, b), fresh(f, x, b))
    for c in (0j, complex(-0.0, 0.0), 0j):
        same(yota.grad(g, x, c), fresh(g, x, c))


SMALL = np.array([1.0, -1.0])


HELD = [None]
PARAMS = {"w": None, "nested": [None]}


def _reads_held(x):
    xp = namespace_of(x)
    return xp.sum(xp.sin(x) * HELD[0]) + xp.sum(x * PARAMS["w"]) + xp.sum(x * PARAMS["nested"][0])


def _make_helper():
    scale = [None]  # a closure of another function: rebound by nonlocal, or changed in place
    factor = None

    def helper(x):
        return x * scale[0] * factor

    def set_scale(v):
        scale[0] = v

    def set_factor(v):
        nonlocal factor
        factor = v

    return helper, set_scale, set_factor


_HELPER, _SET_SCALE, _SET_FACTOR = _make_helper()


def _uses_helper(x):
    return namespace_of(x).sum(_HELPER(x))


def test_arrays_inside_containers_the_code_reads_are_guarded(backend):
    # a list or dict holding arrays (nested too), a closure cell of a helper: an item replaced
    # (not the container) is a change; the tape holds the array it read as a constant
    x = backend.asarray([0.5, -1.0, 2.0])
    r = np.random.default_rng(5)
    for i in range(4):  # each change retraces; the same contents hit
        HELD[0] = backend.asarray(r.standard_normal(3))
        PARAMS["w"] = backend.asarray(r.standard_normal(3))
        PARAMS["nested"][0] = backend.asarray(r.standard_normal(3))
        _SET_SCALE(backend.asarray(r.standard_normal(3)))
        _SET_FACTOR(backend.asarray(r.standard_normal(3)))
        for f in (_reads_held, _uses_helper):
            same(yota.grad(f, x), fresh(f, x))
            same(yota.grad(f, x), fresh(f, x))  # (the compiled tape, now)
    before = yota.cache_info()["traces"]
    yota.grad(_reads_held, x)
    assert yota.cache_info()["traces"] == before  # unchanged contents: no retrace


class _Layer:
    def __init__(self, W, sub=None):
        self.W = W
        self.sub = sub


LAYERS = [_Layer(None)]
PAIR = (_Layer(None),)
MODEL = _Layer(None, sub=_Layer(None))


def _reads_objects(x):
    xp = namespace_of(x)
    return xp.sum(x * LAYERS[0].W) + xp.sum(x * PAIR[0].W) + xp.sum(x * MODEL.sub.W)


def test_fields_of_objects_inside_containers_and_objects_are_guarded(backend):
    x = backend.asarray([0.5, -1.0, 2.0])
    r = np.random.default_rng(6)
    for i in range(3):
        LAYERS[0].W = backend.asarray(r.standard_normal(3))
        PAIR[0].W = backend.asarray(r.standard_normal(3))
        MODEL.sub.W = backend.asarray(r.standard_normal(3))
        same(yota.grad(_reads_objects, x), fresh(_reads_objects, x))
        same(yota.grad(_reads_objects, x), fresh(_reads_objects, x))


@dataclasses.dataclass(slots=True)
class _SlottedConfig:
    scale: float
    W: object = None


SLOTTED = _SlottedConfig(2.0)


def _reads_slots(x):
    return namespace_of(x).sum(x * SLOTTED.W) * SLOTTED.scale


def test_fields_of_a_global_object_with_slots_are_guarded(backend):
    x = backend.asarray([0.5, -1.0, 2.0])
    for i in range(3):
        SLOTTED.scale = float(i + 2)
        SLOTTED.W = backend.asarray(np.full(3, float(i + 5)))
        same(yota.grad(_reads_slots, x), fresh(_reads_slots, x))
        same(yota.grad(_reads_slots, x), fresh(_reads_slots, x))


def test_a_large_global_container_read_by_traced_code_is_a_warning(rng, monkeypatch):
    big = [np.ones(3)] + [0.0] * yota.guards.MAX_CONTAINER
    monkeypatch.setitem(globals(), "BIG", big)

    def f(x):
        return array_namespace(x).sum(x * BIG[0])  # noqa: F821 - set above

    yota.reset()
    with pytest.warns(RuntimeWarning, match="BIG, a list of more than"):
        yota.grad(f, rng.standard_normal(3))


def test_small_global_arrays_are_guarded_by_contents(rng):
    x = rng.standard_normal(3)

    def f(x):
        xp = namespace_of(x)
        return xp.sum(x) * (2.0 if SMALL[0] > 0 else 3.0) + xp.sum(x * SMALL[1])

    same(yota.grad(f, x), fresh(f, x))
    SMALL[0] = -5.0  # in place: the branch taken at trace time changes
    try:
        same(yota.grad(f, x), fresh(f, x))
    finally:
        SMALL[0] = 1.0


# --------------------------------------------------------------------------- arrays changed in place

class _HoldsW:
    W = None


_W_GLOBAL = None
_W_LIST = [None]
_W_DICT = {"w": [None]}
_W_TUPLE = (None,)
_W_OBJECT = _Layer(None)
_W_INSTANCE = _HoldsW()


def _make_cell():
    W = None

    def put(v):
        nonlocal W
        W = v

    def get():
        return W
    return put, get


_PUT_CELL, _GET_CELL = _make_cell()


def _read_default(W=None):
    return W


# where the traced code finds an array that is not an argument: how the test puts it there, how
# the code reads it
_HOLDERS = {
    "global": (lambda mp, W: mp.setitem(globals(), "_W_GLOBAL", W), lambda: _W_GLOBAL),
    "list item": (lambda mp, W: _W_LIST.__setitem__(0, W), lambda: _W_LIST[0]),
    "nested dict item": (lambda mp, W: mp.setitem(_W_DICT, "w", [W]), lambda: _W_DICT["w"][0]),
    "tuple item": (lambda mp, W: mp.setitem(globals(), "_W_TUPLE", (W,)), lambda: _W_TUPLE[0]),
    "class attribute": (lambda mp, W: mp.setattr(_HoldsW, "W", W), lambda: _W_INSTANCE.W),
    "field of a global object": (lambda mp, W: mp.setattr(_W_OBJECT, "W", W), lambda: _W_OBJECT.W),
    "module attribute": (lambda mp, W: mp.setattr(lib, "W", W, raising=False), lambda: lib.W),
    "closure cell of a global function": (lambda mp, W: _PUT_CELL(W), lambda: _GET_CELL()),
    "default": (lambda mp, W: mp.setattr(_read_default, "__defaults__", (W,)), _read_default),
}


def _computes_from(read):
    def f(x):
        xp = namespace_of(x)
        W = read()
        sign = 1.0 if float(W[0, 0]) > 0 else -1.0  # a Python decision made from its values
        return sign * xp.sum(xp.tanh(x @ (W * 2.0)))  # W * 2.0: the library computes it, off the tape
    return f


@pytest.mark.parametrize("holder", sorted(_HOLDERS))
def test_arrays_read_outside_the_arguments_changed_in_place(backend, holder, monkeypatch):
    # The tape reads such an array by reference, but what the code computed from it without the
    # tracer (W * 2.0 in the library itself, the `if`) is baked in: an in-place change must retrace.
    # 100 elements: more than the small arrays keyed by their bytes.
    if backend.name == "jax":
        pytest.skip("JAX arrays cannot be written in place: identity guards them")
    put, read = _HOLDERS[holder]
    r = np.random.default_rng(7)
    W = backend.asarray(r.standard_normal((10, 10)))
    put(monkeypatch, W)
    f = _computes_from(read)
    x = backend.asarray(r.standard_normal((2, 10)))
    same(yota.grad(f, x), fresh(f, x))
    for i in range(3):
        W[0, :] = backend.asarray(r.standard_normal(10) * 0.1 + (-1.0) ** i)  # the same object, new values
        same(yota.grad(f, x), fresh(f, x))
        same(yota.grad(f, x), fresh(f, x))
    before = yota.cache_info()["traces"]
    yota.grad(f, x)
    assert yota.cache_info()["traces"] == before  # unchanged contents: no retrace


def _signs_of(x):
    xp = namespace_of(x)
    positive = (1.0 / _W_GLOBAL) > 0  # inf or -inf: the sign of each zero, computed off the tape
    return xp.sum(xp.where(positive, x, -x))


def test_contents_are_compared_bit_for_bit(backend, monkeypatch):
    # 0.0 and -0.0 compare equal but are different contents; NaN is unchanged when it stays NaN
    if backend.name == "jax":
        pytest.skip("JAX arrays cannot be written in place: identity guards them")
    W = backend.asarray(np.zeros((10, 10)))
    monkeypatch.setitem(globals(), "_W_GLOBAL", W)
    x = backend.asarray(np.ones((10, 10)))
    same(yota.grad(_signs_of, x), fresh(_signs_of, x))
    W[0, :] = backend.asarray(np.full(10, -0.0))
    same(yota.grad(_signs_of, x), fresh(_signs_of, x))
    if backend.name == "dask":
        return  # a Dask array's contents are its graph: a write, even of the same values, is a new one
    W[1, :] = backend.asarray(np.full(10, np.nan))
    yota.grad(_signs_of, x)
    before = yota.cache_info()["traces"]
    W[1, :] = backend.asarray(np.full(10, np.nan))  # written again, the same bits
    yota.grad(_signs_of, x)
    assert yota.cache_info()["traces"] == before


def test_an_array_too_large_to_copy_is_a_warning(rng, monkeypatch):
    monkeypatch.setattr(yota.guards, "MAX_SNAPSHOT_BYTES", 512)
    monkeypatch.setitem(globals(), "_W_GLOBAL", rng.standard_normal((10, 10)))
    yota.reset()
    with pytest.warns(RuntimeWarning, match="_W_GLOBAL, an array of more than"):
        yota.grad(_computes_from(lambda: _W_GLOBAL), rng.standard_normal((2, 10)))


# --------------------------------------------------------------------------- defaults

class _Config:
    def __init__(self, scale):
        self.scale = scale


def test_mutable_defaults_mutated_in_place(rng):
    # the key holds defaults by identity: their contents (a list, a dict, an object's fields,
    # keyword-only ones too) are guarded, so an in-place change retraces
    x = rng.standard_normal(3)

    def with_list(x, c=[2.0]):  # noqa: B006 - the point of the test
        return array_namespace(x).sum(x * x) * c[0]

    def with_dict(x, *, c={"k": 2.0}):  # noqa: B006
        return array_namespace(x).sum(x * x) * c["k"]

    def with_object(x, cfg=_Config(2.0)):  # noqa: B008
        return array_namespace(x).sum(x * x) * cfg.scale

    for f, change in ((with_list, lambda: with_list.__defaults__[0].__setitem__(0, 5.0)),
                      (with_dict, lambda: with_dict.__kwdefaults__["c"].__setitem__("k", 5.0)),
                      (with_object, lambda: setattr(with_object.__defaults__[0], "scale", 5.0))):
        same(yota.grad(f, x), fresh(f, x))
        change()
        val, g = yota.grad(f, x)
        np.testing.assert_allclose(g[1], 10.0 * x)
        same((val, g), fresh(f, x))


# --------------------------------------------------------------------------- custom rules

@yota.custom_vjp
def _square(x):
    return x * x


def _square_fwd(x):
    return x * x, x


def _square_bwd(x, g):
    return (g * 2.0 * x * lib.BETA,)  # a module global read by bwd only


_square.defvjp(_square_fwd, _square_bwd)


def _sum_of_squares(x):
    return array_namespace(x).sum(_square(x))  # the custom_vjp function reached as a global


def test_custom_vjp_rule_reading_a_global_and_defined_again(rng):
    x = rng.standard_normal(3)
    old = lib.BETA
    try:
        lib.BETA = 1.0
        np.testing.assert_allclose(yota.grad(_sum_of_squares, x)[1][1], 2.0 * x)
        lib.BETA = 3.0
        np.testing.assert_allclose(yota.grad(_sum_of_squares, x)[1][1], 6.0 * x)
        _square.defvjp(_square_fwd, lambda x, g: (g * 0.5,))  # a new rule for the same function object
        np.testing.assert_allclose(yota.grad(_sum_of_squares, x)[1][1], np.full(3, 0.5))
    finally:
        lib.BETA = old
        _square.defvjp(_square_fwd, _square_bwd)


_RULE_SCALE = 2.0


@yota.primitive
def _tripled(x):
    return x * 3.0


@yota.rrule(_tripled)
def _tripled_rule(xp, x):
    return _tripled(x), lambda g: (g * _RULE_SCALE,)  # a deliberately odd rule reading a global


def test_a_users_rule_reading_a_global(rng):
    # the rules a trace applied ran the user's code: what they read is guarded too
    x = rng.standard_normal(3)

    def f(x):
        return array_namespace(x).sum(_tripled(x))

    try:
        np.testing.assert_allclose(yota.grad(f, x)[1][1], np.full(3, 2.0))
        globals()["_RULE_SCALE"] = 5.0
        np.testing.assert_allclose(yota.grad(f, x)[1][1], np.full(3, 5.0))
    finally:
        globals()["_RULE_SCALE"] = 2.0


# --------------------------------------------------------------------------- random generators

_RNG = np.random.default_rng(1)


class _Dropout:
    def __init__(self):
        self.rng = np.random.default_rng(2)

    def loss(self, x):
        xp = array_namespace(x)
        return xp.sum(x * xp.asarray(self.rng.random(3)))


def _draws_each_call(f, *args):
    grads = [np.asarray(yota.grad(f, *args)[1][1]).copy() for _ in range(3)]
    assert not np.allclose(grads[0], grads[1]) and not np.allclose(grads[1], grads[2])


def test_random_draws_are_fresh_on_every_call(rng):
    # What the traced code draws from a random generator is a constant of the tape; a generator the
    # code can reach (argument, global, np.random's functions, Python's random, a closure, a field)
    # is guarded by its state, so each call that draws traces again: new draws, as without yota
    import random
    x = rng.standard_normal(3)
    gen, rs = np.random.default_rng(0), np.random.RandomState(3)

    def closure(x):
        return array_namespace(x).sum(x * rs.rand(3))

    cases = [(lambda x, g: array_namespace(x).sum(x * g.standard_normal(3)), x, gen),
             (lambda x: array_namespace(x).sum(x * _RNG.standard_normal(3)), x),
             (lambda x: array_namespace(x).sum(x * np.random.normal(size=3)), x),
             (lambda x: array_namespace(x).sum(x) * random.random(), x),
             (closure, x),
             (_Dropout().loss, x)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for f, *args in cases:
            _draws_each_call(f, *args)


def test_a_generator_that_is_not_drawn_from_keeps_the_cache(rng):
    x, gen = rng.standard_normal(3), np.random.default_rng(0)

    def f(x, g):
        return array_namespace(x).sum(x * 2.0)

    before = yota.cache_info()["traces"]
    for _ in range(3):
        yota.grad(f, x, gen)
    assert yota.cache_info()["traces"] == before + 1


def test_drawing_in_every_call_warns_what_to_write():
    x = np.ones(3)

    def f(x):
        return array_namespace(x).sum(x * _RNG.standard_normal(3))

    with pytest.warns(RuntimeWarning, match="random generator _RNG.*pass them in as arrays"):
        for _ in range(cache.RETRACE_WARNING + 1):
            yota.grad(f, x)


class _Celsius(float):
    pass


def test_values_of_builtin_subclasses_and_sets_are_keyed_by_contents(rng):
    # a float subclass is not traced: keyed by its exact value (it had no fields, so every value
    # looked the same); a set or bytearray is keyed by its contents, also when mutated in place
    x = rng.standard_normal(3)

    def scaled(x, c):
        return array_namespace(x).sum(x) * c

    for c in (_Celsius(2.0), _Celsius(3.0), _Celsius(-0.0), _Celsius(0.0)):
        val, _ = yota.grad(scaled, x, c)
        want = x.sum() * c
        assert float(val) == want and math.copysign(1.0, float(val)) == math.copysign(1.0, want)

    def gated(x, active):  # a set of names or a bytearray of flags
        on = ("w" in active) if not isinstance(active, bytearray) else (ord("w") in active)
        return array_namespace(x).sum(x) * (2.0 if on else 3.0) * (1.0 + len(active))

    for s, mutate in ((set("w"), lambda s: (s.discard("w"), s.update("uv"))),
                      (bytearray(b"w"), lambda s: s.__setitem__(slice(None), b"uv"))):
        same(yota.grad(gated, x, s), fresh(gated, x, s))
        mutate(s)  # the same object, other contents
        same(yota.grad(gated, x, s), fresh(gated, x, s))
    same(yota.grad(gated, x, frozenset("w")), fresh(gated, x, frozenset("w")))
    same(yota.grad(gated, x, frozenset("uv")), fresh(gated, x, frozenset("uv")))


# --------------------------------------------------------------------------- containers of every kind

class _ListOf(list):
    pass


_Pair = __import__("collections").namedtuple("_Pair", "s")


def _proxy():
    d = {"s": 2.0}
    return types.MappingProxyType(d), lambda c: d.__setitem__("s", 3.0)


# a global container holding the number the code reads, of each kind that changes in place as a
# list or dict does: (make it, change it in place, read the number)
_CONTAINERS = {
    "defaultdict": (lambda: collections.defaultdict(float, s=2.0), lambda c: c.__setitem__("s", 3.0),
                    lambda c: c["s"]),
    "OrderedDict": (lambda: collections.OrderedDict(s=2.0), lambda c: c.__setitem__("s", 3.0),
                    lambda c: c["s"]),
    "Counter": (lambda: collections.Counter(s=2), lambda c: c.update(s=1), lambda c: c["s"]),
    "ChainMap": (lambda: collections.ChainMap({}, {"s": 2.0}), lambda c: c.__setitem__("s", 3.0),
                 lambda c: c["s"]),
    "list subclass": (lambda: _ListOf([2.0]), lambda c: c.__setitem__(0, 3.0), lambda c: c[0]),
    "deque": (lambda: collections.deque([2.0]), lambda c: c.appendleft(3.0), lambda c: c[0]),
    "array.array": (lambda: array.array("d", [2.0]), lambda c: c.__setitem__(0, 3.0), lambda c: c[0]),
    "bytearray": (lambda: bytearray(b"\x02"), lambda c: c.__setitem__(0, 3), lambda c: c[0]),
    "namedtuple holding a list": (lambda: _Pair([2.0]), lambda c: c.s.__setitem__(0, 3.0),
                                  lambda c: c.s[0]),
    "dict inside a deque": (lambda: collections.deque([{"s": 2.0}]), lambda c: c[0].__setitem__("s", 3.0),
                            lambda c: c[0]["s"]),
}
_HELD_CONTAINER = None
_READ_CONTAINER = None


def _reads_container(x):
    return namespace_of(x).sum(x * x) * _READ_CONTAINER(_HELD_CONTAINER)


@pytest.mark.parametrize("kind", sorted(_CONTAINERS) + ["mappingproxy"])
def test_global_containers_of_every_kind_changed_in_place(backend, kind, monkeypatch):
    # Each of these was guarded by identity only: changed in place, the cached tape kept the old number.
    if kind == "mappingproxy":
        container, change = _proxy()
        read = lambda c: c["s"]  # noqa: E731
    else:
        make, change, read = _CONTAINERS[kind]
        container = make()
    monkeypatch.setitem(globals(), "_HELD_CONTAINER", container)
    monkeypatch.setitem(globals(), "_READ_CONTAINER", read)
    x = backend.asarray(np.array([1.0, -2.0, 0.5]))
    first = yota.grad(_reads_container, x)
    same(first, fresh(_reads_container, x))
    before = yota.cache_info()["traces"]
    same(yota.grad(_reads_container, x), first)
    assert yota.cache_info()["traces"] == before  # unchanged: the cache serves it
    change(container)
    now = yota.grad(_reads_container, x)
    same(now, fresh(_reads_container, x))
    assert float(yota.testing.to_numpy(now[0])) == 1.5 * float(yota.testing.to_numpy(first[0]))


def test_environment_variables_read_by_traced_code(rng, monkeypatch):
    # os.environ is a mapping like any other: a changed variable is a changed input
    monkeypatch.setenv("YOTA_TEST_SCALE", "2")

    def f(x):
        return np.sum(x * x) * float(os.environ["YOTA_TEST_SCALE"])

    x = rng.standard_normal(3)
    same(yota.grad(f, x), fresh(f, x))
    monkeypatch.setenv("YOTA_TEST_SCALE", "3")
    v, _ = yota.grad(f, x)
    assert float(v) == 3.0 * float(np.sum(x * x))


def _iterators():
    def gen():
        k = 0.0
        while True:
            k += 1.0
            yield k
    return {"itertools.count": lambda: itertools.count(1.0), "generator": gen,
            "iter of a list": lambda: iter([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])}


_ITERATOR = None


def _takes_from_iterator(x):
    return namespace_of(x).sum(x * x) * next(_ITERATOR)


@pytest.mark.parametrize("kind", sorted(_iterators()))
def test_global_iterators_are_taken_from_on_every_call(backend, kind, monkeypatch):
    # Where an iterator stands cannot be read: a tape that took from one is never reused, so each
    # call takes the next value, as without yota, and the retrace warning says why.
    make = _iterators()[kind]
    monkeypatch.setitem(globals(), "_ITERATOR", make())
    x = backend.asarray(np.array([1.0, -2.0, 0.5]))
    base = float(np.sum(np.array([1.0, -2.0, 0.5]) ** 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = [float(yota.testing.to_numpy(yota.grad(_takes_from_iterator, x)[0])) for _ in range(6)]
    assert values == [base * k for k in range(1, 7)]
    if kind != "iter of a list":  # (six calls: the warning comes at the eighth)
        return
    monkeypatch.setitem(globals(), "_ITERATOR", itertools.count(1.0))
    with pytest.warns(RuntimeWarning, match="is an iterator"):
        for _ in range(9):
            yota.grad(_takes_from_iterator, x)
    assert not [w for w in caught if "iterator" in str(w.message)]


def _scaled(x, s=1.0, w=None):
    return (x if w is None else x * w) * s


_GLOBAL_PARTIAL = None


def _calls_global_partial(x):
    return namespace_of(x).sum(_GLOBAL_PARTIAL(x))


def test_a_global_partials_arguments_changed_in_place(backend, monkeypatch):
    # a partial's keywords are a dict, and its arguments may hold arrays: both change in place
    W = backend.asarray(np.array([1.0, 2.0, 3.0]))
    p = functools.partial(_scaled, s=2.0, w=W)
    monkeypatch.setitem(globals(), "_GLOBAL_PARTIAL", p)
    x = backend.asarray(np.array([0.5, -1.0, 2.0]))
    same(yota.grad(_calls_global_partial, x), fresh(_calls_global_partial, x))
    p.keywords["s"] = 3.0
    same(yota.grad(_calls_global_partial, x), fresh(_calls_global_partial, x))
    assert float(yota.testing.to_numpy(yota.grad(_calls_global_partial, x)[0])) == 3.0 * (0.5 - 2.0 + 6.0)
    if backend.name not in ("dask", "jax"):
        W[0] = 5.0
        same(yota.grad(_calls_global_partial, x), fresh(_calls_global_partial, x))


class _Answers:
    """An object whose __getattr__ answers every name (a mock, a permissive config)."""

    def __init__(self):
        self.__dict__["store"] = {"scale": 2.0}

    def __getattr__(self, name):
        return self.store.get(name, 1.0)


class _Refuses:
    """An object whose __getattr__ raises KeyError for a missing name, not AttributeError."""

    def __init__(self, s):
        self.s = s

    def __getattr__(self, name):
        raise KeyError(name)


_ANSWERS = _Answers()


def _reads_answers(x):
    return namespace_of(x).sum(x * x) * _ANSWERS.scale


def test_objects_with_odd_getattr(backend):
    # yota asks objects for attributes (is it an array? a bound method? wrapped?); the answers of a
    # __getattr__ that answers everything, or raises KeyError, must not be taken for real ones
    x = backend.asarray(np.array([1.0, -2.0, 0.5]))
    same(yota.grad(_reads_answers, x), fresh(_reads_answers, x))
    _ANSWERS.store["scale"] = 3.0
    try:
        same(yota.grad(_reads_answers, x), fresh(_reads_answers, x))
    finally:
        _ANSWERS.store["scale"] = 2.0

    def f(c, x):
        return namespace_of(x).sum(x * x) * c.s

    for c in (_Refuses(2.0), _Answers()):
        v, g = yota.grad(f, c, x)
        assert float(yota.testing.to_numpy(v)) == float(f(c, np.array([1.0, -2.0, 0.5])))


def test_iterators_as_arguments_closure_cells_and_fields(backend):
    x = backend.asarray(np.array([1.0, -2.0, 0.5]))
    base = float(np.sum(np.array([1.0, -2.0, 0.5]) ** 2))

    def takes(it, x):
        return namespace_of(x).sum(x * x) * next(it)

    def closure():
        it = itertools.count(1.0)
        return lambda x: namespace_of(x).sum(x * x) * next(it)

    class Holds:
        def __init__(self):
            self.it = itertools.count(1.0)

        def __call__(self, x):
            return namespace_of(x).sum(x * x) * next(self.it)

    it = itertools.count(1.0)
    calls = {"argument": lambda: yota.grad(takes, it, x), "closure cell": functools.partial(yota.grad, closure(), x),
             "field of a callable object": functools.partial(yota.grad, Holds(), x)}
    for where, call in calls.items():
        values = [float(yota.testing.to_numpy(call()[0])) for _ in range(3)]
        assert values == [base, 2 * base, 3 * base], where


# --------------------------------------------------------------------------- names made on the fly

_SCALE_VAR = contextvars.ContextVar("_SCALE_VAR", default=2.0)


def test_a_modules_dynamic_attributes_and_context_variables(backend, monkeypatch):
    # dynlib.SCALE comes from the module's __getattr__, not its dict; a ContextVar's value is the
    # calling context's: both were guarded by identity only (the module, the variable object)
    x = backend.asarray(np.array([1.0, -2.0, 0.5]))

    def reads_module(x):
        return namespace_of(x).sum(x * x) * dynlib.SCALE

    def reads_var(x):
        return namespace_of(x).sum(x * x) * _SCALE_VAR.get()

    same(yota.grad(reads_module, x), fresh(reads_module, x))
    monkeypatch.setitem(dynlib.SETTINGS, "SCALE", 3.0)
    same(yota.grad(reads_module, x), fresh(reads_module, x))
    assert float(yota.testing.to_numpy(yota.grad(reads_module, x)[0])) == 3.0 * 5.25

    same(yota.grad(reads_var, x), fresh(reads_var, x))
    token = _SCALE_VAR.set(3.0)
    try:
        same(yota.grad(reads_var, x), fresh(reads_var, x))
        assert float(yota.testing.to_numpy(yota.grad(reads_var, x)[0])) == 3.0 * 5.25
    finally:
        _SCALE_VAR.reset(token)
    assert float(yota.testing.to_numpy(yota.grad(reads_var, x)[0])) == 2.0 * 5.25


@functools.singledispatch
def _weight_of(v):
    return 3.0


class _Dispatches:
    @functools.singledispatchmethod
    def weight(self, v):
        return 5.0


def test_singledispatch_chooses_the_plain_values_implementation(backend):
    # singledispatch dispatches on args[0].__class__: a Tracer took the default implementation where
    # the plain call takes the one registered for the array's class
    x = backend.asarray(np.array([1.0, -2.0, 0.5]))
    cls = type(x)
    _weight_of.register(cls, lambda v: 2.0)
    _Dispatches.weight.register(cls, lambda self, v: 7.0)
    d = _Dispatches()

    def f(x):
        return namespace_of(x).sum(x * x) * _weight_of(x) * d.weight(x)

    assert float(yota.testing.to_numpy(yota.grad(f, x)[0])) == float(yota.testing.to_numpy(f(x))) == 14.0 * 5.25


class _Scaler:
    """Stands for a library's estimator (its class is not the user's): its methods read fields the
    user's code never names."""

    def __init__(self):
        self.mean_, self.scale_ = None, 1.0

    def fit(self, X):
        self.mean_ = X[0, ...] * 0.5
        self.scale_ = 2.0 + float(yota.testing.to_numpy(X[0, 0]))
        return self

    def transform(self, X):
        return (X - self.mean_) / self.scale_


_Scaler.__module__ = "json"  # a module of the standard library: not the user's code
_SCALER = _Scaler()


def _scaled_loss(x):
    return namespace_of(x).sum(_SCALER.transform(x) ** 2)


def test_a_library_objects_fields_are_guarded(backend):
    # SCALER.fit(new data) replaces the fields its transform reads: the tape kept the old ones
    x = backend.asarray(np.array([[0.5, 1.0]]))
    _SCALER.fit(backend.asarray(np.array([[1.0, 2.0], [3.0, 4.0]])))
    same(yota.grad(_scaled_loss, x), fresh(_scaled_loss, x))
    before = yota.cache_info()["traces"]
    same(yota.grad(_scaled_loss, x), fresh(_scaled_loss, x))
    assert yota.cache_info()["traces"] == before + 1  # (fresh traced once; the cached call did not)
    _SCALER.fit(backend.asarray(np.array([[10.0, 20.0], [30.0, 40.0]])))
    same(yota.grad(_scaled_loss, x), fresh(_scaled_loss, x))


def test_arrays_on_two_devices_are_two_keys(backend):
    # a branch on x.device was baked into the tape and served to arrays on another device
    info = backend.xp.__array_namespace_info__() if hasattr(backend.xp, "__array_namespace_info__") else None
    devices = [d for d in (info.devices() if info is not None else ()) if d is not None and str(d) != "meta"]
    if len(devices) < 2 or yota.backends.backend_of(backend.asarray([1.0])).one_device:
        pytest.skip(f"{backend.name} has one device")
    first, second = devices[0], devices[1]

    def f(x):
        xp = namespace_of(x)
        return xp.sum(x * x) * (2.0 if x.device == first else 3.0)

    for d in (first, second, first, second):
        x = backend.xp.asarray([1.0, -2.0], device=d)
        v, g = yota.grad(f, x)
        assert float(yota.testing.to_numpy(v)) == float(yota.testing.to_numpy(f(x)))
        assert g[1].device == d


_TYPED = '''
SCALE = 2.0

def loss(x, namespace_of):
    xp = namespace_of(x)
    return xp.sum(x * x) * SCALE
'''


@pytest.mark.parametrize("where", ["<stdin>", "<python-input-0>", "<ipython-input-3-5f2a>", "<string>"])
def test_code_typed_at_a_prompt_is_the_users(backend, where):
    # the REPL, IPython's terminal and exec() name their code "<...>", which yota took for its own
    # generated code: the globals such code read were not guarded
    env: dict = {}
    exec(compile(_TYPED, where, "exec"), env)
    x = backend.asarray(np.array([1.0, -2.0]))
    assert float(yota.testing.to_numpy(yota.grad(env["loss"], x, namespace_of)[0])) == 10.0
    env["SCALE"] = 3.0
    assert float(yota.testing.to_numpy(yota.grad(env["loss"], x, namespace_of)[0])) == 15.0


class _Transformer:
    """Stands for a library's wrapper of the user's function (FunctionTransformer(func))."""

    def __init__(self, func):
        self.func = func

    def transform(self, X):
        return self.func(X)


_Transformer.__module__ = "json"
_T_SCALE = 2.0
_TRANSFORMER = _Transformer(lambda X: X * _T_SCALE)


def test_a_users_function_held_by_a_library_object(backend, monkeypatch):
    # the library object's fields were guarded, but not what the user's function in one reads
    x = backend.asarray(np.array([1.0, -2.0]))

    def f(x):
        return namespace_of(x).sum(_TRANSFORMER.transform(x))

    assert float(yota.testing.to_numpy(yota.grad(f, x)[0])) == -2.0
    monkeypatch.setitem(globals(), "_T_SCALE", 3.0)
    assert float(yota.testing.to_numpy(yota.grad(f, x)[0])) == -3.0


def test_a_stream_the_code_writes_to_is_io_not_an_iterator(rng):
    # files and streams have __next__ too, but they are I/O (run once, at trace time): a function
    # that flushes sys.stdout keeps its cache
    import sys

    def f(x):
        sys.stdout.flush()
        return np.sum(x * x)

    yota.reset()
    for _ in range(3):
        yota.grad(f, rng.standard_normal(3))
    assert yota.cache_info()["traces"] == 1
