"""Linear algebra: matmul, tensordot, vecdot, einsum and the ``linalg`` extension.

Conventions
-----------
Complex numbers follow JAX: a pullback is the *transpose* (not the adjoint) of
the real-linear JVP under the pairing ``Re(sum(g * dy))``.  Holomorphic maps
(matmul, inv, solve, det, eig, ...) therefore use plain transposes ``mT``.  For
the non-holomorphic decompositions (cholesky, eigh, svd, qr, pinv, norms) the
formulas below are the familiar adjoint ("PyTorch") ones; ``_jax`` turns one
into JAX's convention as ``conj(f(conj(g)))``.  For real inputs both agree.

Symmetric / Hermitian inputs (``cholesky``, ``eigh``, ``eigvalsh``): like JAX
(``symmetrize_input=True``, i.e. the input is read as ``(x + x^H) / 2``) and
PyTorch, the gradient is the Hermitian part of the unconstrained one, so it is
itself Hermitian.  The forward value is the backend's (which reads one
triangle), so gradient checks must feed a symmetric parametrization such as
``b @ b.mT + c I``.

Degenerate cases (documented, not special-cased, like JAX and PyTorch):

* ``eigh`` / ``eig`` eigenvectors: the gradient has ``1 / (w_j - w_i)`` factors;
  at repeated eigenvalues it is infinite/NaN.  Eigenvalue gradients
  (``eigvalsh``, ``eigvals``, ``eigh`` used for ``w`` only) stay finite.
* ``svd``: factors ``1 / (s_j**2 - s_i**2)`` (repeated singular values) and,
  for non-square inputs, ``1 / s`` (zero singular values) appear in the
  gradient of ``U`` / ``Vh``.  ``svdvals`` and the ``nuc`` norm are fine at
  repeated values; ``ord=2`` / ``-2`` norms at a tie take one singular pair.
* Eigen/singular vectors are defined up to sign (real) or phase (complex);
  the gradient is correct for losses invariant to that choice (e.g.
  ``abs(U)**2``); complex ``svd`` / ``eig`` fix the gauge like PyTorch.
* ``svd(full_matrices=True)`` and ``qr(mode="complete")`` of a non-square
  matrix: the extra columns of ``U`` / ``Vh`` (rows) / ``Q`` are an arbitrary
  basis of a complement; like PyTorch's ``svd`` their cotangents are ignored
  (the gradient is exact for losses that do not depend on them).
* ``det``, ``slogdet``, ``inv``, ``solve``, ``matrix_power(n < 0)`` need an
  invertible matrix; ``pinv`` assumes the rank does not change locally.
* norms: ``vector_norm`` / ``matrix_norm("fro")`` at zero take gradient 0;
  ``ord=0`` has zero gradient; ties of ``inf`` / ``1`` norms share the
  cotangent evenly (like ``max``); ``ord < 1`` at zero entries is infinite.
* ``matrix_rank`` is not differentiable.
"""
from __future__ import annotations

import string
from collections import Counter

from ._util import conj, is_complex, keep_dims, normalize_axis, unbroadcast
from ._util import real_dtype as _real_dtype
from ..ops import nondiff, rrule

INF = float("inf")

# ---------------------------------------------------------------- helpers


def _T(xp, a):
    return xp.matrix_transpose(a)


def _H(xp, a):
    return conj(xp, xp.matrix_transpose(a))


def _eye(xp, n, like, m=None, k=0):
    return xp.eye(n, m, k=k, dtype=_real_dtype(xp, like.dtype), device=like.device)


def _diag(xp, d, like):
    """The stack of diagonal matrices with diagonals ``d`` (..., n)."""
    return d[..., None, :] * _eye(xp, d.shape[-1], like)


