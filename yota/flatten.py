"""Flattening of argument structures into leaves, and back.

`flatten` turns ``(f, args)`` into a list of leaves (arrays and Python floats)
and a hashable *structure* describing everything else: containers, the static
values (ints, strings, None, ...), each leaf's shape/dtype/type, closures'
code, `functools.partial`'s function and arguments. The structure is what the
cache looks up, so flatten is on every call's hot path. `unflatten` rebuilds a
structure from new leaves; `build_gradients` makes the gradient structure
(`Tangent`s for objects) from the gradients of the leaves.

Structure nodes are named tuples; each ends with a ``tag`` field so that two
kinds of node never compare equal.
"""
from __future__ import annotations

import copy
import functools
import types
from typing import Any, Callable, NamedTuple

from .tangents import NOTANGENT, ZERO, Tangent, ZeroTangent, is_array

__all__ = ["flatten", "flatten_call", "unflatten", "leaf_paths", "compile_builder", "Leaf", "FloatLeaf", "Static", "Seq",
           "Mapping", "NamedTup", "Obj", "Func", "Method", "Partial", "FLOAT", "walk_codes", "leaf_gradients"]


class Leaf(NamedTuple):
    """An array: ``spec`` is its key part (type, shape, dtype)."""
    spec: tuple
    tag: str = "leaf"


class FloatLeaf(NamedTuple):
    tag: str = "float"


class Static(NamedTuple):
    """A value that is part of the key; ``carry`` holds an unhashable object by
    identity. ``exact`` keeps apart values that compare equal but are not the
    same (``1`` and ``True``, ``0.0`` and ``-0.0``)."""
    value: Any
    carry: Any = None
    exact: Any = None
    tag: str = "static"


class Seq(NamedTuple):
    kind: type  # tuple or list
    items: tuple
    tag: str = "seq"


class Mapping(NamedTuple):
    """A dict, or a dict subclass (``cls``; rebuilt from a copy of ``proto``)."""
    keys: tuple
    items: tuple
    cls: type = dict
    proto: Any = None
    tag: str = "dict"


class NamedTup(NamedTuple):
    cls: type
    items: tuple
    tag: str = "namedtuple"


class Obj(NamedTuple):
    """An object with a ``__dict__`` (``slots=False``) or ``__slots__``."""
    cls: type
    names: tuple
    items: tuple
    slots: bool
    tag: str = "object"


class Func(NamedTuple):
    """A Python function: keyed by its code, globals and defaults (by identity),
    and its closure cells. The function object itself is not part of the key,
    so a new closure of the same code hits the cache."""
    code: Any
    env: tuple
    cells: tuple
    carry: Any
    tag: str = "function"


class Method(NamedTuple):
    func: Any
    self_node: Any
    tag: str = "method"


class Partial(NamedTuple):
    """``functools.partial(func, *args, **keywords)``: all three take part."""
    func: Any
    args: Any
    keywords: Any
    cls: type
    tag: str = "partial"


FLOAT = FloatLeaf()


