"""The FFT extension.

Every transform is linear, so its pullback is its transpose under JAX's
pairing ``Re(sum(g * dy))`` (no conjugation of ``g``):

* ``fft``/``ifft``/``fftn``/``ifftn``: the DFT matrix is symmetric, so the
  transpose is the same transform with the same ``norm``.
* ``n``/``s`` crop or zero-pad the input before transforming; the transpose of
  a zero-pad is a crop and vice versa (``_resize``).
* ``rfft``/``rfftn`` keep the first ``n // 2 + 1`` bins of a full FFT of a real
  input: the transpose is ``Re(fft(zero-padded g))``, computed as an ``irfft`` of
  ``conj(g)`` with the bins that have a mirror image (all but DC and, for even
  ``n``, Nyquist) halved, because ``irfft`` counts those twice.
* ``irfft``/``irfftn`` read only the real part of the DC (and Nyquist) bins and
  count the others twice: the transpose is ``conj(rfft(g))`` with the mirrored
  bins doubled.  (Same as JAX's ``_irfft_transpose``.)
* ``hfft`` = ``irfft(conj(x))`` and ``ihfft`` = ``conj(rfft(x))`` (with the norm
  direction swapped), which fixes their transposes.
* ``fftshift``/``ifftshift`` are permutations: each one's transpose is the other.
* ``fftfreq``/``rfftfreq`` are not differentiable.
"""
from __future__ import annotations

from ._util import conj, real_dtype as _real_dtype
from ..ops import nondiff, rrule

# A transform with norm N and its inverse-direction partner scale by the same factor.
_SWAP = {"backward": "forward", "ortho": "ortho", "forward": "backward", None: "forward"}


def _resize(xp, a, axis, size):
    """Crop or zero-pad ``a`` along ``axis`` to ``size``."""
    n = a.shape[axis]
    if n == size:
        return a
    if n > size:
        return a[tuple(slice(0, size) if i == axis else slice(None) for i in range(a.ndim))]
    pad = tuple(size - n if i == axis else s for i, s in enumerate(a.shape))
    return xp.concat([a, xp.zeros(pad, dtype=a.dtype, device=a.device)], axis=axis)


def _mirror_weights(xp, n, axis, like, mirrored):
    """Along ``axis`` (length ``n // 2 + 1``): 1 at DC and (even ``n``) Nyquist, ``mirrored`` elsewhere."""
    h = n // 2 + 1
    k = xp.arange(h, device=like.device)
    edge = k == 0
    if n % 2 == 0:
        edge = xp.logical_or(edge, k == h - 1)
    dt = _real_dtype(xp, like.dtype)
    w = mirrored + (1.0 - mirrored) * xp.astype(edge, dt)
    return xp.reshape(w, tuple(h if i == axis else 1 for i in range(like.ndim)))


def _axes(x, s, axes):
    # the standard's default: all axes, or the last len(s) when s is given
    # (passed explicitly when s is: NumPy 2 deprecates s without axes)
    if axes is None:
        axes = range(x.ndim) if s is None else range(x.ndim - len(s), x.ndim)
    return tuple(a % x.ndim for a in axes)


# ---------------------------------------------------------------- complex-to-complex


def _c2c(name):
    def rule(xp, x, /, *, n=None, axis=-1, norm="backward"):
        f = getattr(xp.fft, name)
        y = f(x, n=n, axis=axis, norm=norm)
        ax = axis % x.ndim
        return y, lambda g: (_resize(xp, f(g, axis=ax, norm=norm), ax, x.shape[ax]),)

    rule.__name__ = name
    return rrule("fft." + name)(rule)


def _c2cn(name):
    def rule(xp, x, /, *, s=None, axes=None, norm="backward"):
        f = getattr(xp.fft, name)
        ax = _axes(x, s, axes)
        y = f(x, s=s, axes=axes if s is None else ax, norm=norm)

        def pullback(g):
            ct = f(g, axes=ax, norm=norm)
            for a in ax:
                ct = _resize(xp, ct, a, x.shape[a])
            return (ct,)

        return y, pullback

    rule.__name__ = name
    return rrule("fft." + name)(rule)


fft = _c2c("fft")
ifft = _c2c("ifft")
fftn = _c2cn("fftn")
ifftn = _c2cn("ifftn")


# ---------------------------------------------------------------- real input, half spectrum


