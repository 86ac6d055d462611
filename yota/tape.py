"""The tape: a value. Inputs, an SSA list of array-API calls, outputs, the
constant table, and a structured type (shape, dtype, device) for every variable.

A `Tape` is never changed after it is built: passes (`yota/passes/`) return new
tapes, sharing whatever they did not change. `TapeBuilder` is the mutable side
that tracing writes to; ``builder.freeze()`` gives the tape.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, NamedTuple

__all__ = ["Var", "DType", "DeviceOf", "Const", "Op", "Tape", "TapeBuilder", "VarType", "note_text", "CALL", "GUARD",
           "map_args", "iter_vars", "rename_args", "type_of", "dtype_name"]


class VarType(NamedTuple):
    """What a variable holds: ``dtype`` is a standard dtype name (``"float32"``) or,
    for a Python scalar, ``"py:"`` and its type's name (``"py:float"``); ``shape`` entries may be
    None where a lazy library does not know a size; ``device`` is a display string."""

    shape: tuple
    dtype: str
    device: str | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_python(self) -> bool:
        return self.dtype.startswith("py:")

    def __str__(self):
        if self.is_python:
            return self.dtype[3:]
        return f"{self.dtype}[{','.join('?' if s is None else str(s) for s in self.shape)}]"


class Var(int):
    """A reference to a tape variable inside an op's arguments.

    An int underneath, so that the cyclic garbage collector does not track the
    hundreds of thousands a long tape holds (a plain object with a slot would
    be tracked, and every full collection would walk them all). It equals only
    another Var of the same id, never the int."""

    __slots__ = ()  # (and no __new__ of its own: Var(i) stays a C call, made once per op)

    @property
    def id(self) -> int:
        return int(self)

    def __eq__(self, other):
        return type(other) is Var and int.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return int.__hash__(self) * 1000003 + 17

    def __bool__(self):
        return True

    def __repr__(self):
        return f"%{int(self)}"

    def __reduce__(self):
        return (Var, (int(self),))


class DType:
    """A dtype argument, by its standard name: the tape never holds a backend's dtype object."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __eq__(self, other):
        return type(other) is DType and other.name == self.name

    def __hash__(self):
        return hash(("dtype", self.name))

    def __repr__(self):
        return self.name


class DeviceOf:
    """A device argument: "the device that variable %n lives on"."""

    __slots__ = ("var",)

    def __init__(self, var: Var):
        self.var = var

    def __eq__(self, other):
        return type(other) is DeviceOf and other.var == self.var

    def __hash__(self):
        return hash(("device", self.var))

    def __repr__(self):
        return f"device({self.var!r})"


class Const:
    """An entry of the constant table (arrays, callables, numbers that are not plain literals)."""

    __slots__ = ("index", "label")

    def __init__(self, index: int, label: str):
        self.index = index
        self.label = label

    def __eq__(self, other):
        return type(other) is Const and other.index == self.index

    def __hash__(self):
        return hash(("const", self.index))

    def __repr__(self):
        return self.label


CALL, GUARD = "call", "guard"


def note_text(note) -> str:
    """An op's comment as text. A note is a string, or a tuple ``(format, *args)``
    made into text only when the tape is printed (a long trace writes one per op
    and prints none; a tuple of strings and ints is not even tracked by the
    cyclic garbage collector)."""
    if type(note) is tuple:
        return note[0].format(*note[1:])
    return str(note) if note else ""


_NO_KWARGS: dict = {}  # shared by every op without keywords (most of them): ops are never changed in place


