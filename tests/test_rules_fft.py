"""Gradient tests for the FFT extension, complex numbers in JAX's convention.

The standard's ``fft``/``ifft``/``fftn``/``ifftn``/``irfft*``/``hfft`` take complex
inputs and ``rfft*``/``ihfft`` real ones; ``n``/``s`` both crop and pad.
"""
from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota
from _helpers import namespace_of
from yota.testing import check_grad


ns = namespace_of


C, R = "complex", "real"

# name -> (input kind, shape, function of (xp, x))
CASES = {
    "fft": (C, (8,), lambda xp, x: xp.fft.fft(x)),
    "fft_crop": (C, (8,), lambda xp, x: xp.fft.fft(x, n=5)),
    "fft_pad_ortho": (C, (5,), lambda xp, x: xp.fft.fft(x, n=8, norm="ortho")),
    "fft_axis0_forward": (C, (4, 3), lambda xp, x: xp.fft.fft(x, axis=0, norm="forward")),
    "ifft": (C, (6,), lambda xp, x: xp.fft.ifft(x)),
    "ifft_crop_ortho": (C, (2, 7), lambda xp, x: xp.fft.ifft(x, n=4, norm="ortho")),
    "ifft_pad_axis0": (C, (3, 2), lambda xp, x: xp.fft.ifft(x, n=5, axis=0, norm="forward")),
    "fftn": (C, (4, 3), lambda xp, x: xp.fft.fftn(x)),
    "fftn_axes": (C, (2, 3, 4), lambda xp, x: xp.fft.fftn(x, axes=(0, 2), norm="ortho")),
    "fftn_s": (C, (4, 3), lambda xp, x: xp.fft.fftn(x, s=(3, 5), axes=(0, 1))),
    "fftn_s_default_axes": (C, (2, 4, 3), lambda xp, x: xp.fft.fftn(x, s=(3, 5))),
    "fftn_s_axes_forward": (C, (2, 3, 4), lambda xp, x: xp.fft.fftn(x, s=(6, 3), axes=(2, 0), norm="forward")),
    "ifftn": (C, (3, 4), lambda xp, x: xp.fft.ifftn(x)),
    "ifftn_s_ortho": (C, (3, 4), lambda xp, x: xp.fft.ifftn(x, s=(5, 2), axes=(0, 1), norm="ortho")),
    "ifftn_axes": (C, (2, 3, 2), lambda xp, x: xp.fft.ifftn(x, axes=(1,), norm="forward")),
    "rfft": (R, (8,), lambda xp, x: xp.fft.rfft(x)),
    "rfft_odd": (R, (7,), lambda xp, x: xp.fft.rfft(x)),
    "rfft_crop_odd": (R, (8,), lambda xp, x: xp.fft.rfft(x, n=5, norm="ortho")),
    "rfft_pad_even": (R, (5,), lambda xp, x: xp.fft.rfft(x, n=8, norm="forward")),
    "rfft_axis0": (R, (6, 3), lambda xp, x: xp.fft.rfft(x, axis=0)),
    "rfft_norm_none": (R, (4,), lambda xp, x: xp.fft.rfft(x, norm=None)),
    "irfft": (C, (5,), lambda xp, x: xp.fft.irfft(x)),
    "irfft_odd_n": (C, (5,), lambda xp, x: xp.fft.irfft(x, n=9)),
    "irfft_crop": (C, (5,), lambda xp, x: xp.fft.irfft(x, n=6, norm="ortho")),
    "irfft_pad": (C, (3,), lambda xp, x: xp.fft.irfft(x, n=11, norm="forward")),
    "irfft_axis0": (C, (4, 3), lambda xp, x: xp.fft.irfft(x, axis=0)),
    "rfftn": (R, (4, 6), lambda xp, x: xp.fft.rfftn(x)),
    "rfftn_s": (R, (4, 6), lambda xp, x: xp.fft.rfftn(x, s=(5, 7), axes=(0, 1), norm="ortho")),
    "rfftn_axes_reversed": (R, (5, 4), lambda xp, x: xp.fft.rfftn(x, axes=(1, 0))),
    "rfftn_one_axis_forward": (R, (3, 4, 2), lambda xp, x: xp.fft.rfftn(x, axes=(1,), norm="forward")),
    "irfftn": (C, (4, 4), lambda xp, x: xp.fft.irfftn(x)),
    "irfftn_s_odd": (C, (4, 4), lambda xp, x: xp.fft.irfftn(x, s=(3, 7), axes=(-2, -1), norm="ortho")),
    "irfftn_s_crop": (C, (4, 4), lambda xp, x: xp.fft.irfftn(x, s=(5, 4), axes=(0, 1), norm="forward")),
    "irfftn_axes_reversed": (C, (3, 4), lambda xp, x: xp.fft.irfftn(x, axes=(1, 0))),
    "hfft": (C, (5,), lambda xp, x: xp.fft.hfft(x)),
    "hfft_odd_ortho": (C, (4,), lambda xp, x: xp.fft.hfft(x, n=7, norm="ortho")),
    "hfft_crop_forward": (C, (6,), lambda xp, x: xp.fft.hfft(x, n=4, norm="forward")),
    "hfft_axis0": (C, (4, 2), lambda xp, x: xp.fft.hfft(x, axis=0)),
    "ihfft": (R, (8,), lambda xp, x: xp.fft.ihfft(x)),
    "ihfft_odd_ortho": (R, (7,), lambda xp, x: xp.fft.ihfft(x, norm="ortho")),
    "ihfft_crop_forward": (R, (8,), lambda xp, x: xp.fft.ihfft(x, n=5, norm="forward")),
    "ihfft_pad_axis0": (R, (3, 2), lambda xp, x: xp.fft.ihfft(x, n=6, axis=0)),
    "fftshift": (R, (5,), lambda xp, x: xp.fft.fftshift(x)),
    "fftshift_axes": (R, (4, 5), lambda xp, x: xp.fft.fftshift(x, axes=(1,))),
    "ifftshift": (R, (4, 5), lambda xp, x: xp.fft.ifftshift(x)),
    "ifftshift_axes": (C, (3, 4), lambda xp, x: xp.fft.ifftshift(x, axes=0)),
    "fftfreq_nondiff": (R, (6,), lambda xp, x: x * xp.fft.fftfreq(6, d=0.5, dtype=x.dtype)),
    "rfftfreq_nondiff": (R, (4,), lambda xp, x: x * xp.fft.rfftfreq(6, dtype=x.dtype)),
    "roundtrip_rfft_irfft": (R, (7,), lambda xp, x: xp.fft.irfft(xp.fft.rfft(x) * xp.fft.rfft(x), n=7)),
}


