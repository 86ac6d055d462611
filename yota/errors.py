"""Errors that name what the user wrote, where, and what to do."""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_SKIP = (_HERE, os.sep + "array_api_compat" + os.sep, os.sep + "backends" + os.sep,
         os.sep + "numpy" + os.sep, os.sep + "dask" + os.sep, os.sep + "array_api_strict" + os.sep)


def user_location() -> str:
    """file:line of the innermost frame that belongs to the user's code."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not any(s in fn for s in _SKIP) and not fn.startswith("<yota"):
            return f"{fn}:{f.f_lineno}"
        f = f.f_back
    return "<unknown>"


class YotaError(Exception):
    def __init__(self, message: str):
        loc = user_location()
        super().__init__(f"{message}\n  at {loc}")


class NoRuleError(YotaError, NotImplementedError):
    def __init__(self, name):
        label = getattr(name, "__name__", name)
        if callable(name):
            msg = (f"@yota.primitive {label!r} was called on a differentiable value, but it has no reverse rule. "
                   f"Register one:\n\n    @yota.rrule({label})\n    def _(xp, *args):\n        y = {label}(*args)\n"
                   f"        return y, lambda dy: (...one cotangent per argument...)\n")
        else:
            msg = (f"no differentiation rule for xp.{label}. Register one:\n\n    @yota.rrule({label!r})\n"
                   f"    def _(xp, x, *args, **kwargs):\n        y = xp.{label}(x, *args, **kwargs)\n"
                   f"        return y, lambda dy: (...one cotangent per positional argument...)\n")
        super().__init__(msg)


class UnknownFunctionError(YotaError, AttributeError):
    def __init__(self, name, library):
        super().__init__(f"xp.{name} is not a function of the array namespace in use ({library}). Check the "
                         f"name against the array API standard, or make your own function a @yota.primitive "
                         f"with a @yota.rrule.")


class RuleError(YotaError):
    def __init__(self, name, exc):
        label = getattr(name, "__name__", name)
        super().__init__(f"the rule for {label!r} failed: {type(exc).__name__}: {exc}")


class ForeignTracerError(YotaError):
    def __init__(self):
        super().__init__("a traced value from another yota.grad was used here (a nested grad's function "
                         "refers to the outer one's traced arrays other than through its arguments or "
                         "closure). Pass the value as an argument of the inner function instead.")


class ForeignLibraryError(YotaError, TypeError):
    def __init__(self, library, func=""):
        what = f"{library}.{func}" if func else f"a {library} function"
        super().__init__(f"{what} was called on a traced array. yota only sees calls made through the "
                         f"array-API namespace: write `xp = array_namespace(x)` (from array_api_compat) and "
                         f"call xp.{func or '<function>'}(...) instead.")


class ForeignLibraryAttributeError(ForeignLibraryError, AttributeError):
    pass


class UntraceableError(YotaError, TypeError):
    def __init__(self, what, why):
        super().__init__(f"{what} cannot be traced: {why}.")


class UnknownShapeError(YotaError, ValueError):
    def __init__(self, name):
        super().__init__(
            f"xp.{name} produced an array of unknown size (a Dask array whose chunk sizes depend on the data). "
            f"yota records shapes on the tape, so it needs them known: compute the data-dependent part "
            f"outside the traced function and call .compute_chunk_sizes() on it (for example "
            f"idx = da.nonzero(mask)[0].compute_chunk_sizes()), then pass it in as an argument; or use "
            f"xp.where(mask, x, 0) instead of x[mask].")


class GuardFailed(Exception):
    """Raised by compiled code when a recorded branch goes another way."""


class SeedError(YotaError, ValueError):
    pass