@rrule("fft.rfft")
def rfft(xp, x, /, *, n=None, axis=-1, norm="backward"):
    y = xp.fft.rfft(x, n=n, axis=axis, norm=norm)
    ax = axis % x.ndim
    nn = x.shape[ax] if n is None else n

    def pullback(g):
        ct = xp.fft.irfft(conj(xp, g) * _mirror_weights(xp, nn, ax, g, 0.5), n=nn, axis=ax, norm=_SWAP[norm])
        return (_resize(xp, ct, ax, x.shape[ax]),)

    return y, pullback


@rrule("fft.ihfft")
def ihfft(xp, x, /, *, n=None, axis=-1, norm="backward"):
    # ihfft(x) = conj(rfft(x, norm=swapped))
    y = xp.fft.ihfft(x, n=n, axis=axis, norm=norm)
    ax = axis % x.ndim
    nn = x.shape[ax] if n is None else n

    def pullback(g):
        ct = xp.fft.irfft(g * _mirror_weights(xp, nn, ax, g, 0.5), n=nn, axis=ax, norm=norm)
        return (_resize(xp, ct, ax, x.shape[ax]),)

    return y, pullback


@rrule("fft.rfftn")
def rfftn(xp, x, /, *, s=None, axes=None, norm="backward"):
    ax = _axes(x, s, axes)
    y = xp.fft.rfftn(x, s=s, axes=axes if s is None else ax, norm=norm)
    sizes = tuple(x.shape[a] if s is None or s[i] == -1 else s[i] for i, a in enumerate(ax))

    def pullback(g):
        gw = conj(xp, g) * _mirror_weights(xp, sizes[-1], ax[-1], g, 0.5)
        ct = xp.fft.irfftn(gw, s=sizes, axes=ax, norm=_SWAP[norm])
        for a in ax:
            ct = _resize(xp, ct, a, x.shape[a])
        return (ct,)

    return y, pullback


# ---------------------------------------------------------------- half spectrum to real output


@rrule("fft.irfft")
def irfft(xp, x, /, *, n=None, axis=-1, norm="backward"):
    y = xp.fft.irfft(x, n=n, axis=axis, norm=norm)
    ax = axis % x.ndim
    nn = 2 * (x.shape[ax] - 1) if n is None else n

    def pullback(g):
        ct = xp.conj(xp.fft.rfft(g, axis=ax, norm=_SWAP[norm])) * _mirror_weights(xp, nn, ax, x, 2.0)
        return (_resize(xp, ct, ax, x.shape[ax]),)

    return y, pullback


@rrule("fft.hfft")
def hfft(xp, x, /, *, n=None, axis=-1, norm="backward"):
    # hfft(x) = irfft(conj(x), norm=swapped): the conjugations cancel
    y = xp.fft.hfft(x, n=n, axis=axis, norm=norm)
    ax = axis % x.ndim
    nn = 2 * (x.shape[ax] - 1) if n is None else n

    def pullback(g):
        ct = xp.fft.rfft(g, axis=ax, norm=norm) * _mirror_weights(xp, nn, ax, x, 2.0)
        return (_resize(xp, ct, ax, x.shape[ax]),)

    return y, pullback


@rrule("fft.irfftn")
def irfftn(xp, x, /, *, s=None, axes=None, norm="backward"):
    ax = _axes(x, s, axes)
    y = xp.fft.irfftn(x, s=s, axes=axes if s is None else ax, norm=norm)
    last = 2 * (x.shape[ax[-1]] - 1)
    sizes = tuple((x.shape[a] if a != ax[-1] else last) if s is None or s[i] == -1 else s[i]
                  for i, a in enumerate(ax))

    def pullback(g):
        ct = xp.conj(xp.fft.rfftn(g, axes=ax, norm=_SWAP[norm])) * _mirror_weights(xp, sizes[-1], ax[-1], x, 2.0)
        for a in ax:
            ct = _resize(xp, ct, a, x.shape[a])
        return (ct,)

    return y, pullback


# ---------------------------------------------------------------- shifts, frequencies


@rrule("fft.fftshift")
def fftshift(xp, x, /, *, axes=None):
    return xp.fft.fftshift(x, axes=axes), lambda g: (xp.fft.ifftshift(g, axes=axes),)


@rrule("fft.ifftshift")
def ifftshift(xp, x, /, *, axes=None):
    return xp.fft.ifftshift(x, axes=axes), lambda g: (xp.fft.fftshift(g, axes=axes),)


nondiff("fft.fftfreq", "fft.rfftfreq")