def _input(backend, rng, kind, shape):
    a = rng.standard_normal(shape)
    if kind == C:
        a = a + 1j * rng.standard_normal(shape)
    return backend.asarray(a)


@pytest.mark.filterwarnings("ignore:`axes` should not be `None` if `s` is not `None`:DeprecationWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_fft(backend, rng, name):
    kind, shape, fn = CASES[name]
    x = _input(backend, rng, kind, shape)
    # (Dask: the random-direction VJP identity only; elementwise differences are slow there)
    check_grad(lambda x: fn(ns(x), x), x, **({"full": 0} if backend.name == "dask" else {}))


@pytest.mark.parametrize("name", ["fft", "ifft", "hfft"])
def test_real_input_to_complex_transform(rng, name):
    # NumPy accepts real input to c2c / c2r transforms; the gradient is the real part
    x = rng.standard_normal((6,))
    check_grad(lambda x: getattr(array_namespace(x).fft, name)(x), x)


def test_float32(backend, rng):
    x = backend.asarray(rng.standard_normal((6,)), dtype=np.float32)
    check_grad(lambda x: ns(x).fft.irfft(ns(x).fft.rfft(x, norm="ortho") * 2.0, n=6, norm="ortho"), x)


def test_second_order(rng):
    x = rng.standard_normal((6,))

    def energy(x):
        xp = array_namespace(x)
        return xp.sum(xp.fft.irfft(xp.fft.rfft(x) * xp.fft.rfft(xp.tanh(x)), n=6))

    def outer(x):
        xp = array_namespace(x)
        return xp.sum(yota.grad(energy, x)[1][1] ** 2)

    check_grad(outer, x)