def _jax(xp, g, fn):
    """JAX's cotangent from an adjoint-style formula: ``conj(fn(conj(g)))``."""
    if isinstance(g, (tuple, list)):
        # (a real cotangent of a complex op's real result, S of svd, still gives a complex adjoint)
        out = fn(*[conj(xp, gi) if gi is not None and is_complex(gi) else gi for gi in g])
        return conj(xp, out) if is_complex(out) else out
    if not is_complex(g):
        return fn(g)
    return conj(xp, fn(conj(xp, g)))


def _inverse_perm(perm) -> tuple:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _abs_grad(xp, x):
    """d|x| in JAX's convention: sign(x) for real x, conj(x)/|x| for complex (0 at 0)."""
    if not is_complex(x):
        return xp.sign(x)
    a = xp.abs(x)
    return xp.conj(x) / xp.where(a == 0, 1.0, a)


# ---------------------------------------------------------------- products


@rrule("matmul")
@rrule("linalg.matmul")
def matmul(xp, x, y):
    out = x @ y
    if x.ndim == 1 and y.ndim == 1:
        return out, lambda g: (lambda: g * y, lambda: g * x)
    # Lift vectors to matrices, differentiate the matrix product, drop the axis again.
    x2 = xp.expand_dims(x, axis=0) if x.ndim == 1 else x
    y2 = xp.expand_dims(y, axis=1) if y.ndim == 1 else y

    def pullback(g):
        g2 = xp.expand_dims(g, axis=-2) if x.ndim == 1 else g
        g2 = xp.expand_dims(g2, axis=-1) if y.ndim == 1 else g2
        dx = lambda: xp.reshape(unbroadcast(xp, g2 @ _T(xp, y2), x2), x.shape)
        dy = lambda: xp.reshape(unbroadcast(xp, _T(xp, x2) @ g2, y2), y.shape)
        # (reshapes to the same shape are dropped when recorded)
        return dx, dy

    return out, pullback


@rrule("linalg.matrix_transpose")
def matrix_transpose(xp, x):
    # (the top-level matrix_transpose rule lives with the other shape functions)
    return xp.matrix_transpose(x), lambda g: (xp.matrix_transpose(g),)


@rrule("tensordot")
@rrule("linalg.tensordot")
def tensordot(xp, x1, x2, /, *, axes=2):
    y = xp.tensordot(x1, x2, axes=axes)
    if isinstance(axes, int):
        a1 = list(range(x1.ndim - axes, x1.ndim))
        a2 = list(range(axes))
    else:
        a1 = [a % x1.ndim for a in axes[0]]
        a2 = [a % x2.ndim for a in axes[1]]
    f1 = [i for i in range(x1.ndim) if i not in a1]
    f2 = [i for i in range(x2.ndim) if i not in a2]
    n1 = len(f1)

    def pullback(g):
        def d1():
            # contract g's x2-part with x2's free axes: left with f1, then x2's
            # contracted axes in x2's order, each standing for its partner in x1
            t = xp.tensordot(g, x2, axes=(tuple(range(n1, g.ndim)), tuple(f2)))
            return xp.permute_dims(t, _inverse_perm(f1 + [a1[a2.index(j)] for j in sorted(a2)]))

        def d2():
            t = xp.tensordot(x1, g, axes=(tuple(f1), tuple(range(n1))))
            return xp.permute_dims(t, _inverse_perm([a2[a1.index(i)] for i in sorted(a1)] + f2))

        return d1, d2

    return y, pullback


@rrule("vecdot")
@rrule("linalg.vecdot")
def vecdot(xp, x1, x2, /, *, axis=-1):
    # y = sum(conj(x1) * x2): holomorphic in x2, anti-holomorphic in x1
    y = xp.vecdot(x1, x2, axis=axis)
    ax = axis if axis < 0 else axis - max(x1.ndim, x2.ndim)

    def pullback(g):
        ge = xp.expand_dims(g, axis=ax)
        return (lambda: unbroadcast(xp, conj(xp, ge * x2), x1),
                lambda: unbroadcast(xp, ge * conj(xp, x1), x2))

    return y, pullback


