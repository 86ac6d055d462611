"""What the traced code wrote into its arguments, its closure and its globals.

The trace runs the user's function on a rebuilt copy of the call's structure: objects, lists
and dicts that hold arrays are rebuilt around the tracers, closures get new cells. A write into
one of them (``self.steps += 1``, ``state["n"] = n``, ``nonlocal count``) would land on the copy,
and a cached call does not run the Python code at all. So, when the traced function returns:

- a write of a Python value (a number, a string, an array the code did not trace) is made on
  the caller's own object, as the plain call makes it. The call's key holds those values, so
  the next call traces again if they changed: a counter counts every call, a lazily computed
  attribute is computed once;
- a write of a traced value (``self.running = 0.9 * self.running + 0.1 * m``) cannot be made:
  the tape returns only what the function returns. It is an error saying to return the value
  instead (``has_aux``) and assign it after the call. So is a traced value left in an object
  passed through whole, in a global or in a container that a global holds.

Arrays of the arguments are the caller's and are never written (``x[i] = v`` inside the traced
code is recorded as a new array).
"""
from __future__ import annotations

import operator
import types

from . import errors
from .flatten import Func, Mapping, Method, NamedTup, Obj, Partial, Seq, Static, children, slot_names
from .tracer import Tracer

__all__ = ["originals", "ArgumentWriteError", "after_trace"]


class ArgumentWriteError(errors.YotaError, TypeError):
    diverges = True

    def __init__(self, what: str, traced: bool = True):
        if not traced:
            super().__init__(
                f"the traced function writes {what} inside a transformation (vmap, checkpoint, custom_vjp), "
                f"which runs it on stand-ins for the arguments: the write would not reach your object. Return "
                f"the new value and assign it after the call.")
            return
        super().__init__(
            f"the traced function leaves a traced value in {what}. yota runs the function's Python code "
            f"on the first call only and keeps what the function returns, so that value would not reach "
            f"your object (and later calls would not set it). Return it instead, for example "
            f"yota.value_and_grad(f, has_aux=True) returning (loss, new_state), and assign it after the "
            f"call.")


def originals(node, x) -> list:
    """The caller's objects behind the rebuilt ones, in the order `unflatten` records them."""
    out: list = []
    _originals(node, x, out)
    return out


def _originals(node, x, out: list) -> None:
    t = type(node)
    if t is Seq:
        for child, xi in zip(node.items, x):
            _originals(child, xi, out)
        if node.kind is list:
            out.append(x)
    elif t is Mapping:
        for k, child in zip(node.keys, node.items):
            _originals(child, x[k], out)
        out.append(x)
    elif t is NamedTup:
        for child, xi in zip(node.items, x):
            _originals(child, xi, out)
    elif t is Obj:
        d = getattr(x, "__dict__", None)
        for name, child in zip(node.names, node.items):
            _originals(child, d[name] if d is not None and name in d else getattr(x, name), out)
        out.append(x)
    elif t is Func:
        if node.cells:
            for cell, child in zip(x.__closure__, node.cells):
                try:
                    _originals(child, cell.cell_contents, out)
                except ValueError:
                    pass
            out.append(x.__closure__)
    elif t is Method:
        _originals(node.self_node, x.__self__, out)
    elif t is Partial:
        _originals(node.func, x.func, out)
        _originals(node.args, x.args, out)
        _originals(node.keywords, x.keywords, out)


def _tracer_in(v, ctx, depth: int = 4, budget: list | None = None) -> bool:
    """Whether a value traced by ``ctx`` is in ``v`` (its containers and objects, a few levels
    down); an enclosing trace's values are that trace's business."""
    if type(v) is Tracer:
        return v.ctx is ctx
    if depth == 0:
        return False
    budget = budget if budget is not None else [2000]
    if budget[0] <= 0:
        return False
    budget[0] -= 1
    if type(v) in (list, tuple, set, frozenset):
        return any(_tracer_in(x, ctx, depth - 1, budget) for x in v)
    if isinstance(v, dict):
        return any(_tracer_in(x, ctx, depth - 1, budget) for x in v.values())
    if isinstance(v, _OPAQUE):
        return False  # modules, classes, functions: not where a write of the traced code lands
    d = getattr(v, "__dict__", None)
    if type(d) is dict:
        return any(_tracer_in(x, ctx, depth - 1, budget) for x in d.values())
    return False