class _Carry:
    """Carries an object through a key without taking part in its hash or equality."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Carry)

    def __hash__(self):
        return 0


_EMPTY_CELL = Static("<empty cell>")

_STATIC_TYPES = (int, bool, str, bytes, type(None), complex, type(Ellipsis), slice, range, type,
                 types.ModuleType, types.BuiltinFunctionType)
_LEAF, _FLOAT, _STATIC, _LOOK = "leaf", "float", "static", "look"
_KIND: dict = {}  # type -> how to flatten it (the hot path's first question)


def _kind(x, t):
    if t is float:
        return _FLOAT
    if t in _STATIC_TYPES or isinstance(x, _STATIC_TYPES):
        return _STATIC
    if is_array(x):
        return _LEAF
    if isinstance(x, float):
        return _STATIC  # a float subclass (not traced): keyed by its exact value, like an int
    return _LOOK


def _exact(x):
    t = type(x)
    if t is int or t is str or x is None:
        return None  # the common cases: equal means the same
    if isinstance(x, float):
        return (t, x.hex() if x == x else "nan")
    if isinstance(x, complex):
        return (t, _exact(x.real), _exact(x.imag))
    if isinstance(x, tuple):
        return (t, tuple(_exact(y) for y in x))
    return t


def _static(x):
    try:
        hash(x)
        return Static(x, None, _exact(x))
    except TypeError:
        return Static(("id", id(x)), _Carry(x))


_SLOTS_CACHE: dict = {}


def slot_names(t) -> tuple:
    """Every slot of ``t`` once, base classes first (a slot redeclared in a subclass,
    as xarray's ``Variable`` does, is still one field)."""
    r = _SLOTS_CACHE.get(t)
    if r is None:
        names: list[str] = []
        for k in reversed(t.__mro__):
            s = k.__dict__.get("__slots__", ())
            if isinstance(s, str):
                s = (s,)
            names += [n for n in s if n not in ("__dict__", "__weakref__") and n not in names]
        r = _SLOTS_CACHE[t] = tuple(names)
    return r


class _Flattener:
    """One pass over a structure; collects leaves, builds the key."""

    __slots__ = ("leaves", "busy", "spec")

    def __init__(self, spec: Callable[[Any], tuple]):
        self.leaves: list = []
        self.busy: set = set()
        self.spec = spec

    def __call__(self, x):
        t = type(x)
        kind = _KIND.get(t)
        if kind is None:
            kind = _KIND[t] = _kind(x, t)
        if kind is _LEAF:
            self.leaves.append(x)
            return Leaf(self.spec(x))
        if kind is _FLOAT:
            self.leaves.append(x)
            return FLOAT
        if kind is _STATIC:
            return _static(x)
        if isinstance(x, ZeroTangent):
            return Static(x)
        n = len(self.leaves)
        node = self._container(x, t)
        if len(self.leaves) == n and not isinstance(node, (Static, Func, Method, Partial)):
            # Nothing to trace inside: pass the object itself through (its
            # identity and later mutations stay the user's), keyed by its contents.
            return Static(node, _Carry(x))
        return node

    def _container(self, x, t):
        if t is tuple:
            return Seq(tuple, tuple(map(self, x)))
        if t is list:
            return Seq(list, tuple(map(self, x)))
        if t is dict:
            return Mapping(tuple(x.keys()), tuple(map(self, x.values())))
        i = id(x)
        if i in self.busy:  # a cycle: the object is part of the key by identity
            return Static(("id", i), _Carry(x))
        self.busy.add(i)
        try:
            if isinstance(x, tuple) and hasattr(t, "_fields"):
                return NamedTup(t, tuple(map(self, x)))
            if t is types.FunctionType:
                return self._function(x)
            if t is types.MethodType:
                return Method(x.__func__, self(x.__self__))
            if isinstance(x, functools.partial):
                return Partial(self(x.func), Seq(tuple, tuple(map(self, x.args))),
                               Mapping(tuple(x.keywords), tuple(map(self, x.keywords.values()))), t)
            if isinstance(x, (tuple, list)):
                # another sequence type (torch.return_types, a user's subclass): rebuilt as t(items)
                node = Seq(t, tuple(map(self, x)))
                if not _rebuilds(t, x):
                    raise _Unrebuildable(t)
                return node
            if isinstance(x, dict):
                return Mapping(tuple(x.keys()), tuple(map(self, x.values())), t, _Carry(x))
            if getattr(t, "__yota_opaque__", False):
                return _static(x)
            if isinstance(x, (set, frozenset, bytearray)):
                # keyed by contents (a set mutated in place is another key), passed on itself
                contents = bytes(x) if isinstance(x, bytearray) else frozenset((_exact(y), y) for y in x)
                return Static((t, contents), _Carry(x))
            d = getattr(x, "__dict__", None)
            d = d if type(d) is dict else None
            slots = slot_names(t)
            if d is not None and not slots:
                return Obj(t, tuple(d.keys()), tuple(map(self, d.values())), False)
            if slots:
                # slots, and the __dict__ a subclass without __slots__ adds: every field
                names = tuple(s for s in slots if hasattr(x, s))
                values = [getattr(x, s) for s in names]
                if d:
                    names += tuple(d.keys())
                    values += list(d.values())
                return Obj(t, names, tuple(map(self, values)), d is None)
            return _static(x)
        finally:
            self.busy.discard(i)

    def _function(self, f):
        vals = []
        for c in f.__closure__ or ():
            try:
                vals.append(self(c.cell_contents))
            except ValueError:  # empty cell (recursive def not yet bound)
                vals.append(_EMPTY_CELL)
        return Func(f.__code__, (id(f.__globals__), _static(f.__defaults__), _static(f.__kwdefaults__)),
                    tuple(vals), _Carry(f))


_REBUILDS: dict = {}


def _rebuilds(t, x) -> bool:
    """Whether ``t(list_of_items)`` makes a ``t`` of those items (true of struct
    sequences and most tuple/list subclasses)."""
    ok = _REBUILDS.get(t)
    if ok is None:
        try:
            y = t(list(x))
            ok = type(y) is t and len(y) == len(x)
        except Exception:  # noqa: BLE001 - any constructor that does not take one sequence
            ok = False
        _REBUILDS[t] = ok
    return ok


class _Unrebuildable(TypeError):
    def __init__(self, t):
        super().__init__(f"yota cannot rebuild a {t.__module__}.{t.__qualname__} from its items (its "
                         f"constructor does not take one sequence): pass or return a tuple or list of the arrays "
                         f"instead, or give the class a namedtuple's _fields")


def flatten(x, spec: Callable[[Any], tuple]) -> tuple[Any, list]:
    """Return ``(structure, leaves)``. ``spec(array)`` gives each array's key part."""
    fl = _Flattener(spec)
    return fl(x), fl.leaves


def flatten_call(f, args: tuple, spec: Callable[[Any], tuple]) -> tuple[Seq, list]:
    """``flatten((f, args))`` with the two outer levels always kept as nodes
    (``Seq((f node, Seq(arg nodes)))``), also when no argument holds an array."""
    fl = _Flattener(spec)
    fnode = fl(f)
    return Seq(tuple, (fnode, Seq(tuple, tuple(map(fl, args))))), fl.leaves


def unflatten(node, leaves: Callable[[], Any], record: list | None = None):
    """Rebuild a structure like the flattened one, taking leaves from ``leaves()``.

    Objects are rebuilt without calling ``__init__`` (it may have side effects):
    a new instance gets the new field values. With ``record``, each rebuilt object, list, dict
    and closure is appended with what it was given, after its children (``yota/writes.py``
    compares them after the trace).
    """
    t = type(node)
    if t is Leaf or t is FloatLeaf:
        return leaves()
    if t is Static:
        return node.carry.obj if node.carry is not None else node.value
    if t is Seq:
        items = [unflatten(n, leaves, record) for n in node.items]
        out = node.kind(items)
        if record is not None and node.kind is list:
            record.append((node, out, tuple(items)))
        return out
    if t is Mapping:
        values = [unflatten(n, leaves, record) for n in node.items]
        pairs = zip(node.keys, values)
        if node.cls is dict:
            out = dict(pairs)
        else:
            out = copy.copy(node.proto.obj)  # keeps what a subclass carries (a defaultdict's factory)
            out.clear()
            out.update(pairs)
        if record is not None:
            record.append((node, out, tuple(values)))
        return out
    if t is NamedTup:
        return node.cls(*(unflatten(n, leaves, record) for n in node.items))
    if t is Obj:
        obj = object.__new__(node.cls)
        values = [unflatten(n, leaves, record) for n in node.items]
        for name, v in zip(node.names, values):
            object.__setattr__(obj, name, v)
        if record is not None:
            record.append((node, obj, tuple(values)))
        return obj
    if t is Func:
        f = node.carry.obj
        if not node.cells:
            return f
        values = [None if n is _EMPTY_CELL else unflatten(n, leaves, record) for n in node.cells]
        cells = tuple(types.CellType() if n is _EMPTY_CELL else types.CellType(v) for n, v in zip(node.cells, values))
        g = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, cells)
        g.__kwdefaults__ = f.__kwdefaults__
        g.__dict__.update(f.__dict__)
        if record is not None:
            record.append((node, cells, tuple(values)))
        return g
    if t is Method:
        return types.MethodType(node.func, unflatten(node.self_node, leaves, record))
    if t is Partial:
        func = unflatten(node.func, leaves, record)
        args = unflatten(node.args, leaves, record)
        kw = unflatten(node.keywords, leaves, record)
        return node.cls(func, *args, **kw)
    raise AssertionError(node)


