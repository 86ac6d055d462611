"""FFT functions: the transformed axes of one example are the batch's axes
shifted by one; where the example's call leaves them out (every axis, or the
last ``len(s)``), they are written out, since the batch adds an axis."""
from __future__ import annotations

from .. import ops
from ._util import aligned, shift_axis


def _fn(xp, name):
    return getattr(xp.fft, name)


def _one_axis(name):
    def rule(xp, dims, x, *args, **kwargs):
        kwargs.update(zip(("n", "axis", "norm"), args))
        kwargs["axis"] = shift_axis(kwargs.get("axis", -1), x.ndim - 1)
        return _fn(xp, name)(x, **kwargs), 0

    rule.__name__ = f"batch_fft_{name}"
    return rule


def _n_axes(name):
    def rule(xp, dims, x, *args, **kwargs):
        kwargs.update(zip(("s", "axes", "norm"), args))
        nd = x.ndim - 1
        axes, s = kwargs.get("axes"), kwargs.get("s")
        if axes is None:
            axes = range(nd) if s is None else range(nd - len(s), nd)
        kwargs["axes"] = shift_axis(tuple(axes), nd)
        return _fn(xp, name)(x, **kwargs), 0

    rule.__name__ = f"batch_fft_{name}"
    return rule


def _shift(name):
    def rule(xp, dims, x, *args, **kwargs):
        kwargs.update(zip(("axes",), args))
        kwargs["axes"] = shift_axis(kwargs.get("axes"), x.ndim - 1)
        return _fn(xp, name)(x, **kwargs), 0

    rule.__name__ = f"batch_fft_{name}"
    return rule


def _freq(name):
    # only the sample spacing d can be an array: the frequencies for d = 1, divided by it
    def rule(xp, dims, n, *args, **kwargs):
        kwargs.update(zip(("d",), args))
        d = kwargs.pop("d")
        dtype = kwargs.get("dtype")
        y = _fn(xp, name)(n, **kwargs) / aligned(xp, d, 0, 1)
        return (xp.astype(y, dtype) if dtype is not None and y.dtype != dtype else y), 0

    rule.__name__ = f"batch_fft_{name}"
    return rule


for _n in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"):
    ops.batching("fft." + _n)(_one_axis(_n))
for _n in ("fftn", "ifftn", "rfftn", "irfftn"):
    ops.batching("fft." + _n)(_n_axes(_n))
for _n in ("fftshift", "ifftshift"):
    ops.batching("fft." + _n)(_shift(_n))
for _n in ("fftfreq", "rfftfreq"):
    ops.batching("fft." + _n)(_freq(_n))
