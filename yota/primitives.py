"""``@yota.primitive``: a Python function recorded as one opaque op, and
``yota.stop_gradient``."""
from __future__ import annotations

import functools
from typing import Any, Callable

from . import ops
from .tracer import Tracer

__all__ = ["primitive", "Primitive", "stop_gradient"]


class Primitive:
    """A Python function recorded as one opaque op; its rule says how to differentiate it.

    ``pure`` says that two calls with equal arguments give equal results, so the
    tape may compute one of them only; it is False unless declared (a function
    drawing random numbers must not be merged).
    """

    # flattened as itself, keyed by identity: the op table knows this object, and its function is
    # opaque to tracing (a copy rebuilt from its fields, as for other objects, has no rule)
    __yota_opaque__ = True

    def __init__(self, fn: Callable, pure: bool = False, sparse_cotangents: bool = False,
                 sizes_follow_arguments: bool = False):
        self.fn = fn
        self.__yota_pure__ = pure
        functools.update_wrapper(self, fn)
        # (True for yota's own: a checkpoint's or custom_vjp's compiled function, whose sizes its
        # trace fixed; a user's function may return another size for the same shapes: guarded)
        ops.define_primitive(self, pure, sparse_cotangents, guard_sizes=not sizes_follow_arguments)

    def __call__(self, *args, **kwargs):
        ctx = _traced_context(args, kwargs)
        if ctx is None:
            return self.fn(*args, **kwargs)
        return ctx.call(self, args, kwargs)

    def __repr__(self):
        return f"<yota.primitive {self.__name__}>"

    def __reduce__(self):
        return (Primitive, (self.fn, self.__yota_pure__))


def _traced_context(args, kwargs):
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, Tracer):
            return a.ctx
        if isinstance(a, (tuple, list)):
            for b in a:
                if isinstance(b, Tracer):
                    return b.ctx
    return None


def primitive(fn: Callable | None = None, *, pure: bool = False):
    """Make ``fn`` one opaque op on the tape (it then needs a `yota.rrule`).

    ``@yota.primitive(pure=True)`` declares that equal calls give equal results,
    so duplicates may be merged; by default every call is kept.
    """
    if fn is None:
        return lambda f: Primitive(f, pure)
    return Primitive(fn, pure)


def stop_gradient(x: Any) -> Any:
    """``x``, with no gradient flowing through it (arrays, Python floats, structures)."""
    if isinstance(x, Tracer):
        return x.ctx.record("stop_gradient", (x,), {})
    if isinstance(x, (tuple, list)):
        items = [stop_gradient(v) for v in x]
        return type(x)(items) if type(x) in (tuple, list) else type(x)(*items)
    if isinstance(x, dict):
        return {k: stop_gradient(v) for k, v in x.items()}
    fields = getattr(x, "__dict__", None)
    if fields is not None and any(isinstance(v, (Tracer, tuple, list, dict)) for v in fields.values()):
        obj = object.__new__(type(x))
        for k, v in fields.items():
            object.__setattr__(obj, k, stop_gradient(v))
        return obj
    return x