@rrule("linalg.outer")
def outer(xp, x1, x2, /):
    y = xp.linalg.outer(x1, x2)
    return y, lambda g: (lambda: g @ x2, lambda: x1 @ g)


@rrule("linalg.cross")
def cross(xp, x1, x2, /, *, axis=-1):
    # <g, a x b> = <a, b x g> = <b, g x a> (bilinear, so complex needs no conj)
    y = xp.linalg.cross(x1, x2, axis=axis)
    return y, lambda g: (lambda: unbroadcast(xp, xp.linalg.cross(x2, g, axis=axis), x1),
                         lambda: unbroadcast(xp, xp.linalg.cross(g, x1, axis=axis), x2))


# ---------------------------------------------------------------- einsum


def _einsum_plan(subscripts, shapes):
    """Explicit per-operand label strings and output labels for ``subscripts``.

    ``...`` becomes explicit labels (right-aligned, broadcast); a size-1 axis that
    broadcasts against a longer one gets a label of its own (it is summed in the
    gradient, which is how broadcasting is undone).
    """
    subs = subscripts.replace(" ", "")
    ins, arrow, out = subs.partition("->")
    terms = ins.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {len(terms)} operand subscripts for {len(shapes)} operands")
    used = {c for c in subs if c in string.ascii_letters}
    fresh = iter([c for c in string.ascii_letters if c not in used])

    def new():
        try:
            return next(fresh)
        except StopIteration:
            raise ValueError("einsum: too many labels to differentiate (52 letters at most)") from None

    nell = max([len(s) - (len(t) - 3) for t, s in zip(terms, shapes) if "..." in t], default=0)
    ell = [new() for _ in range(nell)]
    explicit = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            k = len(s) - (len(t) - 3)
            t = t.replace("...", "".join(ell[nell - k:]))
        if len(t) != len(s):
            raise ValueError(f"einsum: subscripts {t!r} do not match an operand of {len(s)} dimensions")
        explicit.append(list(t))
    if arrow:
        out_labels = list(out.replace("...", "".join(ell)))
    else:
        counts = Counter(c for t in terms for c in t.replace("...", ""))
        out_labels = ell + sorted(c for c, n in counts.items() if n == 1)
    sizes: dict = {}
    for t, s in zip(explicit, shapes):
        for c, n in zip(t, s):
            sizes[c] = max(sizes.get(c, 1), n)
    for t, s in zip(explicit, shapes):
        for p, (c, n) in enumerate(zip(t, s)):
            if n == 1 and sizes[c] != 1:
                t[p] = c2 = new()
                sizes[c2] = 1
    return explicit, out_labels, sizes, new


@rrule("einsum")
def einsum(xp, subscripts, /, *operands, **kwargs):
    if not isinstance(subscripts, str):
        raise TypeError("einsum is differentiable in its subscripts-string form: einsum('ij,jk->ik', a, b)")
    y = xp.einsum(subscripts, *operands, **kwargs)
    terms, out_labels, sizes, new = _einsum_plan(subscripts, [o.shape for o in operands])
    opt = {"optimize": kwargs["optimize"]} if "optimize" in kwargs else {}

    def grad_of(i, g):
        specs = ["".join(out_labels)] + ["".join(t) for j, t in enumerate(terms) if j != i]
        args = [g] + [o for j, o in enumerate(operands) if j != i]
        x = operands[i]
        target, seen = [], set()
        for c in terms[i]:
            if c in seen:
                # a repeated label reads a diagonal: write back through an identity
                c2 = new()
                specs.append(c + c2)
                args.append(_eye(xp, sizes[c], x, m=None))
                target.append(c2)
            else:
                seen.add(c)
                target.append(c)
        present = set("".join(specs))
        for c in target:
            if c not in present:
                # summed in this operand alone: its gradient is constant along c
                specs.append(c)
                args.append(xp.ones((sizes[c],), dtype=_real_dtype(xp, x.dtype), device=x.device))
        return xp.einsum(",".join(specs) + "->" + "".join(target), *args, **opt)

    def pullback(g):
        return (None,) + tuple((lambda i=i: grad_of(i, g)) for i in range(len(operands)))

    return y, pullback


