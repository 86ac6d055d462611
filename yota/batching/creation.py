"""Creation functions.

``*_like`` of a batched array is the same for every example (only its shape,
dtype and device count): made once, unbatched, from one example. A batched
fill value (``full``, ``full_like``), start or stop (``linspace``) or diagonal
offset (``eye``) is broadcast along the new example axes. A batched size
argument (``arange``'s bounds, a shape entry, ``eye``'s sizes) would give every
example a different size: an error. Results are fresh arrays, as the
library's own are (never a view of the arguments).
"""
from __future__ import annotations

from .. import ops
from ._util import aligned, arg_dim, batch_size_any, batched, size_differs


def _fresh(xp, v, dtype=None):
    """``v`` as a new array (a broadcast is a view), cast to ``dtype``."""
    if dtype is not None and v.dtype != dtype:
        return xp.astype(v, dtype)
    return xp.asarray(v, copy=True)


def _nested(xp, obj, d, size):
    """``asarray`` of a (nested) list holding batched values: each element
    batched, stacked along the example's leading axes (the batch stays first)."""
    if isinstance(obj, (list, tuple)):
        ds = d if isinstance(d, tuple) else (None,) * len(obj)
        return xp.stack([_nested(xp, o, od, size) for o, od in zip(obj, ds)], axis=1)
    return batched(xp, obj, d, size)


def _size_in(obj, d):
    if isinstance(obj, (list, tuple)):
        return next(_size_in(o, od) for o, od in zip(obj, d) if od is not None)
    return obj.shape[0]


@ops.batching("asarray")
def _(xp, dims, obj, /, *, dtype=None, **kwargs):
    if not isinstance(obj, (list, tuple)):
        return xp.asarray(obj, dtype=dtype, **kwargs), 0
    # stacking promotes the elements as asarray's list discovery does (Python
    # numbers become default-dtype arrays first); the stack is a new array
    y = _nested(xp, obj, dims[0], _size_in(obj, dims[0]))
    if dtype is not None and y.dtype != dtype:
        y = xp.astype(y, dtype)
    if kwargs.get("device") is not None:
        y = xp.asarray(y, device=kwargs["device"])
    return y, 0


def _like(name):
    def rule(xp, dims, x, /, **kwargs):
        # one example decides shape, dtype and device: the result is not batched
        return getattr(xp, name)(x[0, ...], **kwargs), None

    rule.__name__ = f"batch_{name}"
    return rule


for _name in ("empty_like", "zeros_like", "ones_like"):
    ops.batching(_name)(_like(_name))


@ops.batching("full_like")
def _(xp, dims, x, /, fill_value, *, dtype=None, **kwargs):
    if arg_dim(dims, 1, "fill_value") is None:  # only x is batched
        return xp.full_like(x[0, ...], fill_value, dtype=dtype, **kwargs), None
    shape = tuple(x.shape[1:]) if dims[0] is not None else tuple(x.shape)
    return _filled(xp, fill_value, shape, x.dtype if dtype is None else dtype), 0


@ops.batching("full")
def _(xp, dims, shape, fill_value, *, dtype=None, **kwargs):
    if arg_dim(dims, 0, "shape") is not None:
        size_differs("full", "a shape")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _filled(xp, fill_value, shape, fill_value.dtype if dtype is None else dtype), 0


def _filled(xp, fill, shape, dtype):
    """A batched (possibly broadcastable) fill value over examples of ``shape``."""
    v = xp.broadcast_to(aligned(xp, fill, 0, len(shape)), (fill.shape[0],) + shape)
    return _fresh(xp, v, dtype)


@ops.batching("tril")
def _(xp, dims, x, /, **kwargs):
    return xp.tril(x, **kwargs), 0  # the last two axes: the batch's are in front


@ops.batching("triu")
def _(xp, dims, x, /, **kwargs):
    return xp.triu(x, **kwargs), 0


