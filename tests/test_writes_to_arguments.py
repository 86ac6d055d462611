"""What the traced code writes into its arguments, closure and globals (``yota/writes.py``).

The trace runs on a rebuilt copy of the call's structure and a cached call runs no Python code,
so a write of a Python value is made on the caller's own object (and the call is not cached:
the next one traces again, as the plain call runs again), and a traced value left anywhere the
caller can reach is an error. Every case runs three calls and compares with the plain program.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

import yota
from _helpers import namespace_of
from yota.writes import ArgumentWriteError


class _Counter:
    def __init__(self, W):
        self.W = W
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        self.last_shape = tuple(x.shape)
        return namespace_of(x).sum(x * self.W)


class _Lazy:
    def __init__(self, W):
        self.W = W

    @functools.cached_property
    def scale(self):
        return 2.0

    def __call__(self, x):
        return namespace_of(x).sum(x * self.W) * self.scale


def _counting_closure():
    n = 0

    def f(x):
        nonlocal n
        n += 1
        return namespace_of(x).sum(x * x)
    return f, lambda: n


def _appends(x, log, state):
    log.append(len(log))
    state["n"] = state.get("n", 0) + 1
    return namespace_of(x).sum(x * x)


def test_python_values_written_into_arguments_reach_the_callers_objects(backend):
    x = backend.asarray(np.array([[0.5, -1.0, 2.0]]))
    m, lazy = _Counter(backend.asarray(np.ones(3))), _Lazy(backend.asarray(np.ones(3)))
    f, count = _counting_closure()
    log, state = [backend.asarray(np.ones(2))], {"w": backend.asarray(np.ones(2))}
    for _ in range(3):
        yota.grad(m, x)
        yota.grad(lazy, x)
        yota.grad(f, x)
        yota.grad(_appends, x, log, state)
    assert m.calls == 3 and m.last_shape == (1, 3)
    assert "scale" in vars(lazy)
    assert count() == 3
    assert log[1:] == [1, 2, 3] and state["n"] == 3


def test_a_lazily_computed_attribute_is_computed_once(rng):
    lazy = _Lazy(rng.standard_normal(3))
    before = yota.cache_info()["traces"]
    for _ in range(4):
        yota.grad(lazy, rng.standard_normal(3))
    assert yota.cache_info()["traces"] - before <= 2  # the call that set it, then one cached variant


class _RunningMean:
    def __init__(self, W):
        self.W = W
        self.running = np.zeros(3)

    def __call__(self, x):
        xp = namespace_of(x)
        m = xp.mean(x, axis=0)
        self.running = 0.9 * self.running + 0.1 * m  # a traced value: PyTorch's BatchNorm habit
        return xp.sum((x - m) * self.W)


_STORE = []


def _stores_globally(x):
    _STORE.append(x * 2.0)
    return namespace_of(x).sum(x)


@pytest.mark.parametrize("case", ["object field", "dict argument", "list argument", "closure cell",
                                  "global list"])
def test_traced_values_left_where_the_caller_can_reach_them_raise(rng, case):
    x = rng.standard_normal((4, 3))
    if case == "object field":
        f, args = _RunningMean(np.ones(3)), (x,)
    elif case == "dict argument":
        def f(x, state):
            state["last"] = x
            return namespace_of(x).sum(x)
        args = (x, {})
    elif case == "list argument":
        def f(x, acc):
            acc.append(x * 1.0)
            return namespace_of(x).sum(x)
        args = (x, [np.ones(2)])
    elif case == "closure cell":
        last = None

        def f(x):
            nonlocal last
            last = x * 2.0
            return namespace_of(x).sum(x)
        args = (x,)
    else:
        f, args = _stores_globally, (x,)
    with pytest.raises(ArgumentWriteError, match="Return it instead") as e:
        yota.grad(f, *args)
    assert "test_writes_to_arguments.py:" in str(e.value)
    _STORE.clear()


def test_a_write_inside_a_transformation_raises(rng):
    m = _Counter(np.ones(3))

    def per_row(r):
        return m.__call__(r)

    g = yota.vmap(lambda r, m: m(r), in_axes=(0, None))
    with pytest.raises(ArgumentWriteError, match="inside a transformation"):
        g(rng.standard_normal((4, 3)), m)


class _Regroups:
    def __init__(self, a, b):
        self.params = [a, b]

    def __call__(self, x):
        self.params = list(self.params)  # a new list of the same arrays: harmless in NumPy
        self.first = (self.params[0], "w")
        return namespace_of(x).sum(x * self.params[0] * self.params[1])


def test_new_containers_of_the_arguments_own_arrays_are_carried_over(backend):
    a, b = backend.asarray(np.ones(3)), backend.asarray(np.full(3, 2.0))
    m = _Regroups(a, b)
    for _ in range(2):
        yota.grad(m, backend.asarray(np.array([1.0, 2.0, 3.0])))
        assert m.params[0] is a and m.params[1] is b and m.first == (a, "w")
