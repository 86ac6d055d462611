"""Errors that name what the user wrote, where, and what to do."""
from __future__ import annotations

import os
import sys
import sysconfig
import threading

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
# yota itself, its backends and front ends (beside yota/ in a checkout), and
# installed libraries: the user's frame is the innermost one outside these.
_SKIP = tuple({_HERE + os.sep, os.path.join(_ROOT, "backends") + os.sep, os.path.join(_ROOT, "frontends") + os.sep,
               *(os.path.abspath(p) + os.sep for k, p in sysconfig.get_paths().items()
                 if k in ("stdlib", "platstdlib", "purelib", "platlib") and p)})

#: generated file name -> {line: user location}: compiled tapes report the user's
#: line of the guard or op that a generated line came from.
GENERATED_LINES: dict[str, dict[int, str]] = {}


#: code typed at a prompt or run by exec (the REPL, IPython's terminal, exec(src)): the user's too.
#: Other "<...>" names are generated code (yota's own tapes, frozen modules, decorators).
_INTERACTIVE = ("<stdin>", "<string>", "<ipython-input-", "<python-input-", "<console>", "<pyshell#")


def _user_file(fn: str) -> bool:
    if fn.startswith("<"):
        return fn.startswith(_INTERACTIVE)
    return not fn.startswith(_SKIP)


def user_location() -> str:
    """file:line of the innermost frame that belongs to the user's code: a file where there is
    one (a dataclass's generated __init__ is "<string>" code too), else the prompt's line."""
    f = sys._getframe(1)
    typed = ""
    while f is not None:
        fn = f.f_code.co_filename
        if fn.startswith("<yota"):
            loc = GENERATED_LINES.get(fn, {}).get(f.f_lineno)
            if loc:
                return loc
        elif _user_file(fn):
            if not fn.startswith("<"):
                return f"{fn}:{f.f_lineno}"
            typed = typed or f"{fn}:{f.f_lineno}"
        f = f.f_back
    return typed or "<unknown>"


class YotaError(Exception):
    #: the plain call would not raise here (it converts, or calls the library, where a trace cannot):
    #: code that catches this error and goes on does something the plain call does not, so a trace
    #: that catches one fails with `CaughtError` (the caught errors are noted on the active trace)
    diverges = False

    def __init__(self, message: str, where: str | None = None):
        loc = where or user_location()
        super().__init__(f"{message}\n  at {loc}")
        if self.diverges:
            lists = watched()
            if lists:
                lists[-1].append(self)


_local = threading.local()


def watched() -> list:
    """Per thread, one list per trace running (innermost last) of the errors raised in it whose
    class `diverges`: tracing checks them when the traced code returns."""
    lists = getattr(_local, "lists", None)
    if lists is None:
        lists = _local.lists = []
    return lists


class NoRuleError(YotaError, NotImplementedError):
    diverges = True

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


_RULE_ERROR_TYPES: dict = {}


def rule_failed(name, exc: Exception) -> Exception:
    """A `RuleError` that is also an instance of ``exc``'s type, so that
    ``except ValueError`` still catches a rule's ValueError."""
    t = type(exc)
    cls = _RULE_ERROR_TYPES.get(t)
    if cls is None:
        try:
            cls = type(f"RuleError[{t.__name__}]", (RuleError, t),
                       {"__init__": RuleError.__init__, "__str__": Exception.__str__,
                        "__module__": __name__})
        except TypeError:  # an exception type with its own memory layout
            cls = RuleError
        _RULE_ERROR_TYPES[t] = cls
    try:
        return cls(name, exc)
    except Exception:  # noqa: BLE001 - fall back to the plain error
        return RuleError(name, exc)


class RegistrationError(YotaError, TypeError):
    pass


class ForeignTracerError(YotaError):
    diverges = True

    def __init__(self):
        super().__init__("a traced value from another yota.grad was used here (a nested grad's function "
                         "refers to the outer one's traced arrays other than through its arguments or "
                         "closure). Pass the value as an argument of the inner function instead.")


class ForeignLibraryError(YotaError, TypeError):
    diverges = True

    def __init__(self, library, func=""):
        what = f"{library}.{func}" if func else f"a {library} function"
        super().__init__(f"{what} was called on a traced array. yota only sees calls made through the "
                         f"array-API namespace: write `xp = array_namespace(x)` (from array_api_compat) and "
                         f"call xp.{func or '<function>'}(...) instead.")


class ForeignLibraryAttributeError(ForeignLibraryError, AttributeError):
    pass


class UntraceableError(YotaError, TypeError):
    diverges = True

    def __init__(self, what, why):
        super().__init__(f"{what} cannot be traced: {why}.")


class WrappedTracerError(UntraceableError):
    """A library's own function was called on a traced array and wrapped it in its own graph."""

    def __init__(self, lib: str):
        super().__init__(
            f"a {lib} array built by calling {lib}'s own functions on a traced array",
            f"{lib} kept the traced value inside its own graph, where yota cannot see what is done with it, "
            f"so its gradient would be lost. Call the functions of the arguments' namespace instead: "
            f"xp = array_namespace(x); xp.sum(x), not {lib}.array.sum(x) or a namespace imported directly")


class ConcretizationError(UntraceableError):
    """A differentiable traced value turned into a Python number (JAX: ConcretizationTypeError)."""


class BatchedControlFlowError(YotaError, TypeError):
    diverges = True

    pass


class MixedTraceError(YotaError, TypeError):
    diverges = True

    def __init__(self, lib, traced_on, where="the function's result"):
        super().__init__(
            f"{where} is a {lib} array, but the call was traced on {traced_on} (its arguments): a {lib} array "
            f"from outside the arguments (a module global, an attribute) met the traced values, and the "
            f"gradient through it would be lost or computed on the wrong library. Pass that array as an "
            f"argument (or capture it in a closure) so that yota traces the call on {lib}.")


class UnknownShapeError(YotaError, ValueError):
    diverges = True

    def __init__(self, name, advice=""):
        super().__init__(
            f"xp.{name} produced an array of unknown size (a lazy library that learns sizes only from the "
            f"data). yota records shapes on the tape, so it needs them known: compute the data-dependent part "
            f"outside the traced function and pass it in as an argument, or use xp.where(mask, x, 0) "
            f"instead of x[mask]." + (f" {advice}" if advice else ""))


class CaughtError(YotaError):
    """The traced code caught an error yota raised (one the plain call would not raise) and went on."""

    def __init__(self, caught: YotaError, where: str):
        first = str(caught).split("\n")[0]
        super().__init__(
            f"the traced code caught an error yota raised and went on without it (the line below). The plain call "
            f"does not raise there, so what the code did instead is not what the plain call computes, and "
            f"yota cannot tell whether the answer would be the same. Write that part so that no error is "
            f"raised (use the array namespace xp for the value, yota.stop_gradient(x) for a number to log), "
            f"or catch only the exceptions you expect from the plain call. The error it caught was:\n"
            f"  {type(caught).__name__}: {first}", where=where)


class GuardFailed(Exception):
    """Raised by compiled code when a recorded branch goes another way; carries the guard's index."""

    def __init__(self, index: int = -1):
        super().__init__(index)
        self.index = index


class SeedError(YotaError, ValueError):
    pass


class ArgumentError(YotaError, ValueError):
    pass


class OutputError(YotaError, TypeError):
    pass


class StaleTapeError(YotaError):
    pass