# ---------------------------------------------------------------- diagonal, trace


def _pad_last(xp, g, size):
    n = g.shape[-1]
    if n == size:
        return g
    z = xp.zeros(g.shape[:-1] + (size - n,), dtype=g.dtype, device=g.device)
    return xp.concat([g, z], axis=-1)


@rrule("linalg.diagonal")
def diagonal(xp, x, /, *, offset=0):
    y = xp.linalg.diagonal(x, offset=offset)
    m, n = x.shape[-2], x.shape[-1]

    def pullback(g):
        e = _eye(xp, m, x, m=n, k=offset)
        if offset >= 0:  # element i sits in row i
            return (_pad_last(xp, g, m)[..., :, None] * e,)
        return (_pad_last(xp, g, n)[..., None, :] * e,)  # element i sits in column i

    return y, pullback


@rrule("linalg.trace")
def trace(xp, x, /, *, offset=0, dtype=None):
    y = xp.linalg.trace(x, offset=offset, dtype=dtype)
    return y, lambda g: (g[..., None, None] * _eye(xp, x.shape[-2], x, m=x.shape[-1], k=offset),)


# ---------------------------------------------------------------- inverse, solve, determinants


@rrule("linalg.inv")
def inv(xp, x, /):
    y = xp.linalg.inv(x)
    return y, lambda g: (-(_T(xp, y) @ g @ _T(xp, y)),)


@rrule("linalg.solve")
def solve(xp, x1, x2, /):
    y = xp.linalg.solve(x1, x2)
    vec = x2.ndim == 1  # the standard's vector case: x2 of shape (M,)

    def pullback(g):
        g2 = g[..., None] if vec else g
        y2 = y[..., None] if vec else y
        gb = xp.linalg.solve(_T(xp, x1), g2)
        d1 = lambda: unbroadcast(xp, -(gb @ _T(xp, y2)), x1)
        d2 = lambda: unbroadcast(xp, gb[..., 0] if vec else gb, x2)
        return d1, d2

    return y, pullback


@rrule("linalg.det")
def det(xp, x, /):
    d = xp.linalg.det(x)
    return d, lambda g: ((g * d)[..., None, None] * _T(xp, xp.linalg.inv(x)),)


@rrule("linalg.slogdet")
def slogdet(xp, x, /):
    res = xp.linalg.slogdet(x)

    def pullback(g):
        gs, gl = g
        # d logabsdet = Re(t), d sign = i Im(t) sign, t = tr(inv(x) dx):
        # t's cotangent is h = gl + i Im(gs * sign)
        h = gl
        if is_complex(x):
            z = gs * res[0]
            h = gl + (z - xp.conj(z)) / 2
        return (h[..., None, None] * _T(xp, xp.linalg.inv(x)),)

    return res, pullback


@rrule("linalg.matrix_power")
def matrix_power(xp, x, n, /):
    y = xp.linalg.matrix_power(x, n)

    def pullback(g):
        if n == 0:
            return None, None
        b = x if n > 0 else xp.linalg.inv(x)
        bt = _T(xp, b)
        # d(b^m) = sum_k b^k db b^(m-1-k); transposed: S_m = sum_k bt^k g bt^(m-1-k),
        # by S_1 = g, S_{j+1} = bt S_j + g bt^j
        s, p = g, None
        for _ in range(abs(n) - 1):
            p = bt if p is None else p @ bt
            s = bt @ s + g @ p
        if n < 0:
            s = -(bt @ s @ bt)
        return s, None

    return y, pullback


