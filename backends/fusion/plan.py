"""Elementwise fusion, the planner: which ops of a tape fuse into one kernel.

``plan(tape, can_emit)`` walks a tape (a straight-line SSA list, dead code
already gone) and groups elementwise calls into *regions*;
``rewrite(tape, plan, make_call)`` returns a new tape in which each region is
one call of ``make_call(region)`` (a constant-table entry, emitted by codegen as
``k<i>(inputs...)``). What a region becomes is an emitter's business
(`emitter.py`): CUDA C for CuPy (`cuda.py`), numexpr programs for NumPy
(`numexpr.py`); tests run regions with a NumPy interpreter over
``Region.exprs``. Nothing here imports an array library or writes code.

What fuses
----------
An op is a member when the op table says it is elementwise
(``yota.ops.lookup(name).elementwise``) or it is one of the few ops that are
elementwise in effect though the table files them elsewhere (``where``,
``astype``, ``broadcast_to`` as the identity, ``ones_like`` / ``zeros_like`` /
``full_like`` as constants); the planner knows its NumPy type rule (the
computation dtype ``ct`` below); its dtypes are real or bool; and the
emitter's ``can_emit(expr)`` accepts it. Anything else stays a plain call.

Regions
-------
* A region has one iteration shape ``S``: every value it hands out (its
  outputs) has shape ``S``; its inputs are the values it reads from outside,
  each broadcastable to ``S`` (the kernel broadcasts them against
  preallocated outputs of shape ``S``).
* A value of a smaller shape that is used only by the region (``log`` of a
  row sum feeding ``Z - log(...)``) is computed inside the kernel, once per
  element of ``S`` (cheap elementwise work instead of a call and a round
  trip through memory).
* A member's value is an output when it is used outside the region or
  returned by the tape; everything else stays inside the kernel.
* Reductions, matmuls, indexing, reshapes, user primitives and ops the
  emitter cannot express end regions. A region whose value was consumed by
  such an op is closed: later elementwise ops start a new region rather than
  growing it (that keeps backward-pass work out of forward kernels). A guard
  closes every region.
* Merging never makes a cycle: contracting a region must not put a node
  outside it both before and after it (checked with ancestor bit sets).
* Regions with fewer than ``min_ops`` compute ops, or fewer than
  ``min_size`` elements, stay as plain calls; a region with more than
  ``max_params`` inputs + outputs (a long chain hands out every value its
  backward pass needs) is cut, in tape order, into kernels within that bound.

Numerics: each member computes in the dtype NumPy's rules give (``Expr.ct``)
and yields ``Expr.dtype``; Python scalars take the array operand's dtype
(``x * 1.01`` with float32 ``x`` multiplies by ``float32(1.01)``, as NumPy
does). Emitters must reproduce exactly that.
"""
from __future__ import annotations

import hashlib
import heapq
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from yota import ops as _ops
from yota.tape import CALL, GUARD, Const, Op, Tape, Var, iter_vars

__all__ = ["plan", "rewrite", "region_tape", "Plan", "Region", "Expr", "parse_spec", "DTYPES", "CATEGORY",
           "promote", "kind_of"]

# --------------------------------------------------------------------------- dtypes

#: the dtypes the planner knows NumPy's promotion rules for
DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64")
_FLOATS = ("float32", "float64")
_INT_RANGE = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
_UINT_RANGE = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}


def kind_of(dt: str) -> str:
    """``"b"`` (bool), ``"i"`` (signed), ``"u"`` (unsigned) or ``"f"`` (float)."""
    if dt == "bool":
        return "b"
    if dt in _FLOATS:
        return "f"
    return "u" if dt.startswith("u") else "i"


def _bits(dt: str) -> int:
    return {"bool": 1, "float32": 32, "float64": 64}.get(dt) or _INT_RANGE.get(dt) or _UINT_RANGE[dt]