def children(node) -> list[tuple[str, Any]]:
    """(label suffix, child) pairs of a node, in leaf order: the one description
    of the structure grammar that the walkers below share."""
    t = type(node)
    if t is Seq:
        return [(f"[{i}]", c) for i, c in enumerate(node.items)]
    if t is Mapping:
        return [(f"[{k!r}]", c) for k, c in zip(node.keys, node.items)]
    if t is NamedTup:
        return [(f".{n}", c) for n, c in zip(node.cls._fields, node.items)]
    if t is Obj:
        return [(f".{n}", c) for n, c in zip(node.names, node.items)]
    if t is Func:
        return [(f".{n}", c) for n, c in zip(node.code.co_freevars, node.cells)]
    if t is Method:
        return [(".__self__", node.self_node)]
    if t is Partial:
        return ([(".func", node.func)] + [(f".args[{i}]", c) for i, c in enumerate(node.args.items)]
                + [(f".keywords[{k!r}]", c) for k, c in zip(node.keywords.keys, node.keywords.items)])
    return []


def leaf_gradients(node, g) -> list:
    """The gradients of ``node``'s leaves, in flatten order, from a gradient structure that
    mirrors it (a ``ZeroTangent`` anywhere stands for every leaf below it)."""
    out: list = []
    _leaf_grads(node, g, out)
    return out


