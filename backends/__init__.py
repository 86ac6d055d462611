"""What the array API lacks, per array library, and the choice of backend.

A backend is a pair ``(xp, ext)``: ``xp`` the array-API namespace that compiled
tapes call (array-api-compat's, or one with fills for missing functions), and
``ext`` a module with the few operations the standard does not have
(``scatter_add``, ``setitem``, ``device``, ``to_float``), each taking ``xp`` first
where it needs a namespace.
"""
from __future__ import annotations

from typing import Any, Sequence

import array_api_compat

__all__ = ["select", "check_devices", "MixedBackendError", "library_name", "default"]


class MixedBackendError(TypeError):
    pass


_BY_TYPES: dict = {}


def library_name(x) -> str:
    mod = type(x).__module__.split(".")[0]
    return {"array_api_strict": "array_api_strict"}.get(mod, mod)


def _backend_of(x) -> tuple[Any, Any, str]:
    name = library_name(x)
    if name == "dask":
        from . import dask as ext
        return ext.namespace, ext, "dask"
    if name == "cupy":
        from . import cupy as ext
        return array_api_compat.array_namespace(x), ext, "cupy"
    if name == "numpy":
        from . import numpy as ext
        return ext.namespace, ext, "numpy"
    from . import _generic as ext
    return array_api_compat.array_namespace(x), ext, name


def select(leaves: Sequence[Any]) -> tuple[Any, Any]:
    """The backend for these concrete leaves (Python scalars are ignored).

    NumPy (or CuPy) arrays join a Dask backend: small parameters in memory,
    data chunked.
    Any other mixture is an error that names both libraries.
    """
    types = tuple({type(x) for x in leaves if not isinstance(x, (int, float, complex, bool))})
    hit = _BY_TYPES.get(types)
    if hit is not None:
        return hit
    found: dict[str, tuple] = {}
    for x in leaves:
        if isinstance(x, (int, float, complex, bool)):
            continue
        xp, ext, name = _backend_of(x)
        found.setdefault(name, (xp, ext))
    if "dask" in found and set(found) <= {"dask", "numpy", "cupy"}:
        # in-memory parameters join chunked data (Dask of CuPy chunks with CuPy ones)
        result = found["dask"]
    elif len(found) > 1:
        names = sorted(found)
        raise MixedBackendError(
            f"arrays from different libraries were passed together: {' and '.join(names)}. "
            f"Move them to one library first (for example with "
            f"{names[1]}.asarray(...) or the library's own transfer function); only NumPy with Dask may be mixed.")
    elif found:
        result = next(iter(found.values()))
    else:
        result = default()
    _BY_TYPES[types] = result
    return result


def check_devices(leaves: Sequence[Any]) -> None:
    """CuPy arrays on different GPUs cannot meet in one tape: name both devices."""
    devices: dict = {}
    for x in leaves:
        if library_name(x) == "cupy":
            d = x.device
            devices.setdefault(getattr(d, "id", d), d)
    if len(devices) > 1:
        a, b = list(devices.values())[:2]
        raise MixedBackendError(
            f"CuPy arrays on two devices were passed together: {a} and {b}. Move them to one device "
            f"first (for example `with cupy.cuda.Device({getattr(a, 'id', 0)}): y = cupy.asarray(x)`).")


def default() -> tuple[Any, Any]:
    """The backend for calls whose only inputs are Python scalars."""
    from . import numpy as ext
    return ext.namespace, ext
