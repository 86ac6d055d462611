"""``ext``: what rules call for the few operations the array API standard lacks.

``ext.scatter_add(xp, x, key, values)`` records a call when ``xp`` is a tracing
namespace and runs the backend's implementation (``backends/``) otherwise.
"""
from __future__ import annotations


class _Ext:
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def call(xp, *args, **kwargs):
            from .tracer import TracingNamespace
            if isinstance(xp, TracingNamespace):
                return xp._ctx.call("ext." + name, args, kwargs)
            from . import backends
            _, impl = backends.select([a for a in args if hasattr(a, "shape")])
            return getattr(impl, name)(xp, *args, **kwargs)

        call.__name__ = name
        self.__dict__[name] = call
        return call


ext = _Ext()
