"""The array-API namespace compiled code calls as ``xp`` for Dask arrays:
``array_api_compat.dask.array`` (``cda``) with the fills of
:mod:`.toplevel`, :mod:`.linalg` and :mod:`.fft` in front."""
from __future__ import annotations

import array_api_compat.dask.array as cda

from . import fft as _fft
from . import linalg as _linalg
from . import toplevel
from .degenerate import guarded


class FillNamespace:
    """``ns.X`` is the fill registered as ``X`` or ``getattr(fallback, X)``;
    functions are wrapped by :func:`.degenerate.guarded` (once, then cached)."""

    def __init__(self, name, fallback, fills, subs=None, prefix=""):
        self.__name = name
        self.__fallback = fallback
        self.__fills = fills
        self.__subs = subs or {}
        self.__prefix = prefix
        self.__cache = {}

    def __getattr__(self, name):
        if name.startswith("_FillNamespace__"):
            raise AttributeError(name)
        hit = self.__cache.get(name)
        if hit is not None:
            return hit
        subs = self.__subs
        if name in subs:
            return subs[name]
        fills = self.__fills
        obj = fills[name] if name in fills else getattr(self.__fallback, name)
        if callable(obj) and not isinstance(obj, type) and not name.startswith("__"):
            obj = guarded(obj, self.__prefix + name)
        self.__cache[name] = obj
        return obj

    def __dir__(self):
        return sorted(set(dir(self.__fallback)) | set(self.__fills) | set(self.__subs))

    def __repr__(self):
        return f"<yota Dask namespace {self.__name} (array_api_compat + {len(self.__fills)} fills)>"


linalg = FillNamespace("linalg", cda.linalg, _linalg.FILLS, prefix="linalg.")
fft = FillNamespace("fft", cda.fft, _fft.FILLS, prefix="fft.")

#: The array-API namespace compiled code receives as ``xp`` for Dask arrays.
namespace = FillNamespace("array_api_compat.dask.array", cda, toplevel.FILLS,
                          subs={"linalg": linalg, "fft": fft})
