"""vmap of the manipulation functions (the gradient tests' case table), on every
backend present; and that every op of the families batched by rules has one."""
from __future__ import annotations

import numpy as np
import pytest

import yota
from _helpers import namespace_of
from _vmap_check import B, arrays_for, axis_combinations, batched_op_count, check_vmap
from test_rules_manipulation import MANIPULATION
from yota import ops
from yota.testing import to_numpy

CREATION_CASES = ("tril", "triu", "meshgrid", "asarray")  # in test_vmap_creation.py
UTILITY_CASES = ("diff",)  # in test_vmap_searching.py
CASES = sorted(n for n in MANIPULATION if not n.startswith(CREATION_CASES + UTILITY_CASES + ("matrix_",)))


def _combos(backend, shapes):
    combos = axis_combinations(len(shapes), [len(s) for s in shapes])
    return combos[::len(combos) - 1] if backend.name == "dask" and len(combos) > 1 else combos


@pytest.mark.parametrize("name", CASES)
def test_manipulation(backend, rng, name):
    fn, shapes = MANIPULATION[name]
    for in_axes in _combos(backend, shapes):
        yota.reset()
        check_vmap(backend, fn, arrays_for(rng, shapes, in_axes if isinstance(in_axes, tuple)
                                           else [in_axes] * len(shapes)), in_axes=in_axes)


def test_table_has_the_families(backend):
    # the case table reaches every manipulation function of the standard
    names = {n for n, e in ops.OPS.items() if e.family == "manipulation" and e.diff != "query"}
    called = {n for n in names if any(c == n or c.startswith(n + "_") for c in CASES)}
    assert called == names


@pytest.mark.parametrize("case", [
    # 0-d and 3-d examples, keyword and negative axes
    (lambda xp, x: xp.expand_dims(x, axis=0), [()]),
    (lambda xp, x: xp.reshape(x, (1, 1)), [()]),
    (lambda xp, x: xp.broadcast_to(x, (2, 3)), [()]),
    (lambda xp, x: xp.stack([x, x * 2.0], axis=-1), [()]),
    (lambda xp, x: xp.concat([x, x], axis=None), [()]),
    (lambda xp, x: xp.flip(x), [()]),
    (lambda xp, x: xp.tile(x, (2, 1)), [()]),
    (lambda xp, x: xp.repeat(x, 3), [()]),
    (lambda xp, x: xp.roll(x, 5), [(2, 3, 2)]),
    (lambda xp, x: xp.flip(x, axis=(-1, 0)), [(2, 3, 2)]),
    (lambda xp, x: xp.moveaxis(x, -1, 0), [(2, 3, 4)]),
    (lambda xp, x: xp.permute_dims(x, (-1, 0, 1)), [(2, 3, 4)]),
    (lambda xp, x: xp.squeeze(x, axis=-2), [(2, 1, 3)]),
    (lambda xp, x: xp.unstack(x, axis=-2)[1], [(2, 3, 2)]),
    (lambda xp, x: xp.expand_dims(x, axis=(-1, 1)), [(2, 3, 2)]),
    (lambda xp, x: xp.repeat(x, 2, axis=-1), [(2, 3, 2)]),
    (lambda xp, x, y: xp.broadcast_arrays(x, y), [(), (2, 1)]),
    (lambda xp, x, y: xp.concat((x, y), axis=-2), [(2, 1, 2), (2, 3, 2)]),
], ids=lambda c: "")
def test_shapes(backend, rng, case):
    fn, shapes = case
    for in_axes in _combos(backend, shapes)[:2]:
        yota.reset()
        check_vmap(backend, fn, arrays_for(rng, shapes, in_axes if isinstance(in_axes, tuple)
                                           else [in_axes] * len(shapes)), in_axes=in_axes)


@pytest.mark.parametrize("out_axes", [0, 1, -1])
def test_out_axes(backend, rng, out_axes):
    fn, shapes = MANIPULATION["moveaxis_tuple"]
    check_vmap(backend, fn, arrays_for(rng, shapes, [0]), out_axes=out_axes)
    yota.reset()
    fn, shapes = MANIPULATION["unstack_axis"]  # several results, each placed
    check_vmap(backend, fn, arrays_for(rng, shapes, [0]), out_axes=out_axes)


def test_out_axes_none(backend, rng):
    # a broadcast of the unbatched argument is the same for every example
    x, y = arrays_for(rng, [(3, 1), (4,)], [0, None])
    check_vmap(backend, lambda xp, x, y: xp.broadcast_arrays(x, y), [x, y], in_axes=(0, None),
               out_axes=(0, None))


def test_float32(backend, rng):
    for name in ("concat_axis_none", "stack_1", "tile_more", "roll_tuple", "broadcast_arrays"):
        yota.reset()
        fn, shapes = MANIPULATION[name]
        check_vmap(backend, fn, arrays_for(rng, shapes, [0] * len(shapes), dtype=np.float32))


def test_nested(backend, rng):
    # vmap(vmap(f)): the inner batched tape is batched again
    fn, shapes = MANIPULATION["concat_axis1_list"]
    x = backend.asarray(rng.standard_normal((2, B) + shapes[0]))
    y = backend.asarray(rng.standard_normal((2, B) + shapes[1]))

    def f(x, y):
        return fn(namespace_of(x), x, y)

    got = yota.vmap(yota.vmap(f), in_axes=(0, 0))(x, y)
    xn, yn = to_numpy(x), to_numpy(y)
    want = np.stack([np.stack([np.concatenate([xn[i, j], yn[i, j], xn[i, j]], axis=1) for j in range(B)])
                     for i in range(2)])
    np.testing.assert_allclose(to_numpy(got), want)
    got = yota.vmap(yota.vmap(f, in_axes=(0, None)), in_axes=(None, 0))(x[0, ...], y[:, 0, ...])
    want = np.stack([np.stack([np.concatenate([xn[0, j], yn[i, 0], xn[0, j]], axis=1) for j in range(B)])
                     for i in range(2)])
    np.testing.assert_allclose(to_numpy(got), want)


@pytest.mark.parametrize("name", CASES)
def test_no_per_example_loop(backend, rng, name):
    # each function is one batched op, not one per example (the fallback for
    # users' primitives records B of them)
    if backend.name == "dask":
        pytest.skip("the count does not depend on the library; NumPy and array-api-strict check it")
    fn, shapes = MANIPULATION[name]
    assert batched_op_count(backend, fn, shapes, 2) == batched_op_count(backend, fn, shapes, 5)


FAMILIES = ("manipulation", "creation", "searching", "sets", "sorting", "statistics", "utility", "data type",
            "elementwise")


def test_every_op_has_a_batching_rule():
    missing = sorted(n for n, e in ops.OPS.items()
                     if e.family in FAMILIES and e.diff != "query" and e.batch is None)
    assert missing == []
