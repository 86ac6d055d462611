"""Tape -> Python source -> function.

The generated function is ``f(xp, ext, *leaves)`` with one line per op, ``del``
of intermediates after their last use, and constants bound from a table (no
user data is ever written into the source). Literals are written so that
Python reads back exactly the recorded value and type: negative numbers in
parentheses (``(-1) ** v1``, not ``-1 ** v1``), ``-0.0`` kept, non-finite and
complex numbers bound from the table. Guards raise ``GuardFailed(i)``.
"""
from __future__ import annotations

import itertools
import linecache
import math
import threading
from collections import OrderedDict

from . import ops
from .errors import GENERATED_LINES, GuardFailed
from .tape import CALL, GUARD, Const, DeviceOf, DType, Tape, Var, iter_vars

__all__ = ["generate", "compile_tape", "forget_sources", "MAX_SOURCES"]

_counter = itertools.count()
#: generated sources kept for tracebacks (linecache); older ones are dropped
MAX_SOURCES = 256
_SOURCES: "OrderedDict[str, None]" = OrderedDict()
_LOCK = threading.Lock()


class _Writer:
    """Writes literals, adding the ones that have no exact text form to a table.

    ``traced``: the function will run on Tracers (a nested call), so ops that
    are the identity at run time (``stop_gradient``) must still be recorded."""

    def __init__(self, n_consts: int, traced: bool = False, operators_as_calls: bool = False):
        self.extra: list = []
        self.base = n_consts
        self.traced = traced
        self.operators_as_calls = operators_as_calls
        self.names: dict[int, int] = {}  # var -> the variable name it is written with (long tapes)

    def name(self, v: int) -> str:
        return f"v{self.names.get(v, v)}"

    def bind(self, value) -> str:
        self.extra.append(value)
        return f"k{self.base + len(self.extra) - 1}"

    def lit(self, x) -> str:
        t = type(x)
        if t is Var:
            return self.name(x.id)
        if t is Const:
            return f"k{x.index}"
        if t is DType:
            return f"xp.{x.name}"
        if t is DeviceOf:
            return f"ext.device({self.name(x.var.id)})"
        if t is tuple:
            inner = ", ".join(self.lit(y) for y in x)
            return f"({inner},)" if len(x) == 1 else f"({inner})"
        if t is list:
            return "[" + ", ".join(self.lit(y) for y in x) + "]"
        if t is slice:
            return f"slice({self.lit(x.start)}, {self.lit(x.stop)}, {self.lit(x.step)})"
        if x is Ellipsis:
            return "..."
        if x is None or t is bool or t is str:
            return repr(x)
        if t is int:
            return f"({x})" if x < 0 else repr(x)
        if t is float:
            if not math.isfinite(x):
                return self.bind(x)
            return f"({x!r})" if math.copysign(1.0, x) < 0 else repr(x)
        return self.bind(x)  # complex, scalar subclasses, anything else: the exact object

    def index(self, x) -> str:
        if isinstance(x, tuple) and x:
            return ", ".join(self.index(y) for y in x) + ("," if len(x) == 1 else "")
        if isinstance(x, slice):
            s = lambda v: "" if v is None else self.lit(v)  # noqa: E731
            return f"{s(x.start)}:{s(x.stop)}" + ("" if x.step is None else f":{s(x.step)}")
        return self.lit(x)

    def expression(self, op) -> str:
        args = [self.lit(a) for a in op.args] + [f"{k}={self.lit(v)}" for k, v in op.kwargs.items()]
        fn = op.fn
        if isinstance(fn, Const):
            return f"k{fn.index}({', '.join(args)})"
        entry = ops.lookup(fn)
        if entry is not None:
            if entry.infix is not None and len(op.args) == 2 and not op.kwargs and not self.operators_as_calls:
                return f"{args[0]} {entry.infix} {args[1]}"
            if entry.prefix is not None and len(op.args) == 1 and not op.kwargs and not self.operators_as_calls:
                return f"{entry.prefix}{args[0]}"
            if entry.alias and len(op.args) == 1 and not op.kwargs:
                return f"ext.record({fn!r}, {args[0]})" if self.traced else args[0]
        if fn == "__getitem__":
            return f"{args[0]}[{self.index(op.args[1])}]"
        if fn.startswith("ext."):
            return f"{fn}({', '.join(['xp'] + args)})"
        return f"xp.{fn}({', '.join(args)})"


#: above this many ops, a result takes the name of an operand that dies at its op instead of a
#: name of its own and a ``del`` (Python's ``compile`` costs about 8 µs a statement: half the
#: statements of a long tape are ``del``\s); shorter tapes keep one name per tape variable
REUSE_NAMES_ABOVE = 5000


