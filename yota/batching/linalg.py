"""Linear algebra: products, einsum and the ``linalg`` extension.

The extension's functions act on stacks of matrices: the batch is one more
stack axis, so they batch as they are. Products align the examples' ranks
first (a batched operand gets size-1 axes after its batch, `aligned`; an
unbatched one broadcasts from the right), with 1-D examples made matrices
and the added axes squeezed after. Where both operands of a contraction are
batched and the function has no batch axes of its own (``tensordot``), the
contraction is a batched ``matmul``; ``einsum`` gets a batch letter.
"""
from __future__ import annotations

import math
import string

from .. import errors, ops
from ._util import aligned, batched, broadcast_shape, example_ndim, namespace_fn, shift_axis


def _only_first(name, dims):
    """The functions of one stack: only ``x`` can carry the batch."""
    if any(d is not None for d in dims[1:]) or any(d is not None for d in dims.kw.values()):
        raise errors.YotaError(f"vmap: xp.{name} with a batched argument other than the array (a batched "
                               f"integer like matrix_power's n): its result's shape would differ between "
                               f"the examples")


# ---------------------------------------------------------------- products


def _matmul(name):
    def rule(xp, dims, a, b):
        da, db = dims[0], dims[1]
        na, nb = example_ndim(a, da), example_ndim(b, db)
        f = namespace_fn(xp, name)
        # One operand a plain matrix: one matrix product over the whole batch,
        # not a stack of matrix-vector products (a batch of VJPs through
        # `W @ x`, what jacrev maps, is exactly this).
        if db is None and nb == 2 and na in (1, 2):
            if na == 1:  # a_i @ B, stacked as rows
                return f(a, b), 0
            size, m, n = a.shape
            return xp.reshape(f(xp.reshape(a, (size * m, n)), b), (size, m, b.shape[-1])), 0
        if da is None and na == 2 and nb == 1:  # A @ b_i, stacked as rows: b @ A^T
            return f(b, xp.matrix_transpose(a)), 0
        if da is None and na == 2 and nb == 2:  # (A @ b_i)^T = b_i^T @ A^T, the b_i^T stacked as rows
            size, n, k = b.shape
            bt = xp.reshape(xp.matrix_transpose(b), (size * k, n))
            y = xp.reshape(f(bt, xp.matrix_transpose(a)), (size, k, a.shape[-2]))
            return xp.matrix_transpose(y), 0
        if (da is not None and db is not None and na == 2 and nb == 2 and a.shape[-1] == 1
                and b.shape[-2] == 1):  # outer products (per-example weight gradients): no sum to do
            return xp.multiply(a, b), 0
        if na == 1:
            a = xp.expand_dims(a, axis=-2)  # a row
        if nb == 1:
            b = xp.expand_dims(b, axis=-1)  # a column
        r = max(na, nb, 2)
        y = f(aligned(xp, a, da, r), aligned(xp, b, db, r))
        if na == 1 and nb == 1:
            return xp.squeeze(y, axis=(-2, -1)), 0
        if na == 1 or nb == 1:
            return xp.squeeze(y, axis=-2 if na == 1 else -1), 0
        return y, 0

    rule.__name__ = f"batch_{name}"
    return rule


def _tensordot(name):
    def rule(xp, dims, a, b, axes=2):
        da, db = dims[0], dims[1]
        na, nb = example_ndim(a, da), example_ndim(b, db)
        if isinstance(axes, int):
            ia, ib = list(range(na - axes, na)), list(range(axes))
        else:
            ia = [i % na for i in _seq(axes[0])]
            ib = [i % nb for i in _seq(axes[1])]
        f = namespace_fn(xp, name)
        if db is None:
            return f(a, b, axes=(tuple(1 + i for i in ia), tuple(ib))), 0
        if da is None:
            y = f(a, b, axes=(tuple(ia), tuple(1 + i for i in ib)))
            return xp.moveaxis(y, na - len(ia), 0), 0
        # both batched: a batched matmul of (B, free_a, K) by (B, K, free_b)
        fa = [i for i in range(na) if i not in ia]
        fb = [i for i in range(nb) if i not in ib]
        size = a.shape[0]
        sa = tuple(a.shape[1 + i] for i in fa)
        sb = tuple(b.shape[1 + i] for i in fb)
        k = math.prod(a.shape[1 + i] for i in ia)
        pa = xp.permute_dims(a, (0, *(1 + i for i in fa), *(1 + i for i in ia)))
        pb = xp.permute_dims(b, (0, *(1 + i for i in ib), *(1 + i for i in fb)))
        y = xp.matmul(xp.reshape(pa, (size, math.prod(sa), k)), xp.reshape(pb, (size, k, math.prod(sb))))
        return xp.reshape(y, (size,) + sa + sb), 0

    rule.__name__ = f"batch_{name}"
    return rule


def _seq(a):
    return (a,) if isinstance(a, int) else tuple(a)


def _vecdot(name):
    def rule(xp, dims, a, b, /, *, axis=-1):
        r = max(example_ndim(a, dims[0]), example_ndim(b, dims[1]))
        # a negative axis counts from the end, which the batch does not move
        ax = axis if axis < 0 else axis - r
        return namespace_fn(xp, name)(aligned(xp, a, dims[0], r), aligned(xp, b, dims[1], r), axis=ax), 0

    rule.__name__ = f"batch_{name}"
    return rule


