"""The backend protocol: what yota needs from an array library.

A backend is one module per library (``backends/numpy.py``, ``backends/cupy.py``,
...) defining some of the names below at module level; `Backend` wraps it and
supplies the defaults for the rest. The engine only ever talks to a `Backend`:

========================  ==========================================================
``namespace``             the array-API namespace compiled tapes call as ``xp``
                          (array-api-compat's, or one with fills)
``scatter_add(xp, x, key, values)``  ``x`` with ``values`` added at ``x[key]``
                          (repeated integer indices accumulate); a new array
``setitem(xp, x, key, value)``       ``x`` with ``x[key] = value``; a new array
``getitem(xp, x, key)``   ``x[key]`` for any NumPy-style key (rules read
                          integer-array keys through it)
``device(x)``             the device of ``x``
``to_float(x)``           a 0-d value as a Python float (a lazy library may keep it lazy)
``is_lazy``               results are graphs, computed later (Dask)
``one_device``            every array of the library is on one device (NumPy, Dask): the cache
                          key leaves devices out; otherwise each array's device is in it (the
                          traced code may branch on ``x.device``)
``transform(tape)``       the tape this library compiles (NumPy buffer reuse, CuPy
                          kernel fusion); must return what the tape computes
``wrap(fn, tape)``        the compiled function as this library runs it (CUDA graphs)
``check_inputs(leaves)``  raise if these arrays cannot meet in one tape (two GPUs,
                          unknown sizes), naming both / saying what to do
``as_array(x)``           a 0-d result as an array of the library (NumPy turns 0-d
                          results into scalars; gradients mirror 0-d arrays);
                          called only for the gradients of 0-d arguments
``to_numpy(x)``           a host NumPy copy (testing)
``from_numpy(a, like)``   ``a`` as an array of this library, placed like ``like``
                          (its device, its chunks) (testing)
``reset()``               empty the backend's own caches (``yota.reset()``)
``state_key(obj)``        a snapshot of a random generator's state (an object of the
                          library whose draws change from call to call), or None for
                          anything else: a trace that draws from it is not reused
                          (module-level, called for objects of the library's package)
``content_guard(x, max_bytes)`` a snapshot of the contents of an array read outside the
                          arguments (a global, a class attribute): a function
                          ``same(x) -> bool`` saying whether ``x`` still holds them
                          bit for bit; None where identity says enough (immutable
                          arrays); False when ``x`` is larger than ``max_bytes``
``memory_owner(x)``       what owns the memory of ``x`` where other arrays may share it
                          (NumPy: the innermost ``base``), compared by identity; None
                          where a write into ``x`` is seen nowhere else (immutable
                          arrays, scalars): then ``x += y`` is ``x = x + y``
``overlaps(a, b)``        whether ``a`` and ``b``, of the same owner, share memory
``covers(a, b)``          whether ``a``'s memory holds all of ``b``'s (False when unsure)
``float_errors()``        the library's floating-point error settings now (``np.errstate``), as
                          a value that changes when they change; None where there are none
``float_errors_raising()`` the conditions those settings turn into an exception (``divide``,
                          ``invalid``...): a compiled tape runs under the caller's settings, so a
                          trace that ran an operation under other raising ones cannot be reused
``embeds_tracers(x)``     whether an array of the library holds traced values inside
                          (a Dask graph built by calling ``dask.array`` itself on a
                          traced array): such a value cannot become a constant
``unknown_size_advice``   what to say when a size is unknown (lazy libraries)
``prepare_inputs(leaves)`` the arrays to run on, made from the arrays passed in
                          (Dask: zero-length chunks dropped); called on every call
``replaces_getitem``      ``x[key]`` must run this backend's ``getitem``, not the
                          library's own indexing (Dask's reads some keys wrongly,
                          PyTorch has no negative steps)
``operators_via_namespace`` ``a @ b``, ``-a`` run as ``xp.matmul(a, b)``, ``xp.negative(a)``
                          (the namespace fills what the library's operators lack: sparse)
========================  ==========================================================

Everything but ``namespace`` has a default written against the standard alone
(``backends/_generic.py``), so a library array-api-compat knows works with an
empty module.
"""
from __future__ import annotations

import math
import types
from typing import Any, Callable, Sequence

import array_api_compat
import numpy as np

from . import _generic

__all__ = ["Backend", "HOOKS", "check_one_device", "MixedBackendError"]


class MixedBackendError(TypeError):
    """Arrays that cannot meet in one tape (two libraries, two devices)."""

HOOKS = ("scatter_add", "setitem", "getitem", "device", "to_float", "transform", "wrap", "check_inputs",
         "as_array", "to_numpy", "from_numpy", "reset", "content_guard", "embeds_tracers",
         "memory_owner", "overlaps", "covers", "float_errors", "float_errors_raising")


def _identity_transform(tape):
    return tape


def _no_wrap(fn, tape):
    return fn


