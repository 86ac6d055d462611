"""Tape -> Python source -> function.

The generated function is ``f(xp, ext, *leaves)`` with one line per op, ``del``
of intermediates after their last use, and constants bound from a table (no
user data is ever written into the source). Guards raise `GuardFailed`.
"""
from __future__ import annotations

import itertools
import linecache

from .errors import GuardFailed
from .tape import GUARD, INPUT, Const, DeviceOf, DType, Tape, Var, iter_vars
from .tracer import INFIX, PREFIX

__all__ = ["generate", "compile_tape"]

_counter = itertools.count()


def _lit(x) -> str:
    if isinstance(x, Var):
        return f"v{x.id}"
    if isinstance(x, Const):
        return f"k{x.index}"
    if isinstance(x, DType):
        return f"xp.{x.name}"
    if isinstance(x, DeviceOf):
        return f"ext.device(v{x.var.id})"
    if isinstance(x, tuple):
        inner = ", ".join(_lit(y) for y in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if isinstance(x, list):
        return "[" + ", ".join(_lit(y) for y in x) + "]"
    if isinstance(x, slice):
        return f"slice({_lit(x.start)}, {_lit(x.stop)}, {_lit(x.step)})"
    if x is Ellipsis:
        return "..."
    if isinstance(x, (bool, int, float, complex, str)) or x is None:
        return repr(x)
    raise TypeError(f"cannot write {type(x).__name__} into generated code")


def _index(x) -> str:
    if isinstance(x, tuple) and x:
        return ", ".join(_index(y) for y in x) + ("," if len(x) == 1 else "")
    if isinstance(x, slice):
        s = lambda v: "" if v is None else _lit(v)
        return f"{s(x.start)}:{s(x.stop)}" + ("" if x.step is None else f":{s(x.step)}")
    return _lit(x)


def expression(op) -> str:
    args = [_lit(a) for a in op.args] + [f"{k}={_lit(v)}" for k, v in op.kwargs.items()]
    fn = op.fn
    if isinstance(fn, Const):
        return f"k{fn.index}({', '.join(args)})"
    sym = INFIX.get(fn)
    if sym is not None and len(op.args) == 2 and not op.kwargs:
        return f"{args[0]} {sym} {args[1]}"
    sym = PREFIX.get(fn)
    if sym is not None and len(op.args) == 1 and not op.kwargs:
        return f"{sym}{args[0]}"
    if fn == "__getitem__":
        return f"{args[0]}[{_index(op.args[1])}]"
    if fn.startswith("ext."):
        return f"{fn}({', '.join(['xp'] + args)})"
    return f"xp.{fn}({', '.join(args)})"


def generate(tape: Tape, name: str = "f") -> str:
    last: dict[int, int] = {}
    for i, op in enumerate(tape.ops):
        for v in op.uses():
            last[v] = i
    keep = set(iter_vars(tuple(tape.outputs)))
    params = ", ".join(f"v{v}" for v in tape.inputs)
    lines = [f"def {name}(xp, ext{', ' if params else ''}{params}):"]
    for v in tape.inputs:
        if v not in last and v not in keep:
            lines.append(f"    del v{v}")
    for i, op in enumerate(tape.ops):
        if op.kind == INPUT:
            continue
        if op.kind == GUARD:
            var, expected = op.args
            conv = {"bool": "bool", "int": "int", "float": "float", "complex": "complex", "shape": None}[op.fn]
            if conv is None:
                lines.append(f"    if tuple({_lit(var)}.shape) != {_lit(expected)}: raise GuardFailed")
            elif isinstance(expected, bool):
                lines.append(f"    if {conv}({_lit(var)}) is not {expected}: raise GuardFailed")
            else:
                lines.append(f"    if {conv}({_lit(var)}) != {_lit(expected)}: raise GuardFailed")
        else:
            outs = op.outs
            if isinstance(op.out, tuple):
                lhs = ", ".join(f"v{o}" if (o in last or o in keep) else "_" for o in outs)
                lhs += "," if len(outs) == 1 else ""
            else:
                lhs = f"v{op.out}"
            lines.append(f"    {lhs} = {expression(op)}")
        dead = [v for v in op.uses() if last.get(v) == i and v not in keep]
        dead += [o for o in op.outs if o not in last and o not in keep and not isinstance(op.out, tuple)]
        if dead:
            lines.append("    del " + ", ".join(f"v{v}" for v in dict.fromkeys(dead)))
    outs = ", ".join(_lit(o) for o in tape.outputs)
    lines.append(f"    return ({outs}{',' if len(tape.outputs) == 1 else ''})")
    return "\n".join(lines) + "\n"


def compile_tape(tape: Tape, name: str = "f"):
    """The tape's generated function, with the constant table bound."""
    src = generate(tape, name)
    const_names = [f"k{i}" for i in range(len(tape.consts))]
    header = f"def __make({', '.join(const_names + ['GuardFailed'])}):\n"
    body = "".join("    " + line + "\n" for line in src.splitlines())
    full = header + body + f"    return {name}\n"
    filename = f"<yota-{next(_counter)} {tape.title}>"
    linecache.cache[filename] = (len(full), None, full.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(full, filename, "exec"), namespace)
    fn = namespace["__make"](*tape.consts, GuardFailed)
    fn.__yota_source__ = src
    return fn
