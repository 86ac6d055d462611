"""Flattening of argument structures into leaves, and the tangent types.

`flatten` turns ``(f, *args)`` into a list of leaves (arrays and Python floats)
plus a hashable *key* that describes everything else: the structure, the
static values (ints, strings, None, ...) and each leaf's shape/dtype/type.
The key is what the cache looks up, so flatten is on every call's hot path.
"""
from __future__ import annotations

import dataclasses
import types
from typing import Any, Callable

__all__ = ["Tangent", "ZeroTangent", "NoTangent", "update_", "flatten", "is_array"]


class ZeroTangent:
    """No path from this input to the output: an additive identity."""

    __slots__ = ()
    __array_ufunc__ = None  # make NumPy defer to our __radd__
    __array_priority__ = 1000

    def __add__(self, other):
        return other

    __radd__ = __add__

    def __mul__(self, other):
        return self

    __rmul__ = __mul__

    def __neg__(self):
        return self

    def __eq__(self, other):
        return isinstance(other, ZeroTangent)

    def __hash__(self):
        return hash(ZeroTangent)

    def __bool__(self):
        return False

    def __repr__(self):
        return "ZeroTangent()"


class NoTangent(ZeroTangent):
    """Not differentiable (integers, bools, strings, None)."""

    __slots__ = ()

    def __eq__(self, other):
        return isinstance(other, NoTangent)

    def __hash__(self):
        return hash(NoTangent)

    def __repr__(self):
        return "NoTangent()"


ZERO = ZeroTangent()
NOTANGENT = NoTangent()


class Tangent:
    """The gradient of an object: its primal type and one gradient per field."""

    __slots__ = ("primal_type", "fields")

    def __init__(self, primal_type: type, **fields: Any) -> None:
        object.__setattr__(self, "primal_type", primal_type)
        object.__setattr__(self, "fields", fields)

    def __getattr__(self, name):
        try:
            return object.__getattribute__(self, "fields")[name]
        except KeyError:
            raise AttributeError(f"Tangent of {self.primal_type.__name__} has no field {name!r}") from None

    def __getitem__(self, name):
        return self.fields[name]

    def __iter__(self):
        return iter(self.fields.items())

    def __eq__(self, other):
        return (isinstance(other, Tangent) and self.primal_type is other.primal_type
                and self.fields.keys() == other.fields.keys()
                and all(_same(a, other.fields[k]) for k, a in self.fields.items()))

    __hash__ = None

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        name = getattr(self.primal_type, "__qualname__", str(self.primal_type))
        return f"Tangent{{{name}}}({inner})"


def _same(a, b):
    if a is b:
        return True
    try:
        r = a == b
        return bool(r) if isinstance(r, bool) else bool(getattr(r, "all", lambda: r)())
    except Exception:
        return False


# --------------------------------------------------------------------------- leaves

_ARRAY_TYPES: dict = {}


def is_array(x) -> bool:
    t = type(x)
    r = _ARRAY_TYPES.get(t)
    if r is None:
        import array_api_compat
        r = _ARRAY_TYPES[t] = bool(hasattr(x, "__array_namespace__") or (
            array_api_compat.is_array_api_obj(x) and not isinstance(x, (int, float, complex, bool))))
    return r


# Node kinds of the structure description. Each node is a tuple whose first item
# is the kind; the key is the nested tuple itself (hashable, compared by value).
ARRAY, FLOAT, STATIC, TUPLE, LIST, DICT, NAMEDTUPLE, OBJECT, SLOTS, FUNC, METHOD = range(11)

_STATIC_TYPES = (int, bool, str, bytes, type(None), complex, type(Ellipsis), slice, range, type,
                 types.ModuleType, types.BuiltinFunctionType)
_FLOAT_NODE = (FLOAT,)
_KIND: dict = {}  # type -> ARRAY / FLOAT / STATIC / TUPLE (meaning: look inside)


