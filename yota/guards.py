"""Guards on what the traced Python code read outside its arguments.

A trace bakes in every value the user's code resolved by name: module
globals (``SCALE``, a flag, a helper function), module attributes
(``mylib.softplus``), class attributes read through ``self`` (``Model.scale``),
attributes of global objects and of what they hold (``MODEL.sub.W``), the
contents of global lists and dicts (an array in one is a constant of the tape:
``PARAMS["w"] = new`` must be seen; their subclasses and the other containers
that change in place, ``deque``, ``array.array``, ``bytearray``, ``os.environ``,
likewise), the objects inside them (``LAYERS[0].W``), a global partial's
arguments, and closure cells of other functions. An iterator the code can reach
(``itertools.count()``, a generator) is never reused: where it stands cannot be
read. `collect` finds them the way a reader
would: starting from the functions in the call's structure (the function,
closures, methods, callable objects' classes), it follows the names each code
object loads (``co_names``) through globals, modules, classes and the
functions they lead to, and records each binding with its value. `Guards.check`
then says, on every cached call, whether all of them are unchanged: objects by
identity, numbers and strings by exact value (``0.0`` is not ``-0.0``).

Arrays reached this way (a global, a list item, a class attribute, a field of a
global object, a default) are guarded by their contents as well, bit for bit: the
tape reads such an array by reference, but what the code computed from it outside
the traced calls (``W * 2`` in NumPy itself, ``float(W.sum())``, an ``if`` on it)
is baked in, so ``W[...] = new`` in place must retrace. The backend makes the
check (`content_guard`): NumPy compares with a copy, Dask compares graph names,
JAX arrays cannot change. Not guarded (documented): names reached only through
``getattr(obj, name)`` with a computed name, arrays larger than
`MAX_SNAPSHOT_BYTES` and the items of a global container of more than
`MAX_CONTAINER` items (a warning when traced code reads one), and anything the
code draws from outside Python's name lookup (random numbers from a generator it
makes itself, files, the clock): those run once, at trace time.
"""
from __future__ import annotations

import array
import collections
import collections.abc
import contextvars
import functools
import io
import math
import random
import sys
import types
import warnings
from typing import Any

from . import backends
from .errors import _user_file
from .flatten import Obj, Static, children, slot_names, walk_codes
from .tangents import is_array

__all__ = ["Guards", "collect", "MAX_CONTAINER"]

#: global lists/dicts/sets of up to this many items (nested containers counted in) are guarded by
#: their contents; a larger one read by traced code is a warning at trace time
MAX_CONTAINER = 4096
_MISSING = object()
_VALUE_TYPES = (int, float, complex, bool, str, bytes, type(None))


def _is_value(v) -> bool:
    if type(v) in _VALUE_TYPES:
        return True
    if type(v) in (tuple, frozenset):
        return len(v) <= MAX_CONTAINER and all(_is_value(x) for x in v)
    return False


_PLAIN = (list, dict, set, tuple)


def _plain(v):
    """A container's items as a list, dict, set, tuple (or bytes), or None for what is no container.
    Subclasses and the other mutable containers (``defaultdict``, ``OrderedDict``, ``Counter``, a
    ``list`` subclass, ``deque``, ``array.array``, ``bytearray``, a ``mappingproxy``, a namedtuple,
    ``os.environ`` and other mappings) change in place as a list or dict does, so they are compared
    by their items too."""
    t = type(v)
    if t in _PLAIN:
        return v
    if isinstance(v, (dict, types.MappingProxyType)):
        return dict(v)
    if isinstance(v, (list, collections.deque, array.array)):
        return list(v)
    if isinstance(v, tuple):
        return tuple(v)
    if isinstance(v, (set, frozenset)):
        return set(v)
    if isinstance(v, bytearray):
        return bytes(v)
    if isinstance(v, collections.abc.Mapping) and not isinstance(v, type):  # os.environ, a ChainMap
        return dict(v)
    if isinstance(v, (collections.abc.MutableSequence, collections.abc.MutableSet)) and not is_array(v):
        return list(v) if isinstance(v, collections.abc.MutableSequence) else set(v)
    return None