@rrule("linalg.pinv")
def pinv(xp, x, /, *, rtol=None):
    kw = {} if rtol is None else {"rtol": rtol}
    p = xp.linalg.pinv(x, **kw)

    def adjoint(g):
        # constant-rank formula (Golub & Pereyra):
        # gA = -P^H G P^H + (I - A P) G^H P P^H + P^H P G^H (I - P A)
        ph, gh = _H(xp, p), _H(xp, g)
        t2 = gh @ (p @ ph)
        t2 = t2 - x @ (p @ t2)
        t3 = (ph @ p) @ gh
        t3 = t3 - (t3 @ p) @ x
        return -(ph @ g @ ph) + t2 + t3

    return p, lambda g: (lambda: _jax(xp, g, adjoint),)


nondiff("linalg.matrix_rank")

# ---------------------------------------------------------------- Hermitian decompositions


@rrule("linalg.cholesky")
def cholesky(xp, x, /, *, upper=False):
    c = xp.linalg.cholesky(x, upper=True) if upper else xp.linalg.cholesky(x)

    def adjoint(gc):
        # x = L L^H; gx = sym(L^-H Phi(L^H gL) L^-1), Phi = lower triangle with half diagonal
        lo = _H(xp, c) if upper else c
        gl = _H(xp, gc) if upper else gc
        m = _H(xp, lo) @ gl
        phi = xp.tril(m) - 0.5 * (m * _eye(xp, m.shape[-1], m))
        z = xp.linalg.solve(_H(xp, lo), phi)
        s = _H(xp, xp.linalg.solve(_H(xp, lo), _H(xp, z)))
        return (s + _H(xp, s)) / 2

    return c, lambda g: (_jax(xp, g, adjoint),)


def _eigh_adjoint(xp, w, v, gw, gv):
    # gx = V (diag(gw) + F o skew(V^H gV)) V^H, F_ij = 1 / (w_j - w_i), F_ii = 0; a None cotangent
    # (that result unused) drops its term, so equal eigenvalues cost nothing when only w is used
    inner = _diag(xp, gw, w) if gw is not None else xp.zeros_like(v)
    if gv is not None:
        e = _eye(xp, w.shape[-1], w)
        f = 1 / (w[..., None, :] - w[..., :, None] + e) - e
        vg = _H(xp, v) @ gv
        inner = inner + f * ((vg - _H(xp, vg)) / 2)
    return v @ inner @ _H(xp, v)


@rrule("linalg.eigh")
def eigh(xp, x, /):
    res = xp.linalg.eigh(x)
    w, v = res
    return res, lambda g: (_jax(xp, tuple(g), lambda gw, gv: _eigh_adjoint(xp, w, v, gw, gv)),)


@rrule("linalg.eigvalsh")
def eigvalsh(xp, x, /):
    # the value is eigvalsh's own (eigh's eigenvalues may differ in the last bit, which a floor or
    # a comparison downstream would turn into another answer than the plain call's)
    w = xp.linalg.eigvalsh(x)
    v = xp.linalg.eigh(x).eigenvectors
    # gx = conj(V diag(g) V^H) (g is real)
    return w, lambda g: (conj(xp, (v * g[..., None, :]) @ _H(xp, v)),)


# ---------------------------------------------------------------- general eigenproblem


@rrule("linalg.eig")
def eig(xp, x, /):
    res = xp.linalg.eig(x)
    w, v = res

    def adjoint(gw, gv):
        # x V = V diag(w), columns of V of unit norm (their phase is a gauge):
        # gx = V^-H (diag(gw) + (V^H gV - V^H V diag(Re diag(V^H gV))) / conj(E)) V^H,
        # E_ij = w_j - w_i (off the diagonal); a None cotangent drops its term
        vh = _H(xp, v)
        inner = _diag(xp, gw, w) if gw is not None else xp.zeros_like(v)
        if gv is not None:
            e = _eye(xp, w.shape[-1], w)
            vg = vh @ gv
            r = xp.linalg.diagonal(vg)
            r = xp.real(r) if is_complex(r) else r
            den = conj(xp, w[..., None, :] - w[..., :, None]) + e
            inner = inner + (vg - vh @ (v * r[..., None, :])) / den * (1 - e)
        return xp.linalg.solve(vh, inner @ vh)

    return res, lambda g: (_jax(xp, tuple(g), adjoint),)


