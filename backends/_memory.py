"""Which memory a strided array owns and spans (NumPy, CuPy, PyTorch): for the view tracking of writes
(``yota/views.py``), through the backends' ``overlaps`` and ``covers``. Each backend describes
an array as a `Layout`; the arithmetic on addresses is the same for all of them."""
from __future__ import annotations

from typing import NamedTuple


class Layout(NamedTuple):
    ptr: int  # the address of element 0
    shape: tuple
    strides: tuple  # in bytes
    itemsize: int
    contiguous: bool  # C or Fortran order: the span holds no byte of another array


def owner(x, array_type):
    """The object whose memory an array of ``array_type`` (NumPy's or CuPy's ndarray) views: the
    innermost ``base``, an array or the buffer an array was made from; None for anything else
    (scalars, Python numbers), which no write can reach."""
    if type(x) is not array_type:
        return None
    while type(x.base) is array_type:
        x = x.base
    return x if x.base is None else x.base


def span(a: Layout) -> tuple[int, int]:
    """The first and one-past-the-last byte the array touches (an empty one: none)."""
    low = high = a.ptr
    for n, st in zip(a.shape, a.strides):
        if n == 0:
            return a.ptr, a.ptr
        if st < 0:
            low += (n - 1) * st
        else:
            high += (n - 1) * st
    return low, high + a.itemsize


def spans_meet(a: Layout, b: Layout) -> bool:
    """Whether the spans overlap (NumPy's may_share_memory: bounds only)."""
    lo, hi = span(a)
    blo, bhi = span(b)
    return lo < bhi and blo < hi and lo < hi and blo < bhi


def covers(a: Layout, b: Layout) -> bool:
    """Whether ``a`` holds every byte of ``b``: the same view, or a contiguous ``a`` whose span
    holds ``b``'s. False when unsure (a strided ``a``)."""
    if a.ptr == b.ptr and a.shape == b.shape and a.strides == b.strides:
        return True
    if not a.contiguous:
        return False
    lo, hi = span(a)
    blo, bhi = span(b)
    return lo <= blo and bhi <= hi