def _leaf_grads(node, g, out: list) -> None:
    """The leaf gradients of a gradient structure, in flatten order."""
    if type(node) in (Leaf, FloatLeaf):
        out.append(g)
        return
    kids = [c for _, c in children(node)]
    grads = [g] * len(kids) if isinstance(g, ZeroTangent) else _child_grads(node, g)
    for child, gc in zip(kids, grads):
        _leaf_grads(child, gc, out)


def _child_grads(node, g) -> list:
    """The gradients of a node's children, in the order of `children`."""
    t = type(node)
    if t is Method:
        return [g]
    if t in (Seq, NamedTup):
        return list(g)
    if t is Mapping:
        return [g[k] for k in node.keys]
    if t is Obj:
        return [g.fields[n] for n in node.names]
    if t is Func:
        return [g.fields[n] if isinstance(g, Tangent) else g for n in node.code.co_freevars]
    if t is Partial:
        f = g.fields
        return [f["func"], *f["args"], *(f["keywords"][k] for k in node.keywords.keys)]
    raise AssertionError(node)


def leaf_paths(node, prefix: str) -> list[str]:
    """Human names of the leaves (``m.W``, ``X[0]``, ``f.w``) for tape printing."""
    out: list[str] = []

    def walk(n, p):
        if type(n) in (Leaf, FloatLeaf):
            out.append(p)
        for suffix, c in children(n):
            walk(c, p + suffix)

    walk(node, prefix)
    return out


def count_leaves(node) -> int:
    if type(node) in (Leaf, FloatLeaf):
        return 1
    return sum(count_leaves(c) for _, c in children(node))