@rrule("linalg.eigvals")
def eigvals(xp, x, /):
    w, v = xp.linalg.eig(x)
    # holomorphic: gx = V^-T diag(g) V^T
    return w, lambda g: (xp.linalg.solve(_T(xp, v), _diag(xp, g, w) @ _T(xp, v)),)


# ---------------------------------------------------------------- QR, SVD


def _qr_square_or_tall(xp, q, r, gq, gr):
    # m >= n: gA = (gQ + Q copyutl(M)) R^-H, M = gR R^H - Q^H gQ,
    # copyutl(M) = triu(M, 1) + triu(M, 1)^H + Re diag(M)
    m = gr @ _H(xp, r) - _H(xp, q) @ gq
    up = xp.triu(m, k=1)
    d = m * _eye(xp, m.shape[-1], m)
    c = up + _H(xp, up) + (xp.real(d) if is_complex(d) else d)
    b = gq + q @ c
    return _H(xp, xp.linalg.solve(r, _H(xp, b)))


@rrule("linalg.qr")
def qr(xp, x, /, *, mode="reduced"):
    res = xp.linalg.qr(x, mode=mode)
    q, r = res
    m, n = x.shape[-2], x.shape[-1]

    def adjoint(gq, gr):
        qq, rr = q, r
        if m > n and mode == "complete":
            # the last m - n columns of Q are an arbitrary basis: their cotangent is ignored
            qq, rr, gq, gr = q[..., :, :n], r[..., :n, :], gq[..., :, :n], gr[..., :n, :]
        if m >= n:
            return _qr_square_or_tall(xp, qq, rr, gq, gr)
        # wide: x = [X | Y], R = [U | V], X = Q U, V = Q^H Y
        y, u = x[..., :, m:], r[..., :, :m]
        gu, gv = gr[..., :, :m], gr[..., :, m:]
        gx = _qr_square_or_tall(xp, q, u, gq + y @ _H(xp, gv), gu)
        return xp.concat([gx, q @ gv], axis=-1)

    return res, lambda g: (_jax(xp, tuple(g), adjoint),)


def _svd_adjoint(xp, u, s, vh, gu, gs, gvh):
    # a None cotangent (that result unused) drops its terms: repeated singular values cost nothing
    # when only s is used (F's 1 / (s_k^2 - s_j^2) multiplies the U and V terms only)
    m, n, k = u.shape[-2], vh.shape[-1], s.shape[-1]
    e = _eye(xp, k, s)
    uh, v = _H(xp, u), _H(xp, vh)
    inner = _diag(xp, gs, s) if gs is not None else xp.zeros_like(e * s[..., None, :])
    xu = uh @ gu if gu is not None else None
    if gu is not None or gvh is not None:
        s2 = s * s
        f = 1 / (s2[..., None, :] - s2[..., :, None] + e) - e  # F_jk = 1 / (s_k^2 - s_j^2)
        if gu is not None:
            inner = inner + (f * (xu - _H(xp, xu))) * s[..., None, :]
        if gvh is not None:
            zv = vh @ _H(xp, gvh)
            inner = inner + s[..., :, None] * (f * (zv - _H(xp, zv)))
    if xu is not None and is_complex(xu):
        # gauge (phase of the singular pairs) fixed on V: adds i Im(diag(U^H gU)) / s
        d = xp.linalg.diagonal(xu)
        inner = inner + _diag(xp, (d - xp.conj(d)) / 2 / s, s)
    ga = u @ inner @ vh
    if m > k and gu is not None:
        ga = ga + ((gu - u @ xu) / s[..., None, :]) @ vh
    if n > k and gvh is not None:
        ga = ga + u @ ((gvh - (gvh @ v) @ vh) / s[..., :, None])
    return ga


