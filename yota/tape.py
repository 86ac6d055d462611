"""The tape: an SSA list of array-API calls, its printing and its passes."""
from __future__ import annotations

from typing import Any, Iterable

__all__ = ["Var", "DType", "DeviceOf", "Const", "Op", "Tape"]


class Var:
    """A reference to a tape variable inside an op's arguments."""

    __slots__ = ("id",)

    def __init__(self, id: int):
        self.id = id

    def __eq__(self, other):
        return isinstance(other, Var) and other.id == self.id

    def __hash__(self):
        return hash(("var", self.id))

    def __repr__(self):
        return f"%{self.id}"


class DType:
    """A dtype argument, by its standard name: the tape never holds a backend's dtype object."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, DType) and other.name == self.name

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
        return isinstance(other, DeviceOf) and other.var == self.var

    def __hash__(self):
        return hash(("device", self.var))

    def __repr__(self):
        return f"device({self.var!r})"


class Const:
    """An entry of the constant table (arrays, callables, anything that is not a literal)."""

    __slots__ = ("index", "label")

    def __init__(self, index: int, label: str):
        self.index = index
        self.label = label

    def __eq__(self, other):
        return isinstance(other, Const) and other.index == self.index

    def __hash__(self):
        return hash(("const", self.index))

    def __repr__(self):
        return self.label


# Op kinds
INPUT, CALL, GUARD = "input", "call", "guard"


class Op:
    """One line of the tape.

    ``out`` is a var id, or a tuple of var ids for calls returning several arrays
    (``out_type`` then rebuilds namedtuples). ``fn`` is an array-API name
    (``"exp"``, ``"linalg.solve"``, ``"__getitem__"``, ``"ext.scatter_add"``) or a
    `Const` for a user primitive.
    """

    __slots__ = ("kind", "out", "fn", "args", "kwargs", "spec", "note", "out_type", "section")

    def __init__(self, kind, out, fn=None, args=(), kwargs=None, spec="", note="", out_type=None, section=0):
        self.kind = kind
        self.out = out
        self.fn = fn
        self.args = args
        self.kwargs = kwargs or {}
        self.spec = spec
        self.note = note
        self.out_type = out_type
        self.section = section

    @property
    def outs(self) -> tuple:
        return self.out if isinstance(self.out, tuple) else (self.out,)

    def uses(self) -> list[int]:
        found: list[int] = []
        _collect(self.args, found)
        _collect(tuple(self.kwargs.values()), found)
        return found

    def fn_name(self) -> str:
        return self.fn.label if isinstance(self.fn, Const) else str(self.fn)

    def __repr__(self):
        return self.render()

    def render(self) -> str:
        if self.kind == INPUT:
            return f"%{self.out} = input {self.fn}"
        if self.kind == GUARD:
            if self.fn == "shape":
                return f"guard shape({_fmt(self.args[0])}) == {self.args[1]!r}"
            return f"guard {self.fn}({_fmt(self.args[0])}) == {self.args[1]!r}"
        lhs = ", ".join(f"%{o}" for o in self.outs)
        parts = [_fmt(a) for a in self.args] + [f"{k}={_fmt(v)}" for k, v in self.kwargs.items()]
        return f"{lhs} = {self.fn_name()}({', '.join(parts)})"


def _collect(x, found):
    if isinstance(x, Var):
        found.append(x.id)
    elif isinstance(x, DeviceOf):
        found.append(x.var.id)
    elif isinstance(x, (tuple, list)):
        for y in x:
            _collect(y, found)
    elif isinstance(x, slice):
        _collect((x.start, x.stop, x.step), found)
    elif isinstance(x, dict):
        _collect(tuple(x.values()), found)


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


class Tape:
    """Inputs, ops, outputs, and the constant table.

    ``outputs`` is a flat list whose items are `Var`, `Const` or Python scalars;
    ``n_value`` of them are the function's value leaves, the rest gradients.
    """

    def __init__(self):
        self.ops: list[Op] = []
        self.inputs: list[int] = []
        self.input_names: list[str] = []
        self.consts: list[Any] = []
        self.outputs: list[Any] = []
        self.n_value = 0
        self.title = "tape"
        self.nvars = 0
        self.section = 0  # 0 forward, 1 backward
        self.types: dict[int, tuple] = {}  # var -> (shape, dtype name), for the passes
        # set by api: everything needed to call the tape again
        self.meta: dict = {}

    def new_var(self) -> int:
        self.nvars += 1
        return self.nvars

    def const(self, value, label: str | None = None) -> Const:
        for i, c in enumerate(self.consts):
            if c is value:
                return Const(i, label or _const_label(value, i))
        self.consts.append(value)
        i = len(self.consts) - 1
        return Const(i, label or _const_label(value, i))

    def functions_used(self) -> set:
        return {op.fn if not isinstance(op.fn, Const) else self.consts[op.fn.index]
                for op in self.ops if op.kind == CALL}

    # ------------------------------------------------------------------ passes

    def eliminate_dead_code(self) -> None:
        live = set()
        _collect(tuple(self.outputs), found := [])
        live.update(found)
        kept = []
        for op in reversed(self.ops):
            if op.kind == GUARD or op.kind == INPUT or any(o in live for o in op.outs):
                kept.append(op)
                live.update(op.uses())
        kept.reverse()
        self.ops = kept

    def simplify(self) -> None:
        """Fold arrays known to hold one repeated value (the seed of a scalar
        output, its broadcasts, and their scalar multiples) into the ops that use
        them, when that leaves the other operand's shape and dtype unchanged:
        ``ones * g`` becomes ``g``, ``full(1.01) * g`` becomes ``g * 1.01``."""
        fill: dict[int, float] = {}
        rename: dict[int, int] = {}
        kept = []
        types = self.types
        for op in self.ops:
            if rename:
                op.args = _rename(op.args, rename)
                op.kwargs = {k: _rename(v, rename) for k, v in op.kwargs.items()}
            if op.kind == CALL and not isinstance(op.out, tuple):
                fn, args = op.fn, op.args
                a0 = args[0] if args else None
                if fn == "ones_like" or fn == "ones":
                    fill[op.out] = 1.0
                elif fn in _SHAPE_ONLY and isinstance(a0, Var) and a0.id in fill and not op.kwargs.get("dtype"):
                    fill[op.out] = fill[a0.id]
                elif fn in ("multiply", "add", "subtract") and len(args) == 2 and not op.kwargs:
                    folded = _fold(op, args, fill, types)
                    if folded is not None:
                        if isinstance(folded, Var):
                            rename[op.out] = folded.id
                            continue
                        if isinstance(folded, float):
                            fill[op.out] = folded
                        else:
                            op.fn, op.args = folded
            kept.append(op)
        self.ops = kept
        if rename:
            self.outputs = [_rename(o, rename) for o in self.outputs]

    def factor(self) -> None:
        """Factor a cotangent out of sums of its multiples, the shape that the
        product rule leaves behind: ``g*a + (g*b)*c`` becomes ``g*(a + c*b)``,
        one pass over the data fewer per accumulation (for same-typed arrays)."""
        uses: dict[int, int] = {}
        for op in self.ops:
            for v in op.uses():
                uses[v] = uses.get(v, 0) + 1
        for v in iter_vars(tuple(self.outputs)):
            uses[v] = uses.get(v, 0) + 1
        producer = {op.out: op for op in self.ops if op.kind == CALL and not isinstance(op.out, tuple)}
        types = self.types
        out_ops: list[Op] = []

        def single_mul(x):
            op = producer.get(x.id) if isinstance(x, Var) else None
            if op is not None and op.fn == "multiply" and not op.kwargs and uses.get(x.id) == 1:
                return op
            return None

        def same(*xs):
            t = [types.get(x.id) if isinstance(x, Var) else "scalar" for x in xs]
            full = [u for u in t if u != "scalar"]
            return all(u == full[0] for u in full) and None not in full

        def new(fn, args, like):
            v = self.new_var()
            types[v] = types[like]
            base = producer.get(like)
            op = Op(CALL, v, fn, args, None, base.spec if base else "", "factored", None, 1)
            out_ops.append(op)
            return Var(v)

        def multiple_of(x):
            """x == g * k: (g, k, ops to drop) with k an array, a scalar, or ("times", b, c)."""
            m = single_mul(x)
            if m is None:
                return None
            g, k = m.args
            inner = single_mul(g)
            if inner is not None and isinstance(k, Var) and type(inner.args[1]) in (int, float):
                return inner.args[0], ("times", inner.args[1], k), (m, inner)
            return g, k, (m,)

        for op in self.ops:
            if op.kind == CALL and op.fn == "add" and not op.kwargs and len(op.args) == 2:
                x, y = multiple_of(op.args[0]), multiple_of(op.args[1])
                if x is not None and y is not None and isinstance(x[0], Var) and x[0] == y[0]:
                    ks = []
                    for k in (x[1], y[1]):
                        if isinstance(k, tuple):
                            ks.append(("times", k))
                        else:
                            ks.append(k)
                    arrays = [k for k in ks if isinstance(k, Var)] + [k[1][2] for k in ks if isinstance(k, tuple)]
                    scalars_ok = all(isinstance(k, (Var, tuple)) or type(k) in (int, float) for k in ks)
                    if scalars_ok and arrays and same(x[0], Var(op.out), *arrays):
                        terms = [new("multiply", (k[1][2], k[1][1]), op.out) if isinstance(k, tuple) else k
                                 for k in ks]
                        total = new("add", tuple(terms), op.out)
                        for dead in x[2] + y[2]:
                            dead.kind = "dead"
                        op.fn, op.args = "multiply", (x[0], total)
            out_ops.append(op)
        self.ops = [op for op in out_ops if op.kind != "dead"]

    def eliminate_common_subexpressions(self) -> None:
        """Replace repeated identical calls by the first one's result."""
        seen: dict = {}
        rename: dict[int, int] = {}
        kept = []
        for op in self.ops:
            if rename:
                op.args = _rename(op.args, rename)
                op.kwargs = {k: _rename(v, rename) for k, v in op.kwargs.items()}
            if op.kind == CALL:
                try:
                    key = (op.fn, _hashable(op.args), _hashable(tuple(op.kwargs.items())))
                    prev = seen.get(key)
                except TypeError:
                    key = prev = None
                if prev is not None and len(prev.outs) == len(op.outs):
                    for a, b in zip(op.outs, prev.outs):
                        rename[a] = b
                    continue
                if key is not None:
                    seen[key] = op
            kept.append(op)
        self.ops = kept
        if rename:
            self.outputs = [_rename(o, rename) for o in self.outputs]

    # ------------------------------------------------------------------ printing

    def __repr__(self) -> str:
        return self.render()

    def render(self) -> str:
        lines = [f"Tape: {self.title}"]
        for v, name in zip(self.inputs, self.input_names):
            lines.append(f"  %{v} = input {name}")
        header = {0: "  # forward", 1: "  # backward"}
        current = None
        body = []
        for op in self.ops:
            if op.kind == INPUT:
                continue
            if op.section != current:
                current = op.section
                body.append(header[current])
            text = "  " + op.render()
            if op.spec:
                text = f"{text:<44} {op.spec}"
            if op.note:
                text = f"{text:<64} # {op.note}"
            body.append(text)
        lines += body
        vals = ", ".join(_fmt(o) for o in self.outputs[: self.n_value])
        lines.append(f"  return {vals}" if self.n_value == len(self.outputs) else
                     f"  return {vals}; grads " + ", ".join(_fmt(o) for o in self.outputs[self.n_value:]))
        return "\n".join(lines)


