"""``fft`` fills: every transform (``fft ifft fftn ifftn rfft irfft rfftn
irfftn hfft ihfft``).  Upstream: Dask needs the transformed axes in one chunk
(``ValueError`` otherwise).  Here the transformed axes (only those) are
rechunked to one chunk and the chunk library's transform runs per block; the
standard's ``s=-1`` entries and default ``axes`` are resolved here.
``fftshift``, ``ifftshift``, ``fftfreq``, ``rfftfreq`` work in ``cda``.
"""
from __future__ import annotations

import numpy as np
import array_api_compat

from .arrays import as_dask, norm_axis
from .blocks import probe, single_chunk


def _fft1(fname, x, n, axis, norm, out_len):
    x = as_dask(x)
    axis = norm_axis(axis, x.ndim)
    m = x.shape[axis]
    length = out_len(m if n is None else n, m)
    x = single_chunk(x, [axis])
    dtype = probe("fft", fname, np.dtype(x.dtype))
    chunks = list(x.chunks)
    chunks[axis] = (length,)

    def f(b):
        return getattr(array_api_compat.array_namespace(b).fft, fname)(b, n=n, axis=axis, norm=norm)

    return x.map_blocks(f, chunks=tuple(chunks), dtype=dtype)


def fft(x, /, *, n=None, axis=-1, norm="backward"):
    """Per block along a single-chunk ``axis``."""
    return _fft1("fft", x, n, axis, norm, lambda n, m: n)


def ifft(x, /, *, n=None, axis=-1, norm="backward"):
    """Per block along a single-chunk ``axis``."""
    return _fft1("ifft", x, n, axis, norm, lambda n, m: n)


def rfft(x, /, *, n=None, axis=-1, norm="backward"):
    """Per block along a single-chunk ``axis``; length ``n//2 + 1``."""
    return _fft1("rfft", x, n, axis, norm, lambda n, m: n // 2 + 1)


def ihfft(x, /, *, n=None, axis=-1, norm="backward"):
    """Per block along a single-chunk ``axis``; length ``n//2 + 1``."""
    return _fft1("ihfft", x, n, axis, norm, lambda n, m: n // 2 + 1)


def irfft(x, /, *, n=None, axis=-1, norm="backward"):
    """Per block along a single-chunk ``axis``; length ``n`` (default
    ``2*(m-1)``)."""
    return _fft1("irfft", x, n, axis, norm, lambda n_, m: 2 * (m - 1) if n is None else n)


def hfft(x, /, *, n=None, axis=-1, norm="backward"):
    """Per block along a single-chunk ``axis``; length ``n`` (default
    ``2*(m-1)``)."""
    return _fft1("hfft", x, n, axis, norm, lambda n_, m: 2 * (m - 1) if n is None else n)


def _fftn(fname, x, s, axes, norm):
    x = as_dask(x)
    if axes is None:
        axes = tuple(range(x.ndim)) if s is None else tuple(range(x.ndim - len(s), x.ndim))
    axes = tuple(norm_axis(a, x.ndim) for a in axes)
    if s is None:
        # the default: each axis keeps its length, but irfftn's last axis
        # becomes 2 * (m - 1)
        s = [x.shape[a] for a in axes]
        if fname == "irfftn":
            s[-1] = 2 * (x.shape[axes[-1]] - 1)
    s = list(s)
    if len(s) != len(axes):
        raise ValueError(f"fft.{fname}: s and axes must have the same length")
    for i, a in enumerate(axes):
        if s[i] == -1:  # explicit -1: the input's length, irfftn's last axis included (as NumPy)
            s[i] = x.shape[a]
    x = single_chunk(x, axes)
    dtype = probe("fft", fname, np.dtype(x.dtype))
    chunks = list(x.chunks)
    for i, a in enumerate(axes):
        chunks[a] = (s[i],)
    if fname == "rfftn":
        chunks[axes[-1]] = (s[-1] // 2 + 1,)
    s_, axes_ = tuple(s), tuple(axes)

    def f(b):
        return getattr(array_api_compat.array_namespace(b).fft, fname)(b, s=s_, axes=axes_, norm=norm)

    return x.map_blocks(f, chunks=tuple(chunks), dtype=dtype)


def fftn(x, /, *, s=None, axes=None, norm="backward"):
    """Per block with the transformed axes in one chunk."""
    return _fftn("fftn", x, s, axes, norm)


def ifftn(x, /, *, s=None, axes=None, norm="backward"):
    """Per block with the transformed axes in one chunk."""
    return _fftn("ifftn", x, s, axes, norm)


def rfftn(x, /, *, s=None, axes=None, norm="backward"):
    """Per block with the transformed axes in one chunk."""
    return _fftn("rfftn", x, s, axes, norm)


def irfftn(x, /, *, s=None, axes=None, norm="backward"):
    """Per block with the transformed axes in one chunk."""
    return _fftn("irfftn", x, s, axes, norm)


FILLS = {
    "fft": fft, "ifft": ifft, "fftn": fftn, "ifftn": ifftn, "rfft": rfft,
    "irfft": irfft, "rfftn": rfftn, "irfftn": irfftn, "hfft": hfft, "ihfft": ihfft,
}