@ops.batching("meshgrid")
def _(xp, dims, *arrays, indexing="xy"):
    n = len(arrays)
    size = batch_size_any(dims, arrays, {})
    lengths = [_example_size(a, d) for a, d in zip(arrays, dims)]
    # with "xy" the first two inputs vary along axes 1 and 0 of the result
    where = [{0: 1, 1: 0}.get(i, i) if indexing == "xy" and n > 1 else i for i in range(n)]
    shape = [0] * n
    for i, w in enumerate(where):
        shape[w] = lengths[i]
    shape = tuple(shape)
    outs = []
    for i, (a, d) in enumerate(zip(arrays, dims)):
        line = tuple(-1 if j == where[i] else 1 for j in range(n))
        if d is None:  # the same for every example
            outs.append(_fresh(xp, xp.broadcast_to(xp.reshape(a, line), shape)))
        else:
            outs.append(_fresh(xp, xp.broadcast_to(xp.reshape(a, (size,) + line), (size,) + shape)))
    return tuple(outs), tuple(dims)


def _example_size(a, d) -> int:
    n = 1
    for s in (a.shape[1:] if d is not None else a.shape):
        n *= s
    return n


@ops.batching("linspace")
def _(xp, dims, start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    if arg_dim(dims, 2, "num") is not None:
        size_differs("linspace", "a num")
    size = batch_size_any(dims, (start, stop), {})
    # the library decides the dtype from array bounds (NumPy: theirs; Dask: float64):
    # the dtype of one example's call, which is dead code once read
    one = [a[0, ...] if d is not None else a for a, d in ((start, dims[0]), (stop, dims[1]))]
    out = xp.linspace(*one, num, dtype=dtype, device=device, endpoint=endpoint).dtype
    work = out if xp.isdtype(out, ("real floating", "complex floating")) else \
        xp.result_type(*(a for a in (start, stop) if hasattr(a, "dtype")), 1.0)
    # NumPy's formula (start + i * step, the last point set to stop), row by row
    lo = xp.reshape(xp.astype(batched(xp, start, dims[0], size), work), (size, 1))
    hi = xp.reshape(xp.astype(batched(xp, stop, dims[1], size), work), (size, 1))
    div = num - 1 if endpoint else num
    i = xp.reshape(xp.arange(num, dtype=work, device=device), (1, num))
    delta = hi - lo
    if div > 0:
        step = delta / div
        y = xp.where(step == 0, (i / div) * delta, i * step) + lo
    else:
        y = i * delta + lo
    if endpoint and num > 1:
        y = xp.where(i == num - 1, hi, y)
    if xp.isdtype(out, "integral"):
        y = xp.floor(y)
    return (xp.astype(y, out) if y.dtype != out else y), 0


@ops.batching("eye")
def _(xp, dims, n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    if dims[0] is not None or arg_dim(dims, 1, "n_cols") is not None:
        size_differs("eye", "a number of rows or columns")
    # a batched diagonal offset: the ones sit where column - row == k
    cols = n_rows if n_cols is None else n_cols
    i = xp.reshape(xp.arange(n_rows, device=device), (1, n_rows, 1))
    j = xp.reshape(xp.arange(cols, device=device), (1, 1, cols))
    kk = xp.reshape(k, (k.shape[0], 1, 1))
    hit = (j - i) == kk
    if dtype is None:
        dtype = xp.__array_namespace_info__().default_dtypes()["real floating"]
    return xp.astype(hit, dtype), 0


def _sized(name, what):
    def rule(xp, dims, *args, **kwargs):
        size_differs(name, what)

    rule.__name__ = f"batch_{name}"
    return rule


# their only array arguments are sizes (a traced 0-d array as a bound or a shape entry)
for _name, _what in (("arange", "a start, stop or step"), ("zeros", "a shape"), ("ones", "a shape"),
                     ("empty", "a shape")):
    ops.batching(_name)(_sized(_name, _what))


@ops.batching("from_dlpack")
def _(xp, dims, x, /, **kwargs):
    return xp.from_dlpack(x, **kwargs), 0
