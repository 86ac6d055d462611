"""vmap of the FFT extension against a loop over the examples: the gradient
tests' cases (tests/test_rules_fft.py) batched on axes 0, 1 and -1, out_axes=-1,
nested; the frequency helpers with a batched spacing."""
from __future__ import annotations

import numpy as np
import pytest

from test_rules_fft import CASES, C
from test_vmap_indexing import combos, nested_check, vmap_check

B = 3

DASK = {"fft_axis0_forward", "ifft_crop_ortho", "fftn_s_axes_forward", "ifftn_axes", "rfft_odd", "irfft_pad",
        "rfftn_s", "irfftn_s_odd", "hfft_axis0", "ihfft_crop_forward", "fftshift_axes", "ifftshift",
        "fftn_s_default_axes"}


def _make(kind, shape, count=B):
    def make(rng):
        xs = [rng.standard_normal(shape) for _ in range(count)]
        if kind == C:
            xs = [x + 1j * rng.standard_normal(shape) for x in xs]
        return [xs]

    return make


@pytest.mark.filterwarnings("ignore:`axes` should not be `None` if `s` is not `None`:DeprecationWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_fft(backend, name):
    if backend.name == "dask" and name not in DASK:
        pytest.skip("a representative subset runs on Dask (each call builds and computes a graph)")
    kind, shape, fn = CASES[name]
    for in_axes, out_axes in combos(backend, [len(shape)]):
        vmap_check(backend, fn, _make(kind, shape), in_axes, out_axes)


@pytest.mark.filterwarnings("ignore:`axes` should not be `None` if `s` is not `None`:DeprecationWarning")
@pytest.mark.parametrize("name", ["fftn_s_default_axes", "irfftn", "rfft_axis0", "ifftshift", "hfft_odd_ortho"])
def test_fft_nested(backend, name):
    if backend.name != "numpy":
        pytest.skip("nested vmap is backend-independent; kept to NumPy for time")
    kind, shape, fn = CASES[name]
    nested_check(backend, fn, _make(kind, shape, B * B), (0,))


@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
def test_freq_batched_spacing(backend, name):
    if backend.name != "numpy":
        pytest.skip("an array as the spacing d is not the standard's (a Python float); NumPy takes one")

    def fn(xp, d):
        return getattr(xp.fft, name)(6, d=d) * 1.0

    vmap_check(backend, fn, lambda rng: [[np.asarray(0.5 + rng.random()) for _ in range(B)]], (0,))