def _same_value(a, b) -> bool:
    if type(b) is _Contents:
        return a is b.array and b.same(a)
    if type(a) is not type(b):
        p = _plain(a) if type(b) in _PLAIN or type(b) is bytes else None
        return p is not None and p is not a and type(p) is type(b) and _same_value(p, b)
    if type(a) is float:
        return a == b and math.copysign(1, a) == math.copysign(1, b) or (a != a and b != b)
    if type(a) is complex:
        return _same_value(a.real, b.real) and _same_value(a.imag, b.imag)
    if type(a) in (tuple, frozenset):
        if type(a) is frozenset:
            return a == b
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if type(a) is list:
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if type(a) is set:
        return a == b
    return a == b if type(a) in _VALUE_TYPES else a is b


def _snapshot(v):
    """What a container's contents are compared with: a copy of the containers in it, the other
    items themselves (an array in a list is the same array, compared by identity)."""
    v = _plain_or_self(v)
    if type(v) is list:
        return [_snapshot(x) for x in v]
    if type(v) is dict:
        return {k: _snapshot(x) for k, x in v.items()}
    if type(v) is set:
        return set(v)
    if type(v) is tuple:
        return tuple(_snapshot(x) for x in v)
    if not isinstance(v, (type, types.ModuleType)) and is_array(v):
        same = _contents(None, "an item", v)
        return _Contents(v, same) if same is not None else v
    return v


def _plain_or_self(v):
    p = _plain(v)
    return v if p is None else p


def _contents_in(v):
    """The `_Contents` in a container snapshot, nested containers too."""
    if type(v) is _Contents:
        yield v
    elif type(v) in (list, tuple, set):
        for x in v:
            yield from _contents_in(x)
    elif type(v) is dict:
        for x in v.values():
            yield from _contents_in(x)


def _now(kind, holder, name):
    """A guarded binding's value now (`_MISSING` where the name is gone; ValueError: an empty cell)."""
    return holder.cell_contents if kind == "cell" else holder.get(name, _MISSING)


def _label(kind, holder, name) -> str:
    return f"a closure cell of {name}" if kind == "cell" else f"{_holder_name(holder)}.{name}"