def check_one_device(leaves: Sequence[Any]) -> None:
    """Arrays on two devices (two GPUs, a GPU and the host) cannot meet in one tape: name both."""
    seen: dict = {}
    for x in leaves:
        if not hasattr(x, "shape"):
            continue
        try:
            d = getattr(x, "device", None)
            d = _generic.device(x) if d is None or callable(d) else d
            key = (type(d), str(d))
        except Exception:  # noqa: BLE001 - a library without devices
            continue
        seen.setdefault(key, d)
        if len(seen) > 1:
            a, b = list(seen.values())[:2]
            raise MixedBackendError(
                f"arrays on two devices were passed together: {a} and {b}. Move them to one device first "
                f"(for example with the library's to_device / asarray(x, device=...)).")


def _same(x):
    return x


def _to_numpy(x):
    try:
        return np.asarray(x)
    except Exception:  # noqa: BLE001 - libraries without __array__ speak DLPack
        return np.from_dlpack(x)


def _no_reset() -> None:
    return None


def _bitwise_equal(xp, a, b):
    """Elementwise: the same bits, near enough (NaNs equal each other, 0.0 is not -0.0)."""
    if xp.isdtype(a.dtype, "complex floating"):
        return _bitwise_equal(xp, xp.real(a), xp.real(b)) & _bitwise_equal(xp, xp.imag(a), xp.imag(b))
    if xp.isdtype(a.dtype, "real floating"):
        return ((a == b) & (xp.signbit(a) == xp.signbit(b))) | (xp.isnan(a) & xp.isnan(b))
    return a == b


def _content_guard(x, max_bytes):
    """Through the array's own namespace: a copy, compared elementwise on every check."""
    try:
        xp = array_api_compat.array_namespace(x)
        dtype, shape = x.dtype, tuple(x.shape)
        itemsize = getattr(dtype, "itemsize", None)
        if itemsize is None:
            itemsize = 1 if dtype == xp.bool else (xp.finfo(dtype) if xp.isdtype(dtype, ("real floating", "complex floating"))
                                                   else xp.iinfo(dtype)).bits // 8
        if math.prod(shape) * itemsize > max_bytes:
            return False
        snap = xp.asarray(x, copy=True)
    except Exception:  # noqa: BLE001 - a library that cannot copy: its arrays are guarded by identity
        return None

    def same(now) -> bool:
        return now.dtype == dtype and tuple(now.shape) == shape and bool(xp.all(_bitwise_equal(xp, now, snap)))
    return same


def _embeds_nothing(x) -> bool:
    return False


def _no_owner(x):
    return None


def _no_overlap(a, b) -> bool:
    return False


def _no_float_errors():
    return None


def _nothing_raises() -> frozenset:
    return frozenset()


def _from_numpy(a, like):
    xp = array_api_compat.array_namespace(like)
    try:
        return xp.asarray(a, device=_generic.device(like))
    except (TypeError, ValueError, AttributeError):
        return xp.asarray(a)


_DEFAULTS: dict[str, Callable] = {
    "scatter_add": _generic.scatter_add, "setitem": _generic.setitem, "getitem": _generic.getitem,
    "device": _generic.device, "to_float": _generic.to_float, "transform": _identity_transform,
    "wrap": _no_wrap, "check_inputs": check_one_device, "as_array": _same, "to_numpy": _to_numpy,
    "from_numpy": _from_numpy, "reset": _no_reset, "content_guard": _content_guard,
    "embeds_tracers": _embeds_nothing, "memory_owner": _no_owner, "overlaps": _no_overlap,
    "covers": _no_overlap, "float_errors": _no_float_errors, "float_errors_raising": _nothing_raises,
}


class Backend:
    """One library's implementation of the protocol above."""

    def __init__(self, name: str, module: types.ModuleType | None = None, namespace: Any = None,
                 transfer: str = ""):
        self.name = name
        self.module = module
        self.transfer = transfer or f"{name}.asarray(x)"
        self.is_lazy = bool(getattr(module, "is_lazy", False))
        self.one_device = bool(getattr(module, "one_device", False))
        self.unknown_size_advice = getattr(module, "unknown_size_advice", "")
        self.replaces_getitem = bool(getattr(module, "replaces_getitem", False))
        self.prepare_inputs = getattr(module, "prepare_inputs", None)
        self.operators_via_namespace = bool(getattr(module, "operators_via_namespace", False))
        self.result_libraries: tuple = ()
        for hook in HOOKS:
            fn = getattr(module, hook, None) if module is not None else None
            # bound as plain attributes: generated code calls ext.scatter_add(...) on every op
            setattr(self, hook, fn if callable(fn) else _DEFAULTS[hook])
        self.namespace = namespace if namespace is not None else getattr(module, "namespace")

    @property
    def xp(self):
        return self.namespace

    def __getattr__(self, name):
        # backend-specific extension ops (``ext.<name>`` on the tape)
        module = self.__dict__.get("module")
        if module is not None and not name.startswith("_"):
            fn = getattr(module, name, None)
            if fn is not None:
                return fn
        raise AttributeError(f"backend {self.__dict__.get('name')!r} has no operation {name!r}")

    def __repr__(self):
        return f"<yota backend {self.name}>"