def promote(a: str, b: str) -> str:
    """NumPy's result type of two array dtypes (the array API's table, plus
    NumPy's answers for mixed kinds)."""
    if a == b:
        return a
    ka, kb = kind_of(a), kind_of(b)
    if ka == "b":
        return b
    if kb == "b":
        return a
    if ka == kb:
        return a if _bits(a) >= _bits(b) else b
    if "f" in (ka, kb):
        f, other = (a, b) if ka == "f" else (b, a)
        if f == "float64" or _bits(other) >= 32:
            return "float64"
        return "float32"
    # signed with unsigned
    s, u = (a, b) if ka == "i" else (b, a)
    if _bits(s) > _bits(u):
        return s
    return {8: "int16", 16: "int32", 32: "int64"}.get(_bits(u), "float64")


_SPEC = re.compile(r"^(\w+)\[([^\]]*)\]$")


def parse_spec(spec: str):
    """``"float32[256,10]"`` -> ``("float32", (256, 10))``; None for non-arrays or unknown sizes."""
    m = _SPEC.match(spec.strip())
    if not m:
        return None
    dims = m.group(2)
    try:
        shape = tuple(int(d) for d in dims.split(",")) if dims else ()
    except ValueError:
        return None
    return m.group(1), shape


def _broadcasts_to(s: tuple, target: tuple) -> bool:
    if len(s) > len(target):
        return False
    return all(a == 1 or a == b for a, b in zip(reversed(s), reversed(target)))


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


# --------------------------------------------------------------------------- what fuses

