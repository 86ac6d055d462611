"""Backends: one module per array library, registered by the name of the
library's top-level package, chosen from the arrays a call receives.

``register(library, load, ...)`` adds a library: ``load()`` returns its module
(see `base.py` for the protocol; an empty module works for any library
array-api-compat knows). ``select(leaves)`` gives the `Backend` for the
concrete leaves of one call: their library's, except that in-memory arrays
(NumPy, CuPy) join a Dask backend (small parameters with chunked data).
Any other mixture is a `MixedBackendError` naming both libraries.
"""
from __future__ import annotations

import importlib
import threading
from typing import Any, Callable, Sequence

import array_api_compat

import numpy as np

from . import _generic
from .base import HOOKS, Backend, MixedBackendError

__all__ = ["Backend", "HOOKS", "register", "select", "backend_of", "default", "MixedBackendError",
           "library_name", "reset", "registered", "TRACER_TRAPS", "state_key"]


class _Entry:
    __slots__ = ("library", "name", "load", "joins", "transfer", "namespace", "backend")

    def __init__(self, library, name, load, joins, transfer, namespace):
        self.library, self.name, self.load, self.joins = library, name, load, frozenset(joins)
        self.transfer, self.namespace, self.backend = transfer, namespace, None


_REGISTRY: dict[str, _Entry] = {}
_BY_TYPES: dict = {}
_LOCK = threading.Lock()


def register(library: str, load: Callable[[], Any], *, name: str | None = None, joins: Sequence[str] = (),
             transfer: str = "", namespace: Callable[[Any], Any] | None = None) -> None:
    """Register the backend of arrays whose type lives in package ``library``.

    ``load()`` imports and returns the backend module; ``name`` is what errors
    call the library (``jax`` for arrays of ``jaxlib``); ``joins`` lists the
    libraries whose arrays may be passed together with this one's and then run
    on this backend; ``transfer`` shows how to make an array of this library;
    ``namespace(x)`` gives the namespace from an example array when the module
    has none of its own (array-api-compat's, by default).
    """
    _REGISTRY[library] = _Entry(library, name or library, load, joins, transfer, namespace)
    _BY_TYPES.clear()


def registered() -> list[str]:
    return sorted({e.name for e in _REGISTRY.values()})


def library_name(x) -> str:
    mod = type(x).__module__.split(".")[0]
    entry = _REGISTRY.get(mod)
    return entry.name if entry is not None else mod


def _generic_module():
    return _generic


def backend_of(x) -> Backend:
    if _is_scalar(x):
        return default()
    mod = type(x).__module__.split(".")[0]
    entry = _REGISTRY.get(mod)
    if entry is None:
        with _LOCK:
            entry = _REGISTRY.get(mod)
            if entry is None:
                entry = _REGISTRY[mod] = _Entry(mod, mod, _generic_module, (), "", None)
    if entry.backend is None:
        module = entry.load()
        ns = getattr(module, "namespace", None)
        if ns is None:
            ns = entry.namespace(x) if entry.namespace is not None else array_api_compat.array_namespace(x)
        entry.backend = Backend(entry.name, module, ns, entry.transfer)
        # arrays of the joining libraries may come out of this backend's functions too
        entry.backend.result_libraries = tuple(_REGISTRY[j].name if j in _REGISTRY else j for j in entry.joins)
    return entry.backend


def state_key(obj):
    """The state snapshot of a registered library's random generator (see `base.py`), or None."""
    entry = _REGISTRY.get(type(obj).__module__.split(".")[0])
    if entry is None:
        return None
    hook = getattr(entry.load(), "state_key", None)
    return hook(obj) if hook is not None else None


def _is_scalar(x) -> bool:
    return isinstance(x, (int, float, complex, bool))


def select(leaves: Sequence[Any]) -> Backend:
    """The backend for these concrete leaves (Python scalars are ignored)."""
    types_ = tuple({type(x) for x in leaves if not _is_scalar(x)})
    hit = _BY_TYPES.get(types_)
    if hit is not None:
        return hit
    found: dict[str, Backend] = {}
    for x in leaves:
        if _is_scalar(x):
            continue
        b = backend_of(x)
        found.setdefault(b.name, b)
    if not found:
        result = default()
    elif len(found) == 1:
        result = next(iter(found.values()))
    else:
        hosts = [e for e in _REGISTRY.values() if e.name in found and set(found) - {e.name} <= e.joins]
        if not hosts:
            names = sorted(found)
            a, b = found[names[0]], found[names[1]]
            raise MixedBackendError(
                f"arrays from different libraries were passed together: {names[0]} and {names[1]}. Move them "
                f"to one library first, for example with {b.transfer} (or {a.transfer}); only in-memory arrays "
                f"may join a Dask computation.")
        result = found[hosts[0].name]
    _BY_TYPES[types_] = result
    return result


def default() -> Backend:
    """The backend for calls whose only inputs are Python scalars."""
    return backend_of(np.empty(()))


def reset() -> None:
    """Empty every backend's own caches."""
    _BY_TYPES.clear()
    for e in _REGISTRY.values():
        if e.backend is not None:
            e.backend.reset()


_SETTINGS_LISTENERS: list = []


def on_settings_change(listener) -> None:
    """``listener()`` runs when a backend switch changes what tapes compile to
    (yota's cache registers its reset here)."""
    _SETTINGS_LISTENERS.append(listener)


def settings_changed() -> None:
    for listener in _SETTINGS_LISTENERS:
        listener()


def _load(name):
    return lambda: importlib.import_module(f"{__name__}.{name}")


#: attribute -> library: protocols other libraries probe on foreign objects; a Tracer
#: answers them with an error that says to call the function through xp instead.
TRACER_TRAPS = {"__cuda_array_interface__": "cupy"}

register("numpy", _load("numpy"), transfer="numpy.asarray(x)")
register("cupy", _load("cupy"), transfer="cupy.asarray(x)")
register("dask", _load("dask"), joins=("numpy", "cupy"), transfer="dask.array.from_array(x)")
register("array_api_strict", _load("array_api_strict"), transfer="array_api_strict.asarray(x)")
register("torch", _load("torch"), transfer="torch.from_dlpack(x)")  # torch.asarray misreads JAX arrays
register("jaxlib", _load("jax"), name="jax", transfer="jax.numpy.asarray(x)")
register("jax", _load("jax"), name="jax", transfer="jax.numpy.asarray(x)")
register("sparse", _load("sparse"), transfer="sparse.asarray(x)")
register("ndonnx", _load("ndonnx"), transfer="ndonnx.asarray(x)")
