"""Small helpers the rules share, written against ``xp``."""
from __future__ import annotations

from ..tape import dtype_name


def shape(x) -> tuple:
    return tuple(getattr(x, "shape", ()))


def is_complex(x) -> bool:
    dt = getattr(x, "dtype", None)
    return dt is not None and dtype_name(dt).startswith("complex")


def real_dtype(xp, dt):
    """The real dtype of the same precision (complex64 -> float32)."""
    if dt == xp.complex64:
        return xp.float32
    if dt == xp.complex128:
        return xp.float64
    return dt


def unbroadcast(xp, g, x):
    """Sum the cotangent ``g`` of a broadcast result back to the shape of ``x``.

    A real ``x`` takes the real part of a complex ``g`` (JAX's convention).
    """
    target = shape(x)
    if is_complex(g) and not is_complex(x):
        g = xp.real(g)
    if tuple(g.shape) == target:
        return g
    if g.ndim < len(target):
        # x had leading size-1 axes that broadcasting dropped (v[key] = x with x of shape (1, 1, n))
        g = xp.reshape(g, (1,) * (len(target) - g.ndim) + tuple(g.shape))
    lead = g.ndim - len(target)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(target)
                                      if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = xp.sum(g, axis=axes)
    if tuple(g.shape) != target:
        g = xp.reshape(g, target)
    return g


def along(axis, ndim, item) -> tuple:
    """A key that applies ``item`` on ``axis`` and keeps every other axis."""
    axis %= ndim
    return (slice(None),) * axis + (item, ...)


def conj(xp, a):
    """``conj(a)`` for a complex ``a``; ``a`` itself otherwise."""
    return xp.conj(a) if is_complex(a) else a


def normalize_axis(axis, ndim) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(a % ndim if ndim else 0 for a in axis))


def keep_dims(xp, g, x, axis, keepdims):
    """Reinsert the reduced axes into ``g`` so that it broadcasts against ``x``."""
    if keepdims or x.ndim == 0:
        return g
    axes = normalize_axis(axis, x.ndim)
    out_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    return xp.reshape(g, out_shape)


def size(shape_) -> int:
    n = 1
    for s in shape_:
        n *= s
    return n