@rrule("linalg.svd")
def svd(xp, x, /, *, full_matrices=True):
    res = xp.linalg.svd(x, full_matrices=full_matrices)
    u, s, vh = res
    m, n = x.shape[-2], x.shape[-1]
    k = min(m, n)

    def adjoint(gu, gs, gvh):
        uu, vv = u, vh
        if full_matrices and m != n:
            # like PyTorch: the cotangents of the complement bases are ignored
            uu, vv = u[..., :, :k], vh[..., :k, :]
            gu = gu[..., :, :k] if gu is not None else None
            gvh = gvh[..., :k, :] if gvh is not None else None
        return _svd_adjoint(xp, uu, s, vv, gu, gs, gvh)

    return res, lambda g: (_jax(xp, tuple(g), adjoint),)


@rrule("linalg.svdvals")
def svdvals(xp, x, /):
    s = xp.linalg.svdvals(x)  # the plain call's value, to the last bit (see eigvalsh)
    u, _, vh = xp.linalg.svd(x, full_matrices=False)
    # gx = conj(U diag(g) Vh)
    return s, lambda g: (conj(xp, (u * g[..., None, :]) @ vh),)


# ---------------------------------------------------------------- norms


@rrule("linalg.vector_norm")
def vector_norm(xp, x, /, *, axis=None, keepdims=False, ord=2):
    y = xp.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)

    def pullback(g):
        if ord == 0:
            return (None,)  # the count of nonzeros is piecewise constant
        ge = keep_dims(xp, g, x, axis, keepdims)
        ye = keep_dims(xp, y, x, axis, keepdims)
        if ord == 2:
            return (ge * conj(xp, x) / xp.where(ye == 0, 1.0, ye),)
        sg = _abs_grad(xp, x)
        if ord == 1:
            return (ge * sg,)
        if ord in (INF, -INF):
            ax = normalize_axis(axis, x.ndim)
            hit = xp.astype(xp.abs(x) == ye, ye.dtype)
            return (ge * sg * (hit / xp.sum(hit, axis=ax, keepdims=True)),)
        return (ge * sg * (xp.abs(x) / xp.where(ye == 0, 1.0, ye)) ** (ord - 1),)

    return y, pullback


@rrule("linalg.matrix_norm")
def matrix_norm(xp, x, /, *, keepdims=False, ord="fro"):
    y = xp.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)

    def pullback(g):
        ge = g if keepdims else g[..., None, None]
        if ord == "fro":
            ye = y if keepdims else y[..., None, None]
            return (ge * conj(xp, x) / xp.where(ye == 0, 1.0, ye),)
        if ord in ("nuc", 2, -2):
            u, s, vh = xp.linalg.svd(x, full_matrices=False)
            if ord == "nuc":
                return (ge * conj(xp, u @ vh),)
            i = 0 if ord == 2 else s.shape[-1] - 1  # singular values come in descending order
            return (ge * conj(xp, u[..., :, i:i + 1] @ vh[..., i:i + 1, :]),)
        if ord in (1, -1, INF, -INF):
            # max/min over columns (1) or rows (inf) of the absolute sums
            ax, other = (-2, -1) if ord in (1, -1) else (-1, -2)
            sums = xp.sum(xp.abs(x), axis=ax, keepdims=True)
            pick = xp.max if ord > 0 else xp.min
            hit = xp.astype(sums == pick(sums, axis=other, keepdims=True), sums.dtype)
            w = hit / xp.sum(hit, axis=other, keepdims=True)
            return (ge * w * _abs_grad(xp, x),)
        raise ValueError(f"matrix_norm: no gradient for ord={ord!r}")

    return y, pullback
