"""The rule table: array-API name (or primitive) -> reverse rule."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

__all__ = ["RULES", "rrule", "nondiff", "is_nondiff", "primitive", "Primitive", "on_change"]

RULES: dict[Any, "Rule"] = {}
NONDIFF: set = set()
_listeners: list[Callable[[Any], None]] = []


class Rule:
    """A registered rule; ``bind`` turns keyword arguments that the rule takes
    positionally into positional ones, so the pullback's tuple lines up."""

    __slots__ = ("fn", "_sig")

    def __init__(self, fn):
        self.fn = fn
        self._sig = None

    def bind(self, args: tuple, kwargs: dict):
        if not kwargs:
            return args, kwargs
        if self._sig is None:
            self._sig = inspect.signature(self.fn)
        try:
            ba = self._sig.bind(None, *args, **kwargs)
        except TypeError:
            return args, kwargs
        # Without the defaults, .args stops at the first parameter not given
        # (clip(x, max=b) would lose b's cotangent).
        ba.apply_defaults()
        return ba.args[1:], ba.kwargs


def on_change(listener: Callable[[Any], None]) -> None:
    _listeners.append(listener)


def rrule(target) -> Callable:
    """Register ``rule(xp, *args, **kwargs) -> (y, pullback)`` for ``target``.

    ``target`` is an array-API function name (``"exp"``, ``"linalg.solve"``,
    ``"__getitem__"``) or a `@yota.primitive` function.
    """
    def register(fn):
        RULES[target] = Rule(fn)
        NONDIFF.discard(target)
        for listener in _listeners:
            listener(target)
        return fn

    return register


def nondiff(*names: str) -> None:
    """Functions whose outputs carry no derivative (creation, comparison, integer results)."""
    NONDIFF.update(names)


def is_nondiff(name) -> bool:
    return name in NONDIFF


class Primitive:
    """A Python function recorded as one opaque op; its rule says how to differentiate it."""

    def __init__(self, fn: Callable):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        ctx = _traced_context(args, kwargs)
        if ctx is None:
            return self.fn(*args, **kwargs)
        return ctx.call(self, args, kwargs)

    def __repr__(self):
        return f"<yota.primitive {self.__name__}>"

    def __reduce__(self):
        return (Primitive, (self.fn,))


def _traced_context(args, kwargs):
    from ..tracer import Tracer
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, Tracer):
            return a.ctx
        if isinstance(a, (tuple, list)):
            for b in a:
                if isinstance(b, Tracer):
                    return b.ctx
    return None


def primitive(fn: Callable) -> Primitive:
    """Make ``fn`` one opaque op on the tape (it then needs a `rrule`)."""
    return Primitive(fn)
