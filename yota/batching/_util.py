"""Helpers the batching rules share. Batched values carry the batch on axis 0."""
from __future__ import annotations

from .. import errors


def _size_of_first_batched(pairs) -> int | None:
    """The batch size of the first batched value among ``(value, dim)`` pairs (a tuple
    value has a dim per item); None when none is batched."""
    for a, d in pairs:
        if d is None:
            continue
        if isinstance(d, tuple):
            for x, dx in zip(a, d):
                if dx is not None:
                    return x.shape[0]
        else:
            return a.shape[0]
    return None


def batch_size(dims, *args) -> int:
    n = _size_of_first_batched(zip(args, dims))
    if n is not None:
        return n
    for k, d in dims.kw.items():
        if d is not None:
            raise errors.YotaError("vmap: a batched keyword argument without a batched positional one")
    raise AssertionError("no batched argument")


def namespace_fn(xp, name: str):
    """``xp``'s function of a dotted name (``"linalg.solve"``)."""
    f = xp
    for part in name.split("."):
        f = getattr(f, part)
    return f


def example_ndim(x, d) -> int:
    """The number of axes one example of ``x`` has."""
    return x.ndim - 1 if d is not None else getattr(x, "ndim", 0)


def batched(xp, x, d, size: int):
    """``x`` with the batch on axis 0, broadcasting an unbatched value."""
    if d is not None:
        return x
    if not hasattr(x, "shape"):
        x = xp.asarray(x)
    return xp.broadcast_to(xp.expand_dims(x, axis=0), (size,) + tuple(x.shape))


def aligned(xp, x, d, ndim: int):
    """A batched ``x`` reshaped to ``(B, 1, ..., 1, *example)`` with ``ndim`` example
    axes, so that it broadcasts against other examples of that rank; unbatched
    values broadcast from the right as they are."""
    if d is None or not hasattr(x, "shape"):
        return x
    k = x.ndim - 1
    if k == ndim:
        return x
    return xp.reshape(x, (x.shape[0],) + (1,) * (ndim - k) + tuple(x.shape[1:]))


def shift_axis(axis, ndim: int):
    """An axis (or tuple of axes, or None = all) of one example, as an axis of the batch."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, (tuple, list)):
        return tuple((a % ndim) + 1 if ndim else 1 for a in axis)
    return (axis % ndim) + 1 if ndim else 1


def first_batched(*ds) -> int | None:
    return 0 if any(d is not None for d in ds) else None


def batch_size_any(dims, args, kwargs) -> int:
    """The batch size, from a batched positional or keyword argument (diff's
    ``prepend`` may be the only batched one)."""
    n = _size_of_first_batched(list(zip(args, dims)) + [(kwargs[k], d) for k, d in dims.kw.items() if k in kwargs])
    if n is None:
        raise AssertionError("no batched argument")
    return n


def broadcast_shape(*shapes) -> tuple:
    """The standard's broadcast of shapes (Python ints), from the right."""
    n = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(n):
        sizes = {s[len(s) - n + i] for s in shapes if len(s) - n + i >= 0} - {1}
        if len(sizes) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def size_differs(name: str, what: str):
    """A batched value decides the size of the result: the examples would have
    results of different sizes, which one array cannot hold."""
    raise errors.BatchedControlFlowError(
        f"inside vmap, xp.{name} gets {what} that differs between the examples of the batch, so its result "
        f"may have a different size for each example. Sizes must be the same for every example: compute "
        f"them from shapes (Python ints), or take the largest size and mask with xp.where(mask, x, 0).")


def is_array(x) -> bool:
    """An array argument (not a Python number, nor a dtype: NumPy's scalar types
    have ``shape`` and ``ndim`` as class attributes)."""
    return hasattr(x, "shape") and not isinstance(x, type)


def arg_dim(dims, i: int, name: str):
    """The batch dim of the argument at position ``i``, which the call may also
    have given by keyword ``name`` (``full_like(x, fill_value=v)``)."""
    return dims[i] if i < len(dims) else dims.kw.get(name)