def generate(tape: Tape, name: str = "f", writer: _Writer | None = None, lines_out: dict | None = None) -> str:
    w = writer or _Writer(len(tape.consts))
    last: dict[int, int] = {}
    for i, op in enumerate(tape.ops):
        for v in op.uses():
            last[v] = i
    keep = set(iter_vars(tape.outputs))
    reuse = len(tape.ops) > REUSE_NAMES_ABOVE
    params = ", ".join(f"v{v}" for v in tape.inputs)
    lines = [f"def {name}(xp, ext{', ' if params else ''}{params}):"]
    for v in tape.inputs:
        if v not in last and v not in keep:
            lines.append(f"    del v{v}")
    n_guard = 0
    for i, op in enumerate(tape.ops):
        if op.kind == GUARD:
            var, expected = op.args
            if lines_out is not None and op.loc:
                lines_out[len(lines) + 1] = op.loc
            if op.fn == "shape":
                lines.append(f"    if tuple({w.lit(var)}.shape) != {w.lit(expected)}: raise GuardFailed({n_guard})")
            elif isinstance(expected, bool):
                lines.append(f"    if bool({w.lit(var)}) is not {expected}: raise GuardFailed({n_guard})")
            else:
                conv = {"int": "int", "float": "float", "complex": "complex"}[op.fn]
                lines.append(f"    if {conv}({w.lit(var)}) != {w.lit(expected)}: raise GuardFailed({n_guard})")
            n_guard += 1
        dead = [v for v in op.uses() if last.get(v) == i and v not in keep]
        if op.kind == CALL:
            outs = op.outs
            if op.out_type is not None:
                lhs = ", ".join(f"v{o}" if (o in last or o in keep) else "_" for o in outs)
                lhs += "," if len(outs) == 1 else ""
                rhs = w.expression(op)
            else:
                rhs = w.expression(op)  # (read with the operands' names, before the result takes one)
                if reuse and dead:
                    donor = dead.pop(0)  # rebinding its name frees its value as `del` would
                    while donor in dead:
                        dead.remove(donor)
                    w.names[op.out] = w.names.get(donor, donor)
                lhs = w.name(op.out)
            lines.append(f"    {lhs} = {rhs}")
        if op.out_type is None:
            dead += [o for o in op.outs if o not in last and o not in keep]
        if dead:
            lines.append("    del " + ", ".join(w.name(v) for v in dict.fromkeys(dead)))
    outs = ", ".join(w.lit(o) for o in tape.outputs)
    lines.append(f"    return ({outs}{',' if len(tape.outputs) == 1 else ''})")
    return "\n".join(lines) + "\n"


def compile_tape(tape: Tape, name: str = "f", traced: bool = False, operators_as_calls: bool = False):
    """The tape's generated function, with the constant table bound; ``traced``
    when it will run on Tracers (a nested call); ``operators_as_calls`` writes
    ``xp.matmul(a, b)`` for ``a @ b`` (for a backend whose namespace fills what
    its operators lack)."""
    w = _Writer(len(tape.consts), traced, operators_as_calls)
    guard_lines: dict[int, str] = {}
    src = generate(tape, name, w, guard_lines)
    consts = list(tape.consts) + w.extra
    const_names = [f"k{i}" for i in range(len(consts))]
    header = f"def __make({', '.join(const_names + ['GuardFailed'])}):\n"
    body = "".join("    " + line + "\n" for line in src.splitlines())
    full = header + body + f"    return {name}\n"
    filename = f"<yota-{next(_counter)} {tape.title}>"
    _remember(filename, full, {k + 1: v for k, v in guard_lines.items()})
    namespace: dict = {}
    exec(compile(full, filename, "exec"), namespace)
    fn = namespace["__make"](*consts, GuardFailed)
    fn.__yota_source__ = src
    return fn


def _remember(filename, text, guard_lines):
    with _LOCK:
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        if guard_lines:
            GENERATED_LINES[filename] = guard_lines
        _SOURCES[filename] = None
        while len(_SOURCES) > MAX_SOURCES:
            old, _ = _SOURCES.popitem(last=False)
            linecache.cache.pop(old, None)
            GENERATED_LINES.pop(old, None)


def forget_sources() -> None:
    """Drop every generated source from linecache (``yota.reset()``)."""
    with _LOCK:
        for f in _SOURCES:
            linecache.cache.pop(f, None)
            GENERATED_LINES.pop(f, None)
        _SOURCES.clear()