#: name -> the type rule that gives a member's computation dtype ``ct``:
#:   arith    ct = output dtype, operands cast to ct
#:   cmp      ct = promoted operand dtype (and literal kinds), output bool
#:   logic    operands as bool
#:   bitwise  integers and bools only
#:   math1/2  float-only functions, ct = output dtype
#:   round    floats rounded, integers unchanged
#:   special  one rule each (see _classify)
CATEGORY: dict[str, str] = {
    **{n: "arith" for n in ("add", "subtract", "multiply", "divide", "negative", "positive", "square")},
    **{n: "cmp" for n in ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal")},
    **{n: "logic" for n in ("logical_and", "logical_or", "logical_xor", "logical_not")},
    **{n: "bitwise" for n in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_invert")},
    **{n: "math1" for n in ("exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "cbrt",
                            "sin", "cos", "tan", "asin", "acos", "atan",
                            "sinh", "cosh", "tanh", "asinh", "acosh", "atanh")},
    **{n: "round" for n in ("floor", "ceil", "trunc", "round")},
    **{n: "math2" for n in ("atan2", "hypot", "copysign")},
    **{n: "special" for n in ("pow", "abs", "sign", "reciprocal", "maximum", "minimum", "clip", "where",
                              "astype", "isnan", "isinf", "isfinite", "signbit", "broadcast_to",
                              "ones_like", "zeros_like", "full_like")},
}

# Elementwise in effect, though the op table files them under another family.
_STRUCTURAL = frozenset({"where", "astype", "broadcast_to", "ones_like", "zeros_like", "full_like"})

# Ops that cost nothing in a kernel: they do not count towards ``min_ops``.
_FREE = {"broadcast_to", "positive", "ones_like", "zeros_like", "full_like"}


def _elementwise(name: str) -> bool:
    if name in _STRUCTURAL:
        return True
    entry = _ops.lookup(name)
    return entry is not None and entry.elementwise


@dataclass
class Expr:
    """One member of a region: ``var = fn(*operands)`` computed in dtype ``ct``.

    Operands are ``("v", var_id)`` (a value of the tape), ``("k", scalar)`` (a
    literal) or ``None`` (an absent optional, e.g. clip's max); ``odtypes``
    holds each operand's dtype (None for literals and absent ones)."""

    var: int
    fn: str
    operands: tuple
    dtype: str
    shape: tuple
    ct: str
    odtypes: tuple = ()


@dataclass
class Region:
    id: int
    shape: tuple
    exprs: list = field(default_factory=list)
    positions: list = field(default_factory=list)  # indices into tape.ops
    inputs: list = field(default_factory=list)     # var ids read from outside, in order
    outputs: list = field(default_factory=list)    # var ids handed out, in tape order
    dtypes: dict = field(default_factory=dict)     # var id -> dtype name (inputs, members)
    shapes: dict = field(default_factory=dict)     # var id -> shape (inputs)
    name: str = ""                                 # from what it computes, not its shape

    @property
    def fns(self) -> list:
        return [e.fn for e in self.exprs]

    def __repr__(self):
        return (f"Region({self.name}, shape={self.shape}, ops={self.fns}, in={['%' + str(v) for v in self.inputs]}, "
                f"out={['%' + str(v) for v in self.outputs]})")


@dataclass
class Plan:
    regions: list
    order: list  # items: ("op", position) or ("region", Region), a valid execution order
    n_ops: int

    def describe(self) -> str:
        lines = [f"fusion plan: {len(self.regions)} kernels for "
                 f"{sum(len(r.exprs) for r in self.regions)} of {self.n_ops} ops"]
        for r in self.regions:
            lines.append(f"  {r!r}")
        return "\n".join(lines)

    def __repr__(self):
        return self.describe()


# --------------------------------------------------------------------------- classification

def _var_info(tape: Tape) -> dict:
    """var -> (dtype name, shape) from the tape's types (None where not an array)."""
    return {v: (None if t.is_python else (t.dtype, t.shape)) for v, t in tape.types.items()}


def _scalar(x, consts):
    """A literal operand as a Python scalar, or raise ValueError."""
    if isinstance(x, Const):
        x = consts[x.index]
    if isinstance(x, bool):
        return bool(x)
    if isinstance(x, int):
        if not -(1 << 63) <= x < (1 << 64):
            raise ValueError("integer literal out of range")
        return int(x)
    if isinstance(x, float):
        return float(x)  # also np.float64, a float subclass
    # NumPy scalars (0-d, with a dtype): take their Python value
    if hasattr(x, "dtype") and getattr(x, "shape", None) == () and hasattr(x, "item") \
            and type(x).__module__.split(".")[0] == "numpy":
        v = x.item()
        if isinstance(v, (bool, int, float)):
            return v
    raise ValueError("not a literal")


def _classify(op: Op, info: dict, consts: list):
    """The Expr of an op the planner knows how to fuse, or None."""
    if op.kind != CALL or not isinstance(op.fn, str) or op.out_type is not None or len(op.outs) != 1:
        return None
    fn = op.fn
    cat = CATEGORY.get(fn)
    if cat is None or not _elementwise(fn):
        return None
    out = info.get(op.out)
    if out is None:
        return None
    dt, shape = out
    if dt not in DTYPES:
        return None
    args = list(op.args)
    kwargs = dict(op.kwargs)
    if fn == "broadcast_to":
        if kwargs or len(args) != 2:
            return None
        args = args[:1]
    elif fn == "astype":
        kwargs.pop("copy", None)
        if kwargs or len(args) != 2:
            return None
        args = args[:1]
    elif fn in ("ones_like", "zeros_like"):
        kwargs.pop("dtype", None)
        if kwargs or len(args) != 1:
            return None
        return Expr(op.out, fn, (), dt, shape, dt, ())
    elif fn == "full_like":
        kwargs.pop("dtype", None)
        fill = kwargs.pop("fill_value", args[1] if len(args) > 1 else None)
        if kwargs or len(args) > 2 or fill is None:
            return None
        try:
            return Expr(op.out, fn, (("k", _scalar(fill, consts)),), dt, shape, dt, (None,))
        except ValueError:
            return None
    elif fn == "clip":
        lo = kwargs.pop("min", args[1] if len(args) > 1 else None)
        hi = kwargs.pop("max", args[2] if len(args) > 2 else None)
        if kwargs or len(args) > 3:
            return None
        args = [args[0], lo, hi]
    elif kwargs:
        return None
    operands = []
    odtypes = []
    for a in args:
        if a is None and fn == "clip":
            operands.append(None)
            odtypes.append(None)
            continue
        if isinstance(a, Var):
            ai = info.get(a.id)
            if ai is None or ai[0] not in DTYPES or not _broadcasts_to(ai[1], shape):
                return None
            operands.append(("v", a.id))
            odtypes.append(ai[0])
            continue
        try:
            operands.append(("k", _scalar(a, consts)))
        except ValueError:
            return None
        odtypes.append(None)
    arr_dts = [d for d in odtypes if d is not None]
    if not arr_dts:
        return None
    ct = dt
    if cat == "cmp":
        if dt != "bool":
            return None
        ct = arr_dts[0]
        for d in arr_dts[1:]:
            ct = promote(ct, d)
        # A Python scalar of a higher kind compares in that kind (NumPy: int array > 0.5)
        lits = [o[1] for o in operands if o and o[0] == "k"]
        if any(isinstance(v, float) for v in lits) and kind_of(ct) != "f":
            ct = "float64"
        elif any(isinstance(v, int) and not isinstance(v, bool) for v in lits) and ct == "bool":
            ct = "int64"
    elif cat == "logic":
        ct = "bool"
    elif cat in ("math1", "math2"):
        if dt not in _FLOATS:
            return None
    elif cat == "bitwise":
        if kind_of(dt) == "f":
            return None
    elif fn in ("isnan", "isinf", "isfinite", "signbit"):
        ct = arr_dts[0]
    elif fn in ("pow", "reciprocal"):
        if dt not in _FLOATS:
            return None
    elif fn in ("abs", "sign") and dt == "bool":
        return None
    if cat == "arith" and dt == "bool" and fn in ("subtract", "negative", "divide"):
        return None
    return Expr(op.out, fn, tuple(operands), dt, shape, ct, tuple(odtypes))


# --------------------------------------------------------------------------- grouping

class _R:
    __slots__ = ("id", "shape", "members", "bits", "anc", "prods", "closed", "parent")

    def __init__(self, rid, shape):
        self.id = rid
        self.shape = shape
        self.members: list[int] = []   # positions
        self.bits = 1 << rid
        self.anc = 0                   # bits of regions this one depends on (transitively)
        self.prods: set = set()        # producer nodes of outside operands
        self.closed = False
        self.parent = rid


def _numel(shape) -> int:
    n = 1
    for s in shape:
        if s is None:
            return 1 << 62  # unknown: as large as can be
        n *= s
    return n


def plan(tape: Tape, can_emit: Callable[[Expr], bool] | None = None, *, min_ops: int = 2, max_params: int = 48,
         min_size: int = 0) -> Plan:
    """Group the tape's elementwise ops into regions; see the module docstring.

    ``can_emit(expr)`` says whether the backend's kernels can express a member
    (None: everything the planner knows); ``max_params`` bounds a kernel's
    inputs + outputs (larger regions are cut); regions of fewer than
    ``min_size`` elements stay as plain calls."""
    ops = tape.ops
    info = _var_info(tape)
    exprs = []
    for op in ops:
        t = info.get(op.outs[0]) if op.outs else None
        if min_size and (t is None or _numel(t[1]) < min_size):
            exprs.append(None)  # too small to be worth a kernel: not even classified (long tapes of small ops)
            continue
        e = _classify(op, info, tape.consts)
        exprs.append(e if e is not None and (can_emit is None or can_emit(e)) else None)
    if sum(e is not None for e in exprs) < max(min_ops, 1):
        return Plan([], [("op", i) for i in range(len(ops))], sum(1 for op in ops if op.kind == CALL))
    users: dict[int, list[int]] = {}
    for i, op in enumerate(ops):
        for v in op.uses():
            users.setdefault(v, []).append(i)
    returned = set(iter_vars(tuple(tape.outputs)))

    regions: list[_R] = []

    def find(rid):
        while regions[rid].parent != rid:
            regions[rid].parent = regions[regions[rid].parent].parent
            rid = regions[rid].parent
        return rid

    # node of a var: ("R", rid) for a fused value, ("O", pos) for another op's, None for inputs
    producer: dict[int, tuple] = {}
    op_anc: dict[int, int] = {}
    member_of: dict[int, int] = {}  # position -> region id (before find)

    def node(v):
        p = producer.get(v)
        if p is None:
            return None
        if p[0] == "O":
            return p
        return ("R", find(p[1]))

    def anc_bits(n):
        """(ancestor bits, own bits) of a node; region ids may be stale (merged)."""
        if n is None:
            return 0, 0
        if n[0] == "O":
            return op_anc[n[1]], 0
        r = regions[find(n[1])]
        return r.anc, r.bits

    def propagate(r: _R):
        # Everything that depends on r now depends on r's ancestors too.
        for pos, a in op_anc.items():
            if a & r.bits and (a | r.anc) != a:
                op_anc[pos] = a | r.anc
        for q in regions:
            if q.parent == q.id and q is not r and q.anc & r.bits and (q.anc | r.anc) != q.anc:
                q.anc |= r.anc

    def close_all():
        for q in regions:
            q.closed = True

    for i, op in enumerate(ops):
        e = exprs[i]
        if e is None:
            a = 0
            for v in op.uses():
                n = node(v)
                if n is None:
                    continue
                na, nb = anc_bits(n)
                a |= na | nb
                if n[0] == "R":
                    regions[n[1]].closed = True
            op_anc[i] = a
            for o in op.outs:
                producer[o] = ("O", i)
            if op.kind == GUARD:
                close_all()
            continue
        # candidate regions: open ones holding an operand
        S = e.shape
        joins, absorbs = [], []
        for o in e.operands:
            if not o or o[0] != "v":
                continue
            n = node(o[1])
            if n is None or n[0] != "R":
                continue
            r = regions[n[1]]
            if r in joins or r in absorbs:
                continue
            if r.shape == S and not r.closed:
                joins.append(r)
            elif r.shape != S and _broadcasts_to(r.shape, S) and _absorbable(r, i, ops, users, returned):
                absorbs.append(r)
        chosen: list[_R] = []
        for r in joins + absorbs:
            if _acyclic(chosen + [r], e, node, anc_bits):
                chosen.append(r)
        if chosen:
            root = chosen[0]
            for r in chosen[1:]:
                r.parent = root.id
                root.members += r.members
                root.bits |= r.bits
                root.prods |= r.prods
                root.closed = root.closed or r.closed
            root.shape = S
        else:
            root = _R(len(regions), S)
            regions.append(root)
        root.members.append(i)
        member_of[i] = root.id
        producer[e.var] = ("R", root.id)
        for o in e.operands:
            if o and o[0] == "v":
                n = node(o[1])
                if n is not None:
                    root.prods.add(n)
        root.prods = {n if n[0] == "O" else ("R", find(n[1])) for n in root.prods}
        root.prods.discard(("R", root.id))
        a = 0
        for n in root.prods:
            na, nb = anc_bits(n)
            a |= na | nb
        a &= ~root.bits
        if a != root.anc or len(chosen) > 1:
            root.anc = a
            propagate(root)

    # ---------------------------------------------------------------- finish regions
    groups: dict[int, list[int]] = {}
    for pos, rid in member_of.items():
        groups.setdefault(find(rid), []).append(pos)
    out_regions = []
    fused_pos: dict[int, Region] = {}
    chunks = []
    for rid, positions in groups.items():
        positions.sort()
        chunks += _split(positions, exprs, users, returned, regions[rid].shape, max_params)
    for positions, shape in sorted(chunks, key=lambda c: c[0][0]):
        members = [exprs[p] for p in positions]
        if sum(1 for m in members if m.fn not in _FREE) < min_ops or _size(shape) < min_size:
            continue
        region = _finish_region(len(out_regions), shape, positions, members, info, users, returned, ops)
        if region is None:
            continue
        out_regions.append(region)
        for p in positions:
            fused_pos[p] = region

    order = _schedule(ops, fused_pos)
    return Plan(out_regions, order, sum(1 for op in ops if op.kind == CALL))


def _split(positions, exprs, users, returned, shape, limit):
    """Cut a region, in tape order, into pieces of at most ``limit`` kernel
    parameters (inputs + outputs): a kernel's parameter space is bounded, and a
    long chain would otherwise hand out every intermediate of one huge kernel.
    Pieces in tape order make no cycle (the tape is topologically sorted). A
    cut never leaves a value of another shape than the region's to hand out."""
    if len(positions) <= 1:
        return [(positions, shape)]
    shape_of = {exprs[p].var: exprs[p].shape for p in positions}
    out = []
    chunk: list[int] = []
    inputs: set = set()
    remaining: dict = {}  # member var -> its uses not (yet) inside the chunk
    n_out = 0             # members with remaining uses: the chunk's outputs so far
    n_odd = 0             # ... of them, those whose shape is not the region's
    for p in positions:
        e = exprs[p]
        vs = [o[1] for o in e.operands if o and o[0] == "v"]
        own = len(users.get(e.var, ())) + (1 << 30 if e.var in returned else 0)
        new_in = {v for v in vs if v not in remaining and v not in inputs}
        if chunk and n_odd == 0 and len(inputs) + len(new_in) + n_out + 1 > limit:
            out.append((chunk, shape))
            chunk, inputs, remaining, n_out = [], set(), {}, 0
            new_in = set(vs)
        chunk.append(p)
        inputs |= new_in
        for v in vs:
            if v in remaining:
                remaining[v] -= 1
                if remaining[v] == 0:
                    n_out -= 1
                    if shape_of[v] != shape:
                        n_odd -= 1
        remaining[e.var] = own
        if own:
            n_out += 1
            if e.shape != shape:
                n_odd += 1
    out.append((chunk, shape))
    return out


def _absorbable(r: _R, i: int, ops, users, returned) -> bool:
    """A region of another shape can be recomputed inside op i's region when
    nothing but op i (and itself) uses its values."""
    inside = set(r.members) | {i}
    for p in r.members:
        v = ops[p].out
        if v in returned:
            return False
        if any(u not in inside for u in users.get(v, ())):
            return False
    return True


def _acyclic(cands: list, e: Expr, node, anc_bits) -> bool:
    """Contracting ``cands`` plus the new op into one node makes no cycle: no
    producer outside the set has an ancestor inside it."""
    bits = 0
    prods = set()
    for r in cands:
        bits |= r.bits
        prods |= r.prods
    for o in e.operands:
        if o and o[0] == "v":
            n = node(o[1])
            if n is not None:
                prods.add(n)
    for n in prods:
        a, b = anc_bits(n)
        if b & bits:
            continue  # inside the set
        if a & bits:
            return False
    return True


def _finish_region(idx, shape, positions, members, info, users, returned, ops) -> Region | None:
    pos_set = set(positions)
    made = {m.var for m in members}
    region = Region(idx, shape, list(members), list(positions))
    seen = set()
    for m in members:
        region.dtypes[m.var] = m.dtype
        for o in m.operands:
            if o and o[0] == "v" and o[1] not in made and o[1] not in seen:
                seen.add(o[1])
                region.inputs.append(o[1])
                region.dtypes[o[1]] = info[o[1]][0]
                region.shapes[o[1]] = info[o[1]][1]
    for m in members:
        v = m.var
        if v in returned or any(u not in pos_set for u in users.get(v, ())):
            if m.shape != shape:
                return None  # cannot hand out a value of another shape (should not happen)
            region.outputs.append(v)
    if not region.outputs:
        return None
    # Named by what it computes (dtypes, functions, operands), not by its shape.
    text = repr([(m.var, m.fn, m.operands, m.dtype, m.ct) for m in members]
                + [(v, region.dtypes[v]) for v in region.inputs] + [tuple(region.outputs)])
    region.name = f"yota_fused_{hashlib.sha1(text.encode()).hexdigest()[:12]}"
    return region


def _schedule(ops, fused_pos: dict) -> list:
    """A valid order of the contracted graph: Kahn's algorithm, earliest original position first."""
    nodes: dict = {}       # key -> (first position, item)
    node_of_var: dict = {}
    for p, op in enumerate(ops):
        r = fused_pos.get(p)
        key = ("region", r.id) if r is not None else ("op", p)
        if key not in nodes:
            nodes[key] = (p, ("region", r) if r is not None else ("op", p))
        for o in op.outs:
            node_of_var[o] = key
    deps: dict = {k: set() for k in nodes}
    for p, op in enumerate(ops):
        r = fused_pos.get(p)
        key = ("region", r.id) if r is not None else ("op", p)
        for v in op.uses():
            d = node_of_var.get(v)
            if d is not None and d != key:
                deps[key].add(d)
    rdeps: dict = {k: [] for k in nodes}
    for k, ds in deps.items():
        for d in ds:
            rdeps[d].append(k)
    count = {k: len(ds) for k, ds in deps.items()}
    ready = [(nodes[k][0], k) for k, c in count.items() if c == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, k = heapq.heappop(ready)
        order.append(nodes[k][1])
        for k2 in rdeps[k]:
            count[k2] -= 1
            if count[k2] == 0:
                heapq.heappush(ready, (nodes[k2][0], k2))
    if len(order) != len(nodes):
        raise AssertionError("fusion plan has a cycle")  # guarded by _acyclic; never expected
    return order


# --------------------------------------------------------------------------- rewriting

def rewrite(tape: Tape, the_plan: Plan, make_call: Callable[[Region], Any]) -> Tape:
    """A new tape in which each region of ``the_plan`` is one call of the
    constant ``make_call(region)`` (labelled by the call's ``name``, else the
    region's); where ``make_call`` returns None the region's own ops stay, in
    their order. The input tape is not changed."""
    consts = list(tape.consts)
    new_ops = []
    for kind, item in the_plan.order:
        if kind == "op":
            new_ops.append(tape.ops[item])
            continue
        region = item
        call = make_call(region)
        if call is None:
            new_ops.extend(tape.ops[p] for p in region.positions)
            continue
        consts.append(call)
        label = getattr(call, "name", None) or region.name
        fn = Const(len(consts) - 1, label[:18])
        several = len(region.outputs) > 1
        note = f"fused {len(region.exprs)}: " + " ".join(_short(region.fns))
        new_ops.append(Op(CALL, tuple(region.outputs), fn, tuple(Var(v) for v in region.inputs), {}, note,
                          tuple if several else None, tape.ops[region.positions[-1]].section))
    return tape.replace(ops=tuple(new_ops), consts=tuple(consts))


def region_tape(tape: Tape, region: Region) -> Tape:
    """The region's own ops as a tape of their own: its inputs in, its outputs out
    (what a kernel must compute; compiled, the unfused reference)."""
    return tape.replace(inputs=tuple(region.inputs), input_names=tuple(f"%{v}" for v in region.inputs),
                        ops=tuple(tape.ops[p] for p in region.positions),
                        outputs=tuple(Var(v) for v in region.outputs), n_value=len(region.outputs),
                        title=region.name)


def _short(fns: list, limit: int = 8) -> list:
    if len(fns) <= limit:
        return fns
    return fns[:limit] + [f"... (+{len(fns) - limit})"]