class Op:
    """One line of the tape; treat it as immutable (`replace` makes a changed copy).

    ``outs`` are the var ids it defines; ``out_type`` is None for a single
    result, else the container that rebuilds several (tuple, list, a
    namedtuple class). ``fn`` is an array-API name (``"exp"``,
    ``"linalg.solve"``, ``"__getitem__"``, ``"ext.scatter_add"``) or a `Const`
    (a user primitive, a backend's fused kernel). A guard's ``fn`` is its kind
    (``"bool"``, ``"int"``, ``"shape"``...) and ``args`` are (var, expected);
    ``loc`` is the user's file:line that made it.
    """

    __slots__ = ("kind", "outs", "fn", "args", "kwargs", "note", "out_type", "section", "loc", "_uses")

    def __init__(self, kind, outs: tuple, fn=None, args=(), kwargs=None, note="", out_type=None, section="forward",
                 loc=""):
        self.kind = kind
        self.outs = outs
        self.fn = fn
        self.args = args
        self.kwargs = kwargs or _NO_KWARGS
        self.note = note
        self.out_type = out_type
        self.section = section
        self.loc = loc
        self._uses = None

    @property
    def out(self) -> int:
        """The single result of a one-result call."""
        return self.outs[0]

    def replace(self, **changes) -> "Op":
        new = Op(self.kind, self.outs, self.fn, self.args, self.kwargs, self.note, self.out_type, self.section,
                 self.loc)
        for k, v in changes.items():
            setattr(new, k, v)
        if "args" not in changes and "kwargs" not in changes:
            new._uses = self._uses
        return new

    def renamed(self, mapping: dict[int, int]) -> "Op":
        """The op reading ``mapping[v]`` for each variable ``v`` it maps (itself when none)."""
        args, kwargs = rename_args(self.args, mapping), rename_args(self.kwargs, mapping)
        return self if args is self.args and kwargs is self.kwargs else self.replace(args=args, kwargs=kwargs)

    def uses(self) -> list[int]:
        """The variables the op reads, in order (computed once: ops do not change)."""
        u = self._uses
        if u is None:
            u = []
            _collect(self.args, u)
            if self.kwargs:
                _collect(tuple(self.kwargs.values()), u)
            self._uses = u
        return u

    def comment(self) -> str:
        """The op's note as text (see `note_text`)."""
        return note_text(self.note)

    def fn_name(self) -> str:
        return self.fn.label if isinstance(self.fn, Const) else str(self.fn)

    def render(self) -> str:
        if self.kind == GUARD:
            what = "shape" if self.fn == "shape" else self.fn
            return f"guard {what}({_fmt(self.args[0])}) == {self.args[1]!r}"
        lhs = ", ".join(f"%{o}" for o in self.outs) if self.outs else "_"
        parts = [_fmt(a) for a in self.args] + [f"{k}={_fmt(v)}" for k, v in self.kwargs.items()]
        return f"{lhs} = {self.fn_name()}({', '.join(parts)})"

    def __repr__(self):
        return self.render()


# --------------------------------------------------------------------------- the argument grammar
# An op's arguments are Python literals, None, Ellipsis, strings, Var, DType,
# DeviceOf, Const, and tuples / lists / slices / dicts of these. This is the
# one walker over that grammar.

def map_args(x, var_fn: Callable[[Var], Any]):
    """``x`` with every `Var` (including the one inside a `DeviceOf`) replaced by ``var_fn(var)``."""
    t = type(x)
    if t is Var:
        return var_fn(x)
    if t is tuple:
        return tuple(map_args(y, var_fn) for y in x)
    if t is list:
        return [map_args(y, var_fn) for y in x]
    if t is dict:
        return {k: map_args(v, var_fn) for k, v in x.items()}
    if t is slice:
        return slice(map_args(x.start, var_fn), map_args(x.stop, var_fn), map_args(x.step, var_fn))
    if t is DeviceOf:
        v = var_fn(x.var)
        return DeviceOf(v) if type(v) is Var else x
    return x


def _collect(x, found: list) -> None:
    for a in x:
        t = type(a)
        if t is Var:
            found.append(a.id)
        elif t is tuple or t is list:
            _collect(a, found)
        elif t is dict:
            _collect(tuple(a.values()), found)
        elif t is slice:
            _collect((a.start, a.stop, a.step), found)
        elif t is DeviceOf:
            found.append(a.var.id)


def iter_vars(x) -> list[int]:
    found: list[int] = []
    _collect((x,), found)
    return found


def rename_args(x, mapping: dict[int, int]):
    if not mapping:
        return x
    vs: list = []
    _collect((x,), vs)
    if not any(v in mapping for v in vs):
        return x  # the common case: nothing to rename, the same object back
    return map_args(x, lambda v: Var(mapping[v.id]) if v.id in mapping else v)