def _fold(op, args, fill, types):
    """The simpler form of a binary op with a filled operand: a Var (the op is
    the identity), a float (the result is filled too), an (fn, args) pair, or None."""
    x, y = args
    fx = fill.get(x.id) if isinstance(x, Var) else (float(x) if type(x) in (int, float) else None)
    fy = fill.get(y.id) if isinstance(y, Var) else (float(y) if type(y) in (int, float) else None)
    fn = op.fn
    if fx is not None and fy is not None:
        if isinstance(x, Var) or isinstance(y, Var):
            return {"multiply": fx * fy, "add": fx + fy, "subtract": fx - fy}[fn]
        return None
    if fx is None and fy is None:
        return None
    var, c = (y, fx) if fx is not None else (x, fy)
    if not isinstance(var, Var) or types.get(var.id) != types.get(op.out):
        return None
    if fn == "multiply":
        return var if c == 1.0 else ("multiply", (var, c))
    if fn == "add":
        return var if c == 0.0 else ("add", (var, c))
    if fx is not None:  # c - var
        return ("subtract", (c, var))
    return var if c == 0.0 else ("subtract", (var, c))


_SHAPE_ONLY = {"reshape", "broadcast_to", "astype", "expand_dims", "permute_dims", "matrix_transpose",
               "squeeze"}