def _kind(x, t):
    if t is float:
        return FLOAT
    if t in _STATIC_TYPES or isinstance(x, _STATIC_TYPES):
        return STATIC
    if is_array(x):
        return ARRAY
    return TUPLE


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
        if kind is ARRAY:
            self.leaves.append(x)
            return (ARRAY, self.spec(x))
        if kind is FLOAT:
            self.leaves.append(x)
            return _FLOAT_NODE
        if kind is STATIC:
            return _static(x)
        if isinstance(x, ZeroTangent):
            return (STATIC, x)
        n = len(self.leaves)
        node = self._container(x, t)
        if len(self.leaves) == n and node[0] not in (STATIC, FUNC, METHOD):
            # Nothing to trace inside: pass the object itself through (its
            # identity and later mutations stay the user's), keyed by its contents.
            return (STATIC, node, _Carry(x))
        return node

    def _container(self, x, t):
        if t is tuple:
            return (TUPLE, tuple(map(self, x)))
        if t is list:
            return (LIST, tuple(map(self, x)))
        if t is dict:
            return (DICT, tuple(x.keys()), tuple(map(self, x.values())))
        i = id(x)
        if i in self.busy:  # a cycle: the object is part of the key by identity
            return (STATIC, ("id", i), _Carry(x))
        self.busy.add(i)
        try:
            if isinstance(x, tuple) and hasattr(t, "_fields"):
                return (NAMEDTUPLE, t, tuple(map(self, x)))
            if t is types.FunctionType:
                return self._function(x)
            if t is types.MethodType:
                return (METHOD, x.__func__, self(x.__self__))
            if isinstance(x, (tuple, list, dict)):
                return _static(x)
            d = getattr(x, "__dict__", None)
            if d is not None:
                return (OBJECT, t, tuple(d.keys()), tuple(map(self, d.values())))
            slots = _slot_names(t)
            if slots:
                names = tuple(s for s in slots if hasattr(x, s))
                return (SLOTS, t, names, tuple(self(getattr(x, s)) for s in names))
            return _static(x)
        finally:
            self.busy.discard(i)

    def _function(self, f):
        cells = f.__closure__ or ()
        vals = []
        for c in cells:
            try:
                vals.append(self(c.cell_contents))
            except ValueError:  # empty cell (recursive def not yet bound)
                vals.append(_EMPTY_CELL)
        # The function object itself is not part of the key: a new closure of the
        # same code must hit the cache. Its globals and defaults are, by identity.
        return (FUNC, f.__code__, (id(f.__globals__), _static(f.__defaults__), _static(f.__kwdefaults__)),
                tuple(vals), _Carry(f))


class _Carry:
    """Carries an object through a key without taking part in its hash or equality."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Carry)

    def __hash__(self):
        return 0


_EMPTY_CELL = (STATIC, "<empty cell>")


def _static(x):
    try:
        hash(x)
        return (STATIC, x)
    except TypeError:
        return (STATIC, ("id", id(x)), _Carry(x))


_SLOTS_CACHE: dict = {}


def _slot_names(t):
    r = _SLOTS_CACHE.get(t)
    if r is None:
        names = []
        for k in t.__mro__:
            s = k.__dict__.get("__slots__", ())
            if isinstance(s, str):
                s = (s,)
            names += [n for n in s if n not in ("__dict__", "__weakref__")]
        r = _SLOTS_CACHE[t] = tuple(names)
    return r


def flatten(x, spec: Callable[[Any], tuple]) -> tuple[Any, list]:
    """Return ``(key, leaves)``. ``spec(array)`` gives each array's key part."""
    fl = _Flattener(spec)
    return fl(x), fl.leaves


def unflatten(node, leaves: Callable[[], Any]):
    """Rebuild a structure like the flattened one, taking leaves from ``leaves()``.

    Objects are rebuilt without calling ``__init__`` (it may have side effects):
    a new instance gets the new field values.
    """
    k = node[0]
    if k in (ARRAY, FLOAT):
        return leaves()
    if k == STATIC:
        return node[2].obj if len(node) == 3 else node[1]
    if k == TUPLE:
        return tuple(unflatten(n, leaves) for n in node[1])
    if k == LIST:
        return [unflatten(n, leaves) for n in node[1]]
    if k == DICT:
        return dict(zip(node[1], (unflatten(n, leaves) for n in node[2])))
    if k == NAMEDTUPLE:
        return node[1](*(unflatten(n, leaves) for n in node[2]))
    if k in (OBJECT, SLOTS):
        obj = object.__new__(node[1])
        for name, n in zip(node[2], node[3]):
            object.__setattr__(obj, name, unflatten(n, leaves))
        return obj
    if k == FUNC:
        f = node[4].obj
        if not node[3]:
            return f
        cells = tuple(types.CellType() if n is _EMPTY_CELL else types.CellType(unflatten(n, leaves))
                      for n in node[3])
        g = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, cells)
        g.__kwdefaults__ = f.__kwdefaults__
        g.__dict__.update(f.__dict__)
        return g
    if k == METHOD:
        return types.MethodType(node[1], unflatten(node[2], leaves))
    raise AssertionError(node)


def leaf_paths(node, prefix: str) -> list[str]:
    """Human names of the leaves (``m.W``, ``X[0]``, ``f.w``) for tape printing."""
    out: list[str] = []

    def walk(n, p):
        k = n[0]
        if k in (ARRAY, FLOAT):
            out.append(p)
        elif k in (TUPLE, LIST):
            for i, c in enumerate(n[1]):
                walk(c, f"{p}[{i}]")
        elif k == DICT:
            for key, c in zip(n[1], n[2]):
                walk(c, f"{p}[{key!r}]")
        elif k == NAMEDTUPLE:
            for name, c in zip(n[1]._fields, n[2]):
                walk(c, f"{p}.{name}")
        elif k in (OBJECT, SLOTS):
            for name, c in zip(n[2], n[3]):
                walk(c, f"{p}.{name}")
        elif k == FUNC:
            for name, c in zip(n[1].co_freevars, n[3]):
                walk(c, f"{p}.{name}")
        elif k == METHOD:
            walk(n[2], f"{p}.__self__")

    walk(node, prefix)
    return out


# --------------------------------------------------------------------------- update_