def _fmt(x) -> str:
    if isinstance(x, tuple):
        inner = ", ".join(_fmt(y) for y in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(y) for y in x) + "]"
    if isinstance(x, slice):
        a = "" if x.start is None else _fmt(x.start)
        b = "" if x.stop is None else _fmt(x.stop)
        return f"{a}:{b}" + ("" if x.step is None else f":{_fmt(x.step)}")
    if x is Ellipsis:
        return "..."
    return repr(x)


# --------------------------------------------------------------------------- the tape

class Tape:
    """Inputs, ops, outputs, constants and variable types; a value.

    ``outputs`` holds `Var`, `Const` or Python literals; the first ``n_value``
    are the function's value, the rest its gradients (or residuals of a split
    tape). ``meta`` carries what `yota.compile` needs to call the tape again;
    passes keep it as it is.
    """

    __slots__ = ("inputs", "input_names", "ops", "outputs", "n_value", "consts", "types", "title", "nvars", "meta")

    def __init__(self, inputs=(), input_names=(), ops=(), outputs=(), n_value=0, consts=(), types=None,
                 title="tape", nvars=0, meta=None):
        self.inputs = tuple(inputs)
        self.input_names = tuple(input_names)
        self.ops = tuple(ops)
        self.outputs = tuple(outputs)
        self.n_value = n_value
        self.consts = tuple(consts)
        self.types = types if types is not None else {}
        self.title = title
        self.nvars = nvars
        self.meta = meta if meta is not None else {}

    def replace(self, **changes) -> "Tape":
        fields = {k: getattr(self, k) for k in Tape.__slots__}
        fields.update(changes)
        return Tape(**fields)

    def with_consts(self, values: Iterable[Any]) -> tuple["Tape", list[Const]]:
        """A tape whose constant table also holds ``values``, and their `Const` handles."""
        consts = list(self.consts)
        handles = []
        for v in values:
            consts.append(v)
            handles.append(Const(len(consts) - 1, _const_label(v, len(consts) - 1)))
        return self.replace(consts=tuple(consts)), handles

    def functions_used(self) -> set:
        return {self.consts[op.fn.index] if isinstance(op.fn, Const) else op.fn
                for op in self.ops if op.kind == CALL}

    def producers(self) -> dict[int, Op]:
        return {o: op for op in self.ops for o in op.outs}

    def use_counts(self) -> dict[int, int]:
        uses: dict[int, int] = {}
        for op in self.ops:
            for v in op.uses():
                uses[v] = uses.get(v, 0) + 1
        for v in iter_vars(self.outputs):
            uses[v] = uses.get(v, 0) + 1
        return uses

    def new_vars(self, n: int) -> tuple["Tape", list[int]]:
        ids = list(range(self.nvars + 1, self.nvars + n + 1))
        return self.replace(nvars=self.nvars + n), ids

    # ------------------------------------------------------------------ printing

    def __repr__(self) -> str:
        return self.render()

    def render(self) -> str:
        lines = [f"Tape: {self.title}"]
        for v, name in zip(self.inputs, self.input_names):
            t = self.types.get(v)
            lines.append(f"  %{v} = input {name}  {t}" if t is not None else f"  %{v} = input {name}")
        current = None
        for op in self.ops:
            if op.section != current:
                current = op.section
                lines.append(f"  # {current}")
            text = "  " + op.render()
            if op.kind == CALL and op.outs:
                spec = ", ".join(str(self.types[o]) for o in op.outs if o in self.types)
                text = f"{text:<44} {spec}"
            if op.note:
                text = f"{text:<64} # {note_text(op.note)}"
            lines.append(text)
        vals = ", ".join(_fmt(o) for o in self.outputs[: self.n_value])
        rest = self.outputs[self.n_value:]
        lines.append(f"  return {vals}" if not rest else f"  return {vals}; grads " + ", ".join(_fmt(o) for o in rest))
        return "\n".join(lines)

    def to_dot(self) -> str:
        """Graphviz DOT source of this tape: ``yota.draw(tape, "tape.svg")`` renders it."""
        from .draw import to_dot  # yota.draw imports nothing from yota: no cycle
        return to_dot(self)


