"""``ext``: what rules call for the few operations the array API standard lacks.

``ext.scatter_add(xp, x, key, values)`` records a call when ``xp`` is a tracing
namespace and runs the backend's implementation (``yota.backends``) otherwise.
"""
from __future__ import annotations

from . import backends


class _Ext:
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        full = "ext." + name

        def call(xp, *args, **kwargs):
            record = getattr(xp, "__yota_call__", None)
            if record is not None:
                return record(full, args, kwargs)
            backend = backends.select([a for a in args if hasattr(a, "shape")])
            return getattr(backend, name)(xp, *args, **kwargs)

        call.__name__ = name
        self.__dict__[name] = call
        return call


ext = _Ext()