def update_(obj: Any, grad: Any, fn: Callable[[Any, Any], Any] = lambda x, g: x - g) -> Any:
    """Write ``fn(x, g)`` into every array field of ``obj`` that has a gradient, in place."""
    if isinstance(grad, ZeroTangent) or grad is None:
        return obj
    if isinstance(grad, Tangent):
        if isinstance(obj, types.FunctionType):
            cells = dict(zip(obj.__code__.co_freevars, obj.__closure__ or ()))
            for name, g in grad.fields.items():
                _update_slot(cells[name].cell_contents, g, fn,
                             lambda v, c=cells[name]: setattr(c, "cell_contents", v), name)
            return obj
        if isinstance(obj, types.MethodType):
            return update_(obj.__self__, grad, fn)
        for name, g in grad.fields.items():
            _update_slot(getattr(obj, name), g, fn, lambda v, n=name: object.__setattr__(obj, n, v), name)
        return obj
    if isinstance(obj, types.MethodType):
        return update_(obj.__self__, grad, fn)
    if isinstance(obj, dict):
        for key, g in grad.items():
            _update_slot(obj[key], g, fn, lambda v, k=key: obj.__setitem__(k, v), key)
        return obj
    if isinstance(obj, list):
        for i, g in enumerate(grad):
            _update_slot(obj[i], g, fn, lambda v, i=i: obj.__setitem__(i, v), i)
        return obj
    if isinstance(obj, tuple):
        for i, (x, g) in enumerate(zip(obj, grad)):
            _update_slot(x, g, fn, None, i)
        return obj
    raise TypeError(f"update_: cannot update {type(obj).__name__} with {type(grad).__name__}")


def _update_slot(x, g, fn, setter, where):
    if isinstance(g, ZeroTangent) or g is None:
        return
    if is_array(x) or isinstance(x, float):
        if setter is None:
            raise TypeError(f"update_: the array at position {where} lives in a tuple, which cannot be "
                            "assigned to in place; use a list or an object field instead")
        setter(fn(x, g))
    else:
        update_(x, g, fn)


def is_dataclass_instance(x) -> bool:
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


# --------------------------------------------------------------------------- generated builders
# The per-call path rebuilds the same structure every call; a small generated
# function per structure does it without walking the structure description.

def _collapse(t):
    return ZERO if all(isinstance(v, ZeroTangent) for v in t.fields.values()) else t


def _rebuild_object(cls, names, values):
    obj = object.__new__(cls)
    for n, v in zip(names, values):
        object.__setattr__(obj, n, v)
    return obj


def compile_builder(node, mode: str, float_leaves=()):
    """``fn(g, F) -> structure`` built from the flat sequence ``g``.

    ``mode="tangent"`` builds gradients (`Tangent` for objects, `NoTangent` for
    static values); ``"value"`` rebuilds values like `unflatten`. ``F`` converts
    the gradients of Python-float leaves.
    """
    consts: list = []
    counter = [0]
    floats = set(float_leaves)

    def const(v):
        consts.append(v)
        return f"C[{len(consts) - 1}]"

    def leaf():
        i = counter[0]
        counter[0] += 1
        return f"F(g[{i}])" if i in floats else f"g[{i}]"

    def expr(n) -> str:
        k = n[0]
        if k in (ARRAY, FLOAT):
            return leaf()
        if k == STATIC:
            if mode == "tangent":
                return "NOT"
            return const(n[2].obj if len(n) == 3 else n[1])
        if k == TUPLE:
            return "(" + "".join(expr(c) + ", " for c in n[1]) + ")"
        if k == LIST:
            return "[" + ", ".join(expr(c) for c in n[1]) + "]"
        if k == DICT:
            return "{" + ", ".join(f"{const(key)}: {expr(c)}" for key, c in zip(n[1], n[2])) + "}"
        if k == NAMEDTUPLE:
            return f"{const(n[1])}(" + ", ".join(expr(c) for c in n[2]) + ")"
        if k in (OBJECT, SLOTS):
            vals = [expr(c) for c in n[3]]
            if mode == "tangent":
                return f"T({const(n[1])}, **{{" + ", ".join(f"{const(nm)}: {v}" for nm, v in zip(n[2], vals)) + "})"
            return f"R({const(n[1])}, {const(n[2])}, (" + "".join(v + ", " for v in vals) + "))"
        if k == FUNC:
            if mode == "tangent":
                if not n[3]:
                    return "ZERO"
                vals = [expr(c) for c in n[3]]
                names = n[1].co_freevars
                return "Z(T(FT, **{" + ", ".join(f"{const(nm)}: {v}" for nm, v in zip(names, vals)) + "}))"
            raise NotImplementedError("value builders of functions")
        if k == METHOD:
            return expr(n[2])
        raise AssertionError(n)

    body = expr(node)
    src = f"def build(g, F):\n    return {body}\n"
    env = {"C": consts, "NOT": NOTANGENT, "ZERO": ZERO, "T": Tangent, "Z": _collapse, "R": _rebuild_object,
           "FT": types.FunctionType}
    exec(compile(src, "<yota builder>", "exec"), env)
    return env["build"]