_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def _fields(obj) -> dict:
    out = {}
    for s in slot_names(type(obj)):
        try:
            out[s] = object.__getattribute__(obj, s)
        except AttributeError:
            pass
    d = getattr(obj, "__dict__", None)
    if type(d) is dict:
        out.update(d)
    return out


_UNSET = object()


def after_trace(ctx, record: list, origin: list | None, inputs: list, passed: list, guards) -> bool:
    """Carry the trace's writes over to the caller's objects, or raise where they hold traced
    values. ``inputs``: (input tracer, its vid at the start, the caller's leaf). Returns whether
    anything was written (the variant must not be cached: a cached call would not write)."""
    back: dict = {}  # id(rebuilt or input tracer) -> the caller's object it stands for
    for t, vid, leaf in inputs:
        if t.vid == vid:  # not rebound by a write (x[i] = v makes it another array)
            back[id(t)] = leaf
    if origin is not None:
        for (_, rebuilt, _), orig in zip(record, origin):
            back[id(rebuilt)] = orig

    def value(v, what, depth=4):
        # the caller's object for a rebuilt one; a new list, tuple or dict of them (self.layers =
        # list(self.layers)) holds the caller's objects too; a traced value cannot be carried out
        hit = back.get(id(v), _UNSET)
        if hit is not _UNSET:
            return hit
        if depth and type(v) in (list, tuple) and _tracer_in(v, ctx):
            return type(v)(value(x, what, depth - 1) for x in v)
        if depth and type(v) is dict and _tracer_in(v, ctx):
            return {k: value(x, what, depth - 1) for k, x in v.items()}
        if _tracer_in(v, ctx):
            raise ArgumentWriteError(what)
        return v

    writes = []  # (apply, args, what)
    for i, (node, rebuilt, initial) in enumerate(record):
        orig = origin[i] if origin is not None else None
        if type(node) is Obj:
            now, before = _fields(rebuilt), dict(zip(node.names, initial))
            name = getattr(node.cls, "__qualname__", "an object")
            for k, v in now.items():
                if k not in before or before[k] is not v:
                    writes.append((object.__setattr__, (orig, k, value(v, f"{name}.{k}")), f"{name}.{k}"))
            for k in before:
                if k not in now:
                    writes.append((object.__delattr__, (orig, k), f"{name}.{k}"))
        elif type(node) is Mapping:
            before = dict(zip(node.keys, initial))
            for k, v in rebuilt.items():
                if k not in before or before[k] is not v:
                    what = f"[{k!r}] of a dict argument"
                    writes.append((operator.setitem, (orig, k, value(v, what)), what))
            for k in before:
                if k not in rebuilt:
                    writes.append((operator.delitem, (orig, k), f"[{k!r}] of a dict argument"))
        elif type(node) is Seq:  # a list
            if len(rebuilt) != len(initial) or any(a is not b for a, b in zip(rebuilt, initial)):
                items = [value(v, "an item of a list argument") for v in rebuilt]
                writes.append((list.__setitem__, (orig, slice(None), items), "a list argument"))
        elif type(node) is Func:
            for k, (cell, v0, name) in enumerate(zip(rebuilt, initial, node.code.co_freevars)):
                try:
                    v = cell.cell_contents
                except ValueError:
                    continue
                if v is not v0:
                    target = orig[k] if orig is not None else None
                    writes.append((setattr, (target, "cell_contents", value(v, f"the closure variable {name}")),
                                   f"the closure variable {name}"))
    for obj in passed:
        if _tracer_in(obj, ctx):
            raise ArgumentWriteError(f"a {type(obj).__name__} argument")
    for what, v in guards.current():
        if _tracer_in(v, ctx):
            raise ArgumentWriteError(what)
    if writes and origin is None:
        raise ArgumentWriteError(writes[0][2], traced=False)
    for apply, args, _ in writes:
        apply(*args)
    return bool(writes)


def passed_through(node) -> list:
    """The objects of the call passed to the trace as themselves (nothing traced inside them)."""
    out: list = []
    stack = [node]
    while stack:
        n = stack.pop()
        if type(n) is Static:
            obj = n.carry.obj if n.carry is not None else None
            if obj is not None and not isinstance(obj, _OPAQUE):
                out.append(obj)
        else:
            stack.extend(c for _, c in children(n))
    return out
