"""Manipulation functions: an axis of one example is the batch's axis shifted
by one, a shape gets the batch size in front, and the unbatched members of a
sequence (concat, stack) are broadcast along the batch first. ``axis=None``
(flatten the example) flattens all axes but the batch's."""
from __future__ import annotations

from .. import ops
from ._util import aligned, arg_dim, batch_size, batched, broadcast_shape, example_ndim, shift_axis, size_differs


def _axis_in(axis, nd: int):
    """An axis of an example of ``nd`` axes where the op inserts axes
    (expand_dims, stack): counted in the result's example."""
    return axis % nd + 1


@ops.batching("broadcast_arrays")
def _(xp, dims, *arrays):
    shape = broadcast_shape(*(tuple(a.shape[1:]) if d is not None else tuple(a.shape)
                              for a, d in zip(arrays, dims)))
    size = batch_size(dims, *arrays)
    outs, ods = [], []
    for a, d in zip(arrays, dims):
        if d is None:  # the same for every example
            outs.append(xp.broadcast_to(a, shape))
        else:
            outs.append(xp.broadcast_to(aligned(xp, a, d, len(shape)), (size,) + shape))
        ods.append(d)
    return tuple(outs), tuple(ods)


@ops.batching("broadcast_to")
def _(xp, dims, x, /, shape):
    shape = tuple(shape)
    return xp.broadcast_to(aligned(xp, x, 0, len(shape)), (x.shape[0],) + shape), 0


@ops.batching("concat")
def _(xp, dims, arrays, /, *, axis=0):
    size = batch_size(dims, arrays)
    xs = [batched(xp, a, d, size) for a, d in zip(arrays, dims[0])]
    if axis is None:
        return xp.concat([xp.reshape(a, (size, -1)) for a in xs], axis=1), 0
    return xp.concat(xs, axis=shift_axis(axis, xs[0].ndim - 1)), 0


@ops.batching("stack")
def _(xp, dims, arrays, /, *, axis=0):
    size = batch_size(dims, arrays)
    xs = [batched(xp, a, d, size) for a, d in zip(arrays, dims[0])]
    return xp.stack(xs, axis=_axis_in(axis, xs[0].ndim)), 0


@ops.batching("unstack")
def _(xp, dims, x, /, *, axis=0):
    return tuple(xp.unstack(x, axis=shift_axis(axis, x.ndim - 1))), 0


@ops.batching("expand_dims")
def _(xp, dims, x, /, axis=0):
    nd = x.ndim - 1
    if isinstance(axis, (tuple, list)):  # 2025.12: several new axes, counted in the result
        return xp.expand_dims(x, axis=tuple(_axis_in(a, nd + len(axis)) for a in axis)), 0
    return xp.expand_dims(x, axis=_axis_in(axis, nd + 1)), 0


@ops.batching("squeeze")
def _(xp, dims, x, /, axis=None):
    if axis is None:  # NumPy's extension: every axis of length one
        axis = tuple(i for i, s in enumerate(x.shape[1:]) if s == 1)
    return xp.squeeze(x, axis=shift_axis(axis, x.ndim - 1)), 0


@ops.batching("flip")
def _(xp, dims, x, /, *, axis=None):
    return xp.flip(x, axis=shift_axis(axis, x.ndim - 1)), 0


@ops.batching("roll")
def _(xp, dims, x, /, shift, *, axis=None):
    if axis is None:  # roll the flattened example, then restore its shape
        flat = xp.reshape(x, (x.shape[0], -1))
        return xp.reshape(xp.roll(flat, shift, axis=1), tuple(x.shape)), 0
    return xp.roll(x, shift, axis=shift_axis(axis, x.ndim - 1)), 0


@ops.batching("moveaxis")
def _(xp, dims, x, /, source, destination):
    nd = x.ndim - 1
    return xp.moveaxis(x, shift_axis(source, nd), shift_axis(destination, nd)), 0


@ops.batching("permute_dims")
def _(xp, dims, x, /, axes):
    return xp.permute_dims(x, (0,) + tuple(shift_axis(tuple(axes), x.ndim - 1))), 0


@ops.batching("reshape")
def _(xp, dims, x, /, shape, **kwargs):
    return xp.reshape(x, (x.shape[0],) + tuple(shape), **kwargs), 0


@ops.batching("tile")
def _(xp, dims, x, /, repetitions):
    # tile pads the shorter of (reps, example shape) with leading ones; give
    # the example those axes explicitly, so that the batch's repetition is 1
    reps = tuple(repetitions)
    m = max(x.ndim - 1, len(reps))
    return xp.tile(aligned(xp, x, 0, m), (1,) * (m + 1 - len(reps)) + reps), 0


@ops.batching("repeat")
def _(xp, dims, x, /, repeats, *, axis=None):
    if arg_dim(dims, 1, "repeats") is not None:
        size_differs("repeat", "a repeats array")
    if axis is None:  # repeat the flattened example
        return xp.repeat(xp.reshape(x, (x.shape[0], -1)), repeats, axis=1), 0
    return xp.repeat(x, repeats, axis=shift_axis(axis, example_ndim(x, 0))), 0