def walk_codes(node):
    """The functions a structure holds (closures, methods, partials' functions,
    callable objects' classes): where the traced code comes from."""
    t = type(node)
    if t is Func:
        yield node.carry.obj
    elif t is Method:
        yield node.func
    elif t is Obj:
        yield node.cls
    elif t is Static and node.carry is None and callable(node.value):
        yield node.value
    for _, c in children(node):
        yield from walk_codes(c)


# --------------------------------------------------------------------------- generated builders
# The per-call path rebuilds the same structure every call; a small generated
# function per structure does it without walking the structure description.

def _collapse(t):
    return ZERO if all(isinstance(v, ZeroTangent) for v in t.fields.values()) else t


def _rebuild_mapping(proto, items: dict):
    new = copy.copy(proto)
    new.clear()
    new.update(items)
    return new


def _rebuild_object(cls, names, values):
    obj = object.__new__(cls)
    for n, v in zip(names, values):
        object.__setattr__(obj, n, v)
    return obj


def compile_builder(node, mode: str, convert=None):
    """``fn(g) -> structure`` built from the flat sequence ``g``.

    ``mode="tangent"`` builds gradients (`Tangent` for objects, `NoTangent` for
    static values); ``"value"`` rebuilds values like `unflatten`. ``convert``
    maps a leaf index to a function applied to that leaf's gradient.
    """
    consts: list = []
    counter = [0]
    convert = convert or {}

    def const(v):
        consts.append(v)
        return f"C[{len(consts) - 1}]"

    def leaf():
        i = counter[0]
        counter[0] += 1
        if i in convert:
            return f"{const(convert[i])}(g[{i}])"
        return f"g[{i}]"

    def expr(n) -> str:
        t = type(n)
        if t is Leaf or t is FloatLeaf:
            return leaf()
        if t is Static:
            if mode == "tangent":
                return "NOT"
            return const(n.carry.obj if n.carry is not None else n.value)
        if t is Seq:
            if n.kind is tuple:
                return "(" + "".join(expr(c) + ", " for c in n.items) + ")"
            if n.kind is list:
                return "[" + ", ".join(expr(c) for c in n.items) + "]"
            return f"{const(n.kind)}((" + "".join(expr(c) + ", " for c in n.items) + "))"
        if t is Mapping:
            body = "{" + ", ".join(f"{const(key)}: {expr(c)}" for key, c in zip(n.keys, n.items)) + "}"
            return body if n.cls is dict else f"M({const(n.proto.obj)}, {body})"
        if t is NamedTup:
            return f"{const(n.cls)}(" + ", ".join(expr(c) for c in n.items) + ")"
        if t is Obj:
            vals = [expr(c) for c in n.items]
            if mode == "tangent":
                return f"T({const(n.cls)}, **{{" + ", ".join(f"{const(nm)}: {v}" for nm, v in zip(n.names, vals)) + "})"
            return f"R({const(n.cls)}, {const(n.names)}, (" + "".join(v + ", " for v in vals) + "))"
        if t is Func:
            if mode == "tangent":
                if not n.cells:
                    return "ZERO"
                vals = [expr(c) for c in n.cells]
                names = n.code.co_freevars
                return "Z(T(FT, **{" + ", ".join(f"{const(nm)}: {v}" for nm, v in zip(names, vals)) + "}))"
            raise NotImplementedError("value builders of functions")
        if t is Method:
            return expr(n.self_node)
        if t is Partial:
            if mode == "tangent":
                return (f"Z(T({const(n.cls)}, func={expr(n.func)}, args={expr(n.args)}, "
                        f"keywords={expr(n.keywords)}))")
            raise NotImplementedError("value builders of partials")
        raise AssertionError(n)

    body = expr(node)
    src = f"def build(g):\n    return {body}\n"
    env = {"C": consts, "NOT": NOTANGENT, "ZERO": ZERO, "T": Tangent, "Z": _collapse, "R": _rebuild_object,
           "FT": types.FunctionType, "M": _rebuild_mapping}
    exec(compile(src, "<yota builder>", "exec"), env)
    return env["build"]