class _Identity:
    """An object compared by identity (and kept alive, so that its id is not taken again)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is _Identity and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


class _Contents:
    """An array in a guarded container, with the check that it still holds what it held."""

    __slots__ = ("array", "same")

    def __init__(self, array, same):
        self.array, self.same = array, same


#: arrays read outside the arguments are copied, to compare their contents on every call, up to
#: this size each; a larger one read by traced code is a warning at trace time
MAX_SNAPSHOT_BYTES = 64 << 20


def _contents(holder, name, value):
    """The contents guard of an array the code reads outside its arguments. The tape reads such an
    array by reference, but what the code computed from it outside the array-API calls (``W * 2`` in
    NumPy itself, ``float(W.sum())``, an ``if`` on it) is baked in: after ``W[...] = new`` in place,
    only a check of the contents sees that the tape is stale."""
    same = backends.backend_of(value).content_guard(value, MAX_SNAPSHOT_BYTES)
    if same is False:
        where = f"{_holder_name(holder)}.{name}" if holder is not None else "an array inside a container"
        warnings.warn(
            f"yota: the traced code reads {where}, an array of more than {MAX_SNAPSHOT_BYTES >> 20} MiB, "
            f"outside its arguments. yota checks the contents of smaller ones on every call, not of this one: "
            f"the tape reads it by reference, but a value computed from it outside the array namespace "
            f"(with NumPy itself, float(), an `if`) will not be recomputed when it changes in place. Pass it "
            f"as an argument.", RuntimeWarning, stacklevel=2)
        return None
    return same


def _items(v, budget: int) -> int:
    """How many items ``v`` holds, nested containers counted in (stops past ``budget``)."""
    n = 0
    stack = [v]
    while stack and n <= budget:
        c = stack.pop()
        c = _plain_or_self(c)
        items = c.values() if type(c) is dict else c
        for x in items:
            n += 1
            if _plain(x) is not None and type(x) is not bytes:
                stack.append(x)
    return n


def _only_values(v) -> bool:
    """Whether a container holds numbers and strings only (then Python's own == compares it)."""
    return all(_is_value(x) for x in (v.values() if type(v) is dict else v))


def _state_key(obj):
    """A random generator's state (Python's `random.Random`, an array library's generator), or
    None: what the trace drew from it is baked into the tape, so the tape is reused only while the
    state is the one the trace started from."""
    if isinstance(obj, random.Random):
        return obj.getstate()
    if isinstance(obj, contextvars.ContextVar):  # its value in the calling context: set() is a change
        v = obj.get(_MISSING)
        return ("value", v) if _is_value(v) else ("object", _Identity(v))
    if isinstance(obj, (type, types.ModuleType, types.FunctionType)) or _is_value(obj):
        return None
    return backends.state_key(obj)


def _small_container(v) -> bool:
    # a tuple too: it cannot change, but the arrays in it can, in place
    return _plain(v) is not None and _items(v, MAX_CONTAINER) <= MAX_CONTAINER


class Guards:
    """A list of (mapping, name, value) bindings that a cached tape assumes."""

    __slots__ = ("entries", "_fast", "described")

    def __init__(self, entries: list):
        # entry: (kind, holder, name, expected) with kind "id", "value", "contents" or "cell"
        self.entries = entries
        self._fast = self._compile()

    def __len__(self):
        return len(self.entries)

    def __add__(self, other: "Guards") -> "Guards":
        return Guards(self.entries + other.entries) if other.entries else self

    def _compile(self):
        if not self.entries:
            return lambda: True
        terms = []
        env: dict = {"M": _MISSING, "S": _state_key, "V": _same_value}
        for i, (kind, holder, name, expected) in enumerate(self.entries):
            env[f"h{i}"], env[f"e{i}"] = holder, expected
            if kind == "never":
                terms.append("False")
            elif kind == "state":
                terms.append(f"S(h{i}) == e{i}")
            elif kind == "cell":
                terms.append(f"h{i}.cell_contents is e{i}")
            elif kind == "array":
                terms.append(f"h{i}.get({name!r}, M) is e{i}[0] and e{i}[1](e{i}[0])")
            elif kind == "contents" and type(expected[0]) in _PLAIN and _only_values(expected[1]):
                terms.append(f"h{i}.get({name!r}, M) is e{i}[0] and h{i}[{name!r}] == e{i}[1]")
            elif kind == "contents":  # arrays, functions, objects in it: each by identity, nested too
                terms.append(f"h{i}.get({name!r}, M) is e{i}[0] and V(h{i}[{name!r}], e{i}[1])")
            else:
                terms.append(f"h{i}.get({name!r}, M) is e{i}")
        src = "def check():\n    return " + " and ".join(terms) + "\n"
        exec(compile(src, "<yota guards>", "exec"), env)
        return env["check"]

    def check(self) -> bool:
        try:
            if self._fast():
                return True
        except Exception:  # noqa: BLE001 - a cell emptied, a container that cannot compare
            pass
        return self._slow()

    def _slow(self) -> bool:
        # A name rebound to an equal value (a new float object) is no change:
        # adopt the new object, so the fast check passes next time.
        changed = False
        for i, (kind, holder, name, expected) in enumerate(self.entries):
            if kind == "never":
                return False
            if kind == "state":
                if _state_key(holder) != expected:
                    return False
                continue
            try:
                now = _now(kind, holder, name)
            except ValueError:
                return False
            if kind == "array":
                if now is not expected[0] or not expected[1](now):
                    return False
                continue
            if kind == "contents":
                if not _same_value(now, expected[1]):
                    return False
                if now is not expected[0]:
                    self.entries[i] = (kind, holder, name, (now, _snapshot(now)))
                    changed = True
                continue
            if now is expected:
                continue
            if kind in ("value", "cell") and _is_value(now) and _same_value(now, expected):
                self.entries[i] = (kind, holder, name, now)
                changed = True
                continue
            return False
        if changed:
            self._fast = self._compile()
        return True

    def current(self):
        """(what, value now) of every guarded binding: where the traced code may have left a value."""
        for kind, holder, name, _ in self.entries:
            if kind in ("state", "never"):
                continue
            try:
                v = _now(kind, holder, name)
            except ValueError:
                continue
            if v is not _MISSING:
                yield _label(kind, holder, name), v

    def _guarded_arrays(self):
        """(array, same) of each array guarded by its contents, in containers too."""
        for kind, _, _, expected in self.entries:
            if kind == "array":
                yield expected
            elif kind == "contents":
                for c in _contents_in(expected[1]):
                    yield c.array, c.same

    def arrays_unchanged(self) -> bool:
        """Whether every array guarded by its contents still holds them (the tape reads those
        arrays by reference: a pullback called later must not see a write into one)."""
        return all(same(a) for a, same in self._guarded_arrays())

    def arrays(self) -> list:
        """The arrays guarded by their contents (read outside the arguments), in containers too."""
        return [a for a, _ in self._guarded_arrays()]

    def first_change(self) -> str:
        """What changed, for messages: ``module.NAME`` or ``Class.attr``."""
        for kind, holder, name, expected in self.entries:
            if kind == "never":
                return (f"{name} is an iterator ({type(expected).__name__}): what the "
                        f"trace took from it is a constant of the tape, and where it stands cannot be checked, "
                        f"so each call traces again. Take the values outside the traced function and pass them "
                        f"in")
            if kind == "state":
                if _state_key(holder) == expected:
                    continue
                if isinstance(holder, contextvars.ContextVar):
                    return f"the value of the context variable {name}"
                return (f"the state of the random generator {name} it draws from (what a trace draws is "
                        f"a constant of its tape, so each call draws by tracing again: draw the random "
                        f"numbers outside the traced function and pass them in as arrays)")
            try:
                now = _now(kind, holder, name)
            except ValueError:
                return _label(kind, holder, name)
            if kind == "array":
                ok = now is expected[0] and expected[1](now)
            elif kind == "contents":
                ok = _same_value(now, expected[1])
            else:
                ok = now is expected or (_is_value(now) and _same_value(now, expected))
            if not ok:
                return _label(kind, holder, name)
        return ""


def _warn_large(holder, name, value):
    warnings.warn(
        f"yota: the traced code reads {_holder_name(holder)}.{name}, a {type(value).__name__} of more than "
        f"{MAX_CONTAINER} items: yota re-checks the contents of smaller ones on every call, not of this "
        f"one, so a cached tape will not see an item of it replaced. Pass the data as an argument (an "
        f"array, or a tuple of arrays), or make it a tuple (rebinding the name is then seen).",
        RuntimeWarning, stacklevel=2)


def _holder_name(holder) -> str:
    if isinstance(holder, dict):
        return holder.get("__name__", "<globals>")
    return getattr(holder, "__name__", type(holder).__name__)


class _Collector:
    def __init__(self):
        self.entries: list = []
        self.keys: set = set()
        self.codes: set = set()
        self.names: set = set()
        self.classes: list = []
        self.objects: list = []
        self.todo: list = []
        self.library_fields = 0  # fields of library objects guarded so far (`library_object`)

    def add_state(self, obj, name: str):
        """A random generator the code can reach: guarded by the state the trace starts from."""
        key = ("state", id(obj))
        if key in self.keys:
            return
        state = _state_key(obj)
        if state is not None:
            self.keys.add(key)
            self.entries.append(("state", obj, name, state))

    def add_never(self, obj, label: str):
        """An iterator the code can reach: what the trace took from it is baked in, and where it
        stands cannot be read, so the tape is never reused."""
        self.entries.append(("never", None, label, obj))

    def library_object(self, obj, d: dict, slots) -> None:
        """An object of a library's class (a fitted scaler, a tokenizer): the library's methods read
        fields the user's code never names (``mean_`` in ``SCALER.transform(x)``), so all of its own
        fields are guarded, one level deep (what they hold by identity), up to `MAX_CONTAINER`."""
        fields = [(d, n) for n in d] + [(slots, n) for n in slots.names if slots.has(n)]
        if len(fields) > MAX_CONTAINER - self.library_fields:
            _warn_large_object(obj)
            return
        self.library_fields += len(fields)
        for holder, name in fields:
            v = holder.get(name)
            # a stream or iterator in such an object is the library's I/O, run once (documented)
            self.add("id" if _is_iterator(v) else "auto", holder, name, v)
            self.follow(v)  # the user's function it holds (FunctionTransformer(func)) reads globals too

    def add(self, kind, holder, name, value):
        key = (holder.ident if isinstance(holder, _Holder) else id(holder), name)
        if key in self.keys:
            return
        self.keys.add(key)
        self.add_state(value, name)
        # np.random.normal: a method of the global generator (read from the method's own type: an
        # object's __getattr__ may answer any name, or raise what it likes)
        owner = value.__self__ if isinstance(value, (types.MethodType, types.BuiltinMethodType)) else None
        if owner is not None and not isinstance(owner, types.ModuleType):
            self.add_state(owner, name)
        if kind == "auto" and _is_iterator(value):
            self.add_never(value, _label(kind, holder, name))
            return
        if kind == "auto":
            if _is_value(value):
                kind = "value"
            elif _small_container(value):
                kind, value = "contents", (value, _snapshot(value))
            elif _plain(value) is not None and not (type(value) is tuple and _only_values(value)):
                _warn_large(holder, name, value)
                kind = "id"
            elif not isinstance(value, (type, types.ModuleType)) and is_array(value):
                same = _contents(holder, name, value)
                kind, value = ("array", (value, same)) if same is not None else ("id", value)
            else:
                kind = "id"
        self.entries.append((kind, holder, name, value))

    def follow(self, v):
        """Queue what a resolved value leads to."""
        if getattr(type(v), "__yota_opaque__", False):
            return  # a primitive: its function runs on every call, nothing of it is baked in
        wrapped = _attribute(v, "__wrapped__") if not isinstance(v, types.ModuleType) else None
        if isinstance(wrapped, (types.FunctionType, types.MethodType)):
            self.follow(wrapped)  # decorators, yota.checkpoint, yota.custom_vjp
        runs = getattr(type(v), "__yota_runs__", None)
        if runs and not isinstance(v, type):
            # an object that calls functions it holds (custom_vjp's fwd and bwd): each is
            # guarded by identity (defvjp again is a change) and followed for what it reads
            d = vars(v)
            for name in runs:
                if name in d:
                    self.add("auto", d, name, d[name])
                    self.follow(d[name])
        if isinstance(v, (staticmethod, classmethod)):
            v = v.__func__
        if isinstance(v, property):
            for f in (v.fget, v.fset):
                if f is not None:
                    self.todo.append(f)
            return
        if isinstance(v, types.FunctionType):
            self.todo.append(v)
        elif isinstance(v, types.MethodType):
            self.todo.append(v.__func__)
            self.follow_object(v.__self__)
        elif isinstance(v, type):
            self.add_class(v)
        elif isinstance(v, functools.partial):
            # its arguments are read on every call, and its keywords dict can change in place
            parts = _Fields(v, ("args", "keywords"), "a partial")
            for name in parts.names:
                value = parts.get(name)
                self.add("auto", parts, name, value)
                self.follow_contents(value)
            self.follow(v.func)

    def follow_value(self, v):
        """What a value the code reads leads to: functions, the object's fields, a container's items."""
        self.follow(v)
        self.follow_object(v)
        self.follow_contents(v)

    def follow_contents(self, v):
        """The objects and functions inside a container the code reads (``LAYERS[0].W``,
        ``ACTIVATIONS[i](x)``): followed like a global one."""
        if _plain(v) is None:
            return
        stack, n = [v], 0
        while stack and n <= MAX_CONTAINER:
            c = _plain_or_self(stack.pop())
            for x in (c.values() if type(c) is dict else c):
                n += 1
                if _plain(x) is not None:
                    stack.append(x)
                elif not _is_value(x):
                    self.follow(x)
                    self.follow_object(x)

    def follow_object(self, obj):
        if isinstance(obj, (types.ModuleType, type)) or _is_value(obj):
            return
        if getattr(type(obj), "__yota_opaque__", False):
            return  # a primitive runs on every call: nothing it holds is baked in
        if (_attribute(obj, "__dict__") is not None or slot_names(type(obj))) \
                and id(obj) not in {id(o) for o in self.objects}:
            self.objects.append(obj)
        self.add_class(type(obj))

    def add_class(self, cls):
        if cls in self.classes or not _user_class(cls):
            return
        self.classes.append(cls)
        for klass in cls.__mro__:
            if not _user_class(klass):
                continue
            for v in vars(klass).values():
                if isinstance(v, (types.FunctionType, staticmethod, classmethod, property)):
                    self.follow(v)

    def function(self, f: types.FunctionType):
        code = f.__code__
        if code in self.codes:
            return
        if not _user_file(code.co_filename):
            return
        self.code(code, f.__globals__)
        # defaults: the key holds them by identity, so a mutable one (a list, an object) mutated in
        # place is only seen here; numbers and strings in them cannot change
        for name, v in [*enumerate(f.__defaults__ or ()), *(f.__kwdefaults__ or {}).items()]:
            if not _is_value(v):
                self.add("auto", _Defaults(f), name, v)
                self.follow_value(v)
        for cell, name in zip(f.__closure__ or (), code.co_freevars):
            try:
                v = cell.cell_contents
            except ValueError:
                continue
            if _is_value(v):
                self.add("cell", cell, name, v)
            elif isinstance(v, types.ModuleType):  # a module imported inside the enclosing function
                self.module_attributes(v, code.co_names, 2)
            else:
                # rebound by `nonlocal`, or a list or dict changed in place: by identity or contents
                self.add("auto", _Cell(cell, name), name, v)
                self.follow_value(v)

    def code(self, code, g):
        if code in self.codes:
            return
        self.codes.add(code)
        names = code.co_names
        self.names.update(names)
        for n in names:
            if n in g:
                v = g[n]
                self.add("auto", g, n, v)
                if isinstance(v, types.ModuleType):
                    self.module_attributes(v, names, 2)
                else:
                    self.follow_value(v)
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                self.code(c, g)

    def module_attributes(self, module, names, depth: int):
        """The attributes of a module the code names (``mylib.softplus``), and of its submodules
        (``np.random.normal``) down to ``depth`` levels."""
        md = vars(module)
        dynamic = "__getattr__" in md and _user_file(getattr(module, "__file__", None) or "<")
        for a in names:
            if a not in md and dynamic:
                # a name the user's module makes in its __getattr__ (PEP 562): read anew on every check
                try:
                    v = getattr(module, a)
                except Exception:  # noqa: BLE001 - not one of its names (AttributeError), or it refuses
                    continue
                self.add("auto", _Fields(module, (a,), module.__name__), a, v)
                self.follow_value(v)
                continue
            if a in md:
                v = md[a]
                self.add("auto", md, a, v)
                if isinstance(v, types.ModuleType):
                    if depth > 1:
                        self.module_attributes(v, names, depth - 1)
                else:
                    self.follow(v)
                    self.follow_contents(v)

    def run(self):
        seen_objects = 0
        while True:
            while self.todo:
                self.function(self.todo.pop())
            # class attributes and attributes of global objects read by name
            for cls in list(self.classes):
                mro = [k for k in cls.__mro__ if _user_class(k)]
                for name in self.names:
                    definer = next((i for i, k in enumerate(mro) if name in k.__dict__), None)
                    if definer is None:
                        continue  # no class defines it: reading it failed or found an instance field
                    for klass in mro[:definer]:  # a subclass defining it later would shadow it
                        self.add("id", _ClassDict(klass), name, _MISSING)
                    self.add("auto", _ClassDict(mro[definer]), name, mro[definer].__dict__[name])
            while seen_objects < len(self.objects):
                obj = self.objects[seen_objects]
                seen_objects += 1
                d = _attribute(obj, "__dict__")
                d = d if type(d) is dict else {}
                slots = _slots(obj)
                if _has_library_methods(type(obj)):
                    self.library_object(obj, d, slots)
                for name in self.names:
                    if name in d or slots.has(name):
                        holder = d if name in d else slots
                        v = holder.get(name)
                        self.add("auto", holder, name, v)
                        # what it leads to: MODEL.sub.W, MODEL.layers[0].W, MODEL.act(x)
                        self.follow_value(v)
            if not self.todo:
                return


def _has_library_methods(cls) -> bool:
    """Whether methods of a library's class (not the user's, not ``object``'s) run on objects of
    ``cls``: then they may read any of the object's fields."""
    r = _LIBRARY_METHODS.get(cls)
    if r is None:
        r = _LIBRARY_METHODS[cls] = any(not _user_class(k) and k is not object and any(
            callable(v) or isinstance(v, (property, staticmethod, classmethod)) for v in vars(k).values())
            for k in cls.__mro__)
    return r


_LIBRARY_METHODS: dict = {}


def _warn_large_object(obj):
    warnings.warn(
        f"yota: the traced code reads a {type(obj).__name__} (a library's object) with more than "
        f"{MAX_CONTAINER} fields in all: yota checks the fields of smaller ones on every call, not of this "
        f"one, so a cached tape will not see them change. Pass what the loss needs as arguments.",
        RuntimeWarning, stacklevel=2)


def _is_iterator(v) -> bool:
    """An iterator or generator (``itertools.count()``, ``iter(xs)``): each ``next`` moves it, and
    where it stands cannot be read, so a tape that took from it cannot be reused. A file or stream
    (``sys.stdout``) is I/O, which runs once, at trace time (documented), not a source of values."""
    t = type(v)
    return hasattr(t, "__next__") and not isinstance(v, (type, types.ModuleType, io.IOBase)) and not is_array(v)


def _attribute(v, name):
    """``getattr(v, name, None)`` that survives an object whose ``__getattr__`` raises another error."""
    try:
        return getattr(v, name, None)
    except Exception:  # noqa: BLE001 - the user's __getattr__; its answer is not needed
        return None


def _user_class(cls) -> bool:
    """A class of the user's code (not a library's or the standard library's)."""
    mod = sys.modules.get(cls.__module__)
    if mod is None or cls.__module__ == "builtins":
        return False
    file = getattr(mod, "__file__", None)
    return file is None or _user_file(file)


class _Holder:
    """What holds a guarded name and is read fresh on every check (a class's namespace, an
    object's slots, a closure cell, a function's defaults): ``get`` and ``[]`` like a dict's, and
    ``ident``, its key in the collector (the holder objects themselves are made anew)."""

    __slots__ = ()

    def __getitem__(self, name):
        v = self.get(name, _MISSING)
        if v is _MISSING:
            raise KeyError(name)
        return v


class _ClassDict(_Holder):
    """A class's namespace as a mapping with ``get`` (mappingproxy is read fresh)."""

    __slots__ = ("cls", "__name__")

    def __init__(self, cls):
        self.cls = cls
        self.__name__ = cls.__qualname__

    @property
    def ident(self):
        return id(self.cls)

    def get(self, name, default=None):
        return self.cls.__dict__.get(name, default)

    def __getitem__(self, name):
        return self.cls.__dict__[name]

    def __eq__(self, other):
        return isinstance(other, _ClassDict) and other.cls is self.cls

    def __hash__(self):
        return hash(self.cls)


class _Fields(_Holder):
    """Attributes of an object as a mapping, read fresh: its slots (``@dataclass(slots=True)``), a
    ``functools.partial``'s ``args`` and ``keywords``, a module's ``__getattr__`` names."""

    __slots__ = ("obj", "names", "__name__")

    def __init__(self, obj, names, label: str):
        self.obj = obj
        self.names = names
        self.__name__ = label

    @property
    def ident(self):
        return ("fields", id(self.obj))

    def has(self, name) -> bool:
        return name in self.names and hasattr(self.obj, name)

    def get(self, name, default=None):
        return getattr(self.obj, name, default) if name in self.names else default


def _slots(obj) -> _Fields:
    return _Fields(obj, slot_names(type(obj)), type(obj).__qualname__)


class _Cell(_Holder):
    """A closure cell as a one-name mapping, read fresh."""

    __slots__ = ("cell", "name", "__name__")

    def __init__(self, cell, name):
        self.cell = cell
        self.name = name
        self.__name__ = "a closure cell"

    @property
    def ident(self):
        return ("cell", id(self.cell))

    def get(self, name, default=None):
        try:
            return self.cell.cell_contents
        except ValueError:
            return default


class _Defaults(_Holder):
    """A function's default values as a mapping (positions and keyword names), read fresh."""

    __slots__ = ("f", "__name__")

    def __init__(self, f):
        self.f = f
        self.__name__ = f"{f.__qualname__}'s defaults"

    @property
    def ident(self):
        return ("defaults", id(self.f))

    def get(self, name, default=None):
        if type(name) is int:
            d = self.f.__defaults__ or ()
            return d[name] if name < len(d) else default
        return (self.f.__kwdefaults__ or {}).get(name, default)


def collect(tree, functions=()) -> Guards:
    """The guards of a call whose (function, arguments) structure is ``tree`` (None: none), and of
    more ``functions`` it ran (the user's rules the trace applied)."""
    c = _Collector()
    c.todo.extend(f for f in functions if isinstance(f, types.FunctionType))
    for obj in (walk_codes(tree) if tree is not None else ()):
        if isinstance(obj, types.FunctionType):
            c.todo.append(obj)
        elif isinstance(obj, type):
            c.add_class(obj)
        else:
            c.follow(obj)
    # object arguments: their classes' attributes (``self.scale`` resolving to ``Model.scale``)
    if tree is not None:
        _classes_of(tree, c)
    c.run()
    return Guards(c.entries)


def _classes_of(node, c: _Collector):
    if type(node) is Obj:
        c.add_class(node.cls)
    if type(node) is Static:
        obj = node.carry.obj if node.carry is not None else node.value
        if node.carry is not None and not isinstance(obj, (tuple, list, dict)) and not _is_value(obj):
            c.add_class(type(obj))
        c.add_state(obj, f"{type(obj).__name__} (an argument)")
        if _is_iterator(obj):
            c.add_never(obj, f"an argument ({type(obj).__name__})")
        if isinstance(node.value, tuple) and hasattr(node.value, "tag"):
            _classes_of(node.value, c)  # a structure without arrays, kept whole (an object's fields)
    for _, ch in children(node):
        _classes_of(ch, c)


def describe(guards: Any) -> str:
    return guards.first_change() if isinstance(guards, Guards) else ""