def _const_label(value, i) -> str:
    name = getattr(value, "__name__", None)
    if name and callable(value):
        return name
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"${i}:{getattr(value, 'dtype', '')}[{','.join(map(str, shape))}]"
    return f"${i}"


def _rename(x, m):
    if isinstance(x, Var):
        r = m.get(x.id)
        return x if r is None else Var(r)
    if isinstance(x, DeviceOf):
        return DeviceOf(_rename(x.var, m))
    if isinstance(x, tuple):
        return tuple(_rename(y, m) for y in x)
    if isinstance(x, list):
        return [_rename(y, m) for y in x]
    if isinstance(x, slice):
        return slice(_rename(x.start, m), _rename(x.stop, m), _rename(x.step, m))
    return x


def _hashable(x):
    if isinstance(x, list):
        return ("list", tuple(_hashable(y) for y in x))
    if isinstance(x, tuple):
        return tuple(_hashable(y) for y in x)
    if isinstance(x, slice):
        return ("slice", _hashable(x.start), _hashable(x.stop), _hashable(x.step))
    if isinstance(x, float) and x != x:
        return ("nan",)
    hash(x)
    return (type(x), x) if isinstance(x, (int, float, bool, complex)) else x


def type_of(value) -> tuple:
    dtype = getattr(value, "dtype", None)
    return (tuple(getattr(value, "shape", ())), str(dtype) if dtype is not None else type(value).__name__)


def spec_of(value) -> str:
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return type(value).__name__
    name = getattr(dtype, "name", None) or str(dtype)
    name = name.replace("array_api_strict.", "")
    shape = getattr(value, "shape", ())
    return f"{name}[{','.join('?' if s is None or s != s else str(s) for s in shape)}]"


def iter_vars(x) -> Iterable[int]:
    found: list[int] = []
    _collect(x, found)
    return found