def _matrix_transpose(name):
    def rule(xp, dims, x):
        return namespace_fn(xp, name)(x), 0

    rule.__name__ = f"batch_{name}"
    return rule


for _p in ("", "linalg."):
    ops.batching(_p + "matmul")(_matmul(_p + "matmul"))
    ops.batching(_p + "tensordot")(_tensordot(_p + "tensordot"))
    ops.batching(_p + "vecdot")(_vecdot(_p + "vecdot"))
    ops.batching(_p + "matrix_transpose")(_matrix_transpose(_p + "matrix_transpose"))


@ops.batching("einsum")
def _(xp, dims, subscripts, *operands):
    if not isinstance(subscripts, str):
        raise errors.YotaError("vmap: einsum with subscripts as a string ('ij,jk->ik'), not as lists")
    s = subscripts.replace(" ", "")
    ins, out = s.split("->") if "->" in s else (s, _implicit_output(s))
    z = next(c for c in string.ascii_letters if c not in s)
    terms = [z + t if dims[1 + i] is not None else t for i, t in enumerate(ins.split(","))]
    return xp.einsum(",".join(terms) + "->" + z + out, *operands), 0


def _implicit_output(s: str) -> str:
    # NumPy's implicit output: the broadcast axes, then the letters used once, sorted
    letters = s.replace("...", "").replace(",", "")
    once = sorted(c for c in set(letters) if letters.count(c) == 1)
    return ("..." if "..." in s else "") + "".join(once)


# ---------------------------------------------------------------- the linalg extension


def _stacks(name):
    def rule(xp, dims, x, *args, **kwargs):
        _only_first(name, dims)
        return namespace_fn(xp, name)(x, *args, **kwargs), 0

    rule.__name__ = f"batch_{name}"
    return rule


for _n in ("cholesky", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "matrix_norm",
           "matrix_power", "qr", "slogdet", "svd", "svdvals", "trace"):
    ops.batching("linalg." + _n)(_stacks("linalg." + _n))


def _with_rtol(name):
    # rtol: a number, or an array broadcasting against the stack axes of x
    def rule(xp, dims, x, /, *, rtol=None):
        rd = dims.kw.get("rtol")
        if rd is None:
            return namespace_fn(xp, name)(x, **({} if rtol is None else {"rtol": rtol})), 0
        x = batched(xp, x, dims[0], rtol.shape[0])
        return namespace_fn(xp, name)(x, rtol=aligned(xp, rtol, rd, x.ndim - 3)), 0

    rule.__name__ = f"batch_{name}"
    return rule


ops.batching("linalg.pinv")(_with_rtol("linalg.pinv"))
ops.batching("linalg.matrix_rank")(_with_rtol("linalg.matrix_rank"))


@ops.batching("linalg.solve")
def _(xp, dims, x1, x2):
    d1, d2 = dims[0], dims[1]
    vector = example_ndim(x2, d2) == 1  # the standard's rule: x2 is a vector only when 1-D
    if vector:
        x2 = xp.expand_dims(x2, axis=-1)
    n1, n2 = example_ndim(x1, d1), example_ndim(x2, d2)
    if d1 is None and n1 == 2:
        # one matrix for the whole batch: one factorization, the right-hand sides side by side
        m = x2.shape[-2]
        t = xp.moveaxis(x2, -2, 0)
        y = xp.linalg.solve(x1, xp.reshape(t, (m, -1)))
        y = xp.moveaxis(xp.reshape(y, tuple(t.shape)), 0, -2)
    else:
        r = max(n1, n2)
        x1, x2 = aligned(xp, x1, d1, r), aligned(xp, x2, d2, r)
        # stack axes broadcast explicitly (CuPy's solve does not broadcast them)
        stack = broadcast_shape(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
        if tuple(x1.shape[:-2]) != stack:
            x1 = xp.broadcast_to(x1, stack + tuple(x1.shape[-2:]))
        if tuple(x2.shape[:-2]) != stack:
            x2 = xp.broadcast_to(x2, stack + tuple(x2.shape[-2:]))
        y = xp.linalg.solve(x1, x2)
    return (xp.squeeze(y, axis=-1) if vector else y), 0


@ops.batching("linalg.cross")
def _(xp, dims, x1, x2, /, *, axis=-1):
    r = max(example_ndim(x1, dims[0]), example_ndim(x2, dims[1]))
    ax = axis if axis < 0 else axis - r
    return xp.linalg.cross(aligned(xp, x1, dims[0], r), aligned(xp, x2, dims[1], r), axis=ax), 0


@ops.batching("linalg.outer")
def _(xp, dims, x1, x2):
    # the outer product of 1-D examples is a broadcast product, batched or not
    return xp.expand_dims(x1, axis=-1) * xp.expand_dims(x2, axis=-2), 0


@ops.batching("linalg.vector_norm")
def _(xp, dims, x, /, *, axis=None, **kwargs):
    return xp.linalg.vector_norm(x, axis=shift_axis(axis, x.ndim - 1), **kwargs), 0