class TapeBuilder:
    """The tape while tracing writes it."""

    def __init__(self, title="f"):
        self.title = title
        self.inputs: list[int] = []
        self.input_names: list[str] = []
        self.ops: list[Op] = []
        self.consts: list[Any] = []
        self._const_ids: dict[int, int] = {}
        self.types: dict[int, VarType] = {}
        self.nvars = 0
        self.vars: list = [None]  # vars[i] is Var(i): one object per variable, however often it is used
        self.section = "forward"

    def new_var(self, vtype: VarType | None = None) -> int:
        self.nvars += 1
        self.vars.append(Var(self.nvars))
        if vtype is not None:
            self.types[self.nvars] = vtype
        return self.nvars

    def add_input(self, name: str, vtype: VarType) -> int:
        v = self.new_var(vtype)
        self.inputs.append(v)
        self.input_names.append(name)
        return v

    def const(self, value, label: str | None = None) -> Const:
        # by identity: the table keeps the object itself (an array is bound, not copied)
        i = self._const_ids.get(id(value))
        if i is None or self.consts[i] is not value:
            self.consts.append(value)
            i = self._const_ids[id(value)] = len(self.consts) - 1
        return Const(i, label or _const_label(value, i))

    def append(self, op: Op) -> Op:
        self.ops.append(op)
        return op

    def freeze(self, outputs=(), n_value=0, meta=None) -> Tape:
        return Tape(self.inputs, self.input_names, self.ops, outputs, n_value, self.consts, dict(self.types),
                    self.title, self.nvars, meta)


def _const_label(value, i) -> str:
    name = getattr(value, "__name__", None)
    if name and callable(value):
        return name
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"${i}:{dtype_name(getattr(value, 'dtype', None))}[{','.join(map(str, shape))}]"
    if isinstance(value, (int, float, complex)):
        return repr(value)
    return f"${i}"


DTYPE_NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float32", "float64", "complex64", "complex128")  # the standard's


_NAME_OF: dict = {}


def dtype_name(dtype) -> str:
    """The standard name of any library's dtype object (``float32``)."""
    if dtype is None:
        return ""
    # keyed with the type first, so that one library's dtype is never compared with another's
    # (array-api-strict warns on that comparison)
    key = (type(dtype), dtype)
    try:
        hit = _NAME_OF.get(key)
    except TypeError:
        hit = None
    if hit is not None:
        return hit
    out = _dtype_name(dtype)
    try:
        if len(_NAME_OF) < 256:
            _NAME_OF[key] = out
    except TypeError:
        pass
    return out


def _dtype_name(dtype) -> str:
    name = getattr(dtype, "name", None)
    if isinstance(name, str) and name in DTYPE_NAMES:
        return name
    text = str(dtype)
    tail = text.rsplit(".", 1)[-1].strip("'\"<>")
    return tail if tail in DTYPE_NAMES else text


_new_type = tuple.__new__  # VarType(...) without the generated __new__'s Python frame: once per op


_TYPES: dict = {}  # (shape, id(dtype)) -> (dtype, VarType): the dtype kept, so that its id stays its own


def type_of(value) -> VarType:
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return _new_type(VarType, ((), "py:" + type(value).__name__, None))
    raw = getattr(value, "shape", ())
    key = (raw, id(dtype))
    try:
        hit = _TYPES.get(key)
    except TypeError:  # a shape that does not hash
        return _type_of(raw, dtype)
    if hit is not None and hit[0] is dtype:
        return hit[1]
    vt = _type_of(raw, dtype)
    if len(_TYPES) >= 4096:
        _TYPES.clear()
    _TYPES[key] = (dtype, vt)
    return vt


def _type_of(raw, dtype) -> VarType:
    try:
        shape = tuple(map(int, raw))
    except (TypeError, ValueError):  # unknown sizes (None, nan) of a lazy library
        shape = tuple(None if (s is None or s != s) else int(s) for s in raw)
    return _new_type(VarType, (shape, dtype_name(dtype), None))
