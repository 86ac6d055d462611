"""numexpr programs for fused regions: multithreaded, blocked CPU kernels for
the NumPy backend.

A region becomes a short sequence of numexpr programs, one per array it
writes: each output (in tape order), plus a temporary wherever an expression
would grow past ``MAX_NODES`` (numexpr expands shared subexpressions into a
tree before merging them again, so a deep chain must be cut). A later program
reads earlier outputs as inputs; within one program numexpr merges equal
subtrees and keeps intermediates in cache-sized blocks, split over its
threads. Each output is written with ``out=`` into an array of the region's
shape and dtype, against which numexpr broadcasts the inputs.

Exactness. numexpr has its own type rules (Python floats are double, float32
``maximum`` and ``round`` upcast to double, integer division truncates, ...),
so its expression parser is not used: the program is built from numexpr's
expression nodes with every node's type given, each op must exist in
numexpr's VM at exactly that signature (no silent upcast), and upcasts are
written out where NumPy makes them. What cannot be written exactly is not
fused (``can_emit`` is False) and stays a NumPy call:

* no downcasts exist in numexpr: ``astype`` to a narrower type, and any
  member whose operands NumPy would narrow, stay out;
* dtypes other than bool, int32, int64, float32, float64 (numexpr has no
  int8/16, unsigned or float16 arithmetic; complex is left to NumPy);
* integer arithmetic (numexpr's C may overflow where NumPy wraps) and integer
  ``pow``, ``abs``, ``sign``; only comparisons, bit operations, ``where``,
  ``maximum``/``minimum`` and upcasts of integers fuse;
* ``cbrt`` (not in numexpr); ``clip`` (NumPy's result for equal zeros of
  opposite signs depends on which of its loops runs);
* ``pow`` with an array exponent (NumPy switches to ``sqrt`` when a
  broadcast exponent is 0.5, which decides the sign of ``(-0.0) ** 0.5``);
* ``isnan``/``isinf``/``isfinite``/``signbit`` of integers.

Literal exponents follow NumPy's fast paths exactly: ``x ** 2`` is ``x*x``,
``x ** 0.5`` is ``sqrt(x)``, ``x ** -1`` is ``1/x``, ``x ** 1`` is ``x``.
``maximum``/``minimum`` of floats are ``where`` selections that propagate NaN
and return, for equal values (``-0.0`` and ``0.0``), the operand NumPy's own
loops return on this machine (probed once at import; where NumPy is not
consistent they are not fused). Literals are cast to the member's
computation type (``float32(1.01)``); ``-0.0`` is written as ``-(0.0)``
because numexpr gives equal constants one register and ``0.0 == -0.0``.

Values: arithmetic, comparisons, selections, casts, ``sqrt``, ``abs``,
``floor``/``ceil``/``trunc``/``round``, ``sign`` and ``copysign`` are exact
(IEEE), so NaN positions and signed zeros match NumPy's. Transcendental
functions (``exp``, ``log``, ``sin``, ``tanh``, ``arctan2``, ``pow``, ...)
are the C library's (glibc's ``sinf``, ``exp``...; MKL's VML in a numexpr
built with it), while NumPy uses its own SIMD implementations (AVX2/AVX-512)
for many of them: results differ by a few units in the last place (at most
4 ulp in the tests, float32 and float64), never in NaN or infinity positions.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numexpr as _ne
import numpy as np
from numexpr import expressions as _ex
from numexpr import interpreter as _vm
from numexpr import necompiler as _nec

from .plan import CATEGORY, Expr, Region

__all__ = ["NumexprEmitter", "NumexprKernel", "can_emit", "keeps_up", "compile_region", "clear", "cache_size",
           "KINDS", "MAX_NODES", "MAX_PROGRAMS"]

#: NumPy dtype -> numexpr kind (the types numexpr's VM computes in)
KINDS = {"bool": "bool", "int32": "int", "int64": "long", "float32": "float", "float64": "double"}
_DTYPE = {k: np.dtype(d) for d, k in KINDS.items()}
_CODE = {"bool": "b", "int": "i", "long": "l", "float": "f", "double": "d"}
# numexpr's signature types: its ``float`` is float32, its double is np.float64
_SIG_TYPE = {"bool": bool, "int": np.int32, "long": np.int64, "float": float, "double": np.float64}
_SCALAR = {"bool": np.bool_, "int": np.int32, "long": np.int64, "float": np.float32, "double": np.float64}
_FLOAT_KINDS = ("float", "double")
# the VM's casts (exact widenings); bool reaches the others through int
_CASTS = {("bool", "int"), ("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"),
          ("long", "double"), ("float", "double")}

#: an expression (expanded into a tree, as numexpr does) is cut into temporaries beyond this many nodes
MAX_NODES = 128
#: ... or beyond this many distinct inputs (a NumPy iterator holds at most 64 operands)
MAX_LEAVES = 40
#: compiled programs kept (least recently used dropped beyond this many)
MAX_PROGRAMS = 1024

# numexpr's names for the array API's
_FN = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh", "acosh": "arccosh",
       "atanh": "arctanh", "atan2": "arctan2", "abs": "absolute"}
_MATH1 = ("exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan",
          "sinh", "cosh", "tanh", "asinh", "acosh", "atanh")


class _Cannot(Exception):
    """This member cannot be written exactly in numexpr."""


class _N:
    """A node of a program: an input slot, a constant, or an op of the VM."""

    __slots__ = ("op", "kind", "args", "value", "size", "leaves", "text")

    def __init__(self, op, kind, args=(), value=None):
        self.op, self.kind, self.args, self.value = op, kind, args, value
        if op == "in":
            self.size, self.leaves, self.text = 1, frozenset((value,)), f"a{value}"
        elif op == "k":
            self.size, self.leaves = 1, frozenset()
            self.text = f"{kind}({float(value)!r})" if kind in _FLOAT_KINDS else f"{kind}({value!r})"
        else:
            self.size = 1 + sum(a.size for a in args)
            self.leaves = frozenset().union(*(a.leaves for a in args))
            self.text = f"{op}_{_CODE[kind]}({','.join(a.text for a in args)})"


def _op(name, kind, *args) -> _N:
    code = f"{name}_{_CODE[kind]}{''.join(_CODE[a.kind] for a in args)}".encode()
    if code not in _vm.opcodes and code not in _vm.funccodes:
        raise _Cannot(code)
    return _N(name, kind, args)


def _const(kind, value) -> _N:
    """A literal in ``kind``, converted as NumPy converts a Python scalar operand."""
    if isinstance(value, bool):
        v = _SCALAR[kind](value)
    elif kind == "bool":
        raise _Cannot("a number where NumPy computes in bool")
    elif isinstance(value, int):
        if kind in _FLOAT_KINDS:
            if abs(value) > 1 << 53:
                raise _Cannot("integer literal beyond exact float range")
        elif not np.iinfo(_SCALAR[kind]).min <= value <= np.iinfo(_SCALAR[kind]).max:
            raise _Cannot("integer literal out of range")  # NumPy raises OverflowError
        v = _SCALAR[kind](value)
    elif isinstance(value, float):
        if kind not in _FLOAT_KINDS:
            raise _Cannot("a float literal in an integer op")
        with np.errstate(over="ignore"):
            v = _SCALAR[kind](value)  # float32(1e300) is inf, as in NumPy
    else:
        raise _Cannot("literal type")
    if kind in _FLOAT_KINDS and v == 0 and np.signbit(v):
        # numexpr keys constant registers by value, and -0.0 == 0.0: write -0.0 as -(0.0)
        return _N("neg", kind, (_N("k", kind, value=_SCALAR[kind](0)),))
    return _N("k", kind, value=v)


def _convert(node: _N, kind: str) -> _N:
    """``node`` in ``kind``: a widening cast (as NumPy's promotion makes), or ``!= 0`` for bool."""
    if node.kind == kind:
        return node
    if kind == "bool":
        return _op("ne", "bool", node, _const(node.kind, 0))
    if node.kind == "bool" and kind != "int":
        node = _op("cast", "int", node)
    if (node.kind, kind) not in _CASTS:
        raise _Cannot(f"no exact cast {node.kind} -> {kind}")
    return _op("cast", kind, node)


# --------------------------------------------------------------------------- NumPy's ties

def _tie_rule(fn) -> str | None:
    """Which operand NumPy's ``maximum``/``minimum`` return for equal floats
    (``0.0`` and ``-0.0``) on this machine, in every loop it may run (SIMD
    and scalar, contiguous, strided, broadcast); None where they disagree or
    NaN does not propagate."""
    found = set()
    for dt in (np.float32, np.float64):
        for a0, b0 in ((dt(0.0), dt(-0.0)), (dt(-0.0), dt(0.0))):
            for n in (1, 3, 17, 1000):
                a, b = np.full(n, a0), np.full(n, b0)
                for r in (fn(a, b), fn(a, b0), fn(a0, b), fn(np.full(2 * n, a0)[::2], np.full(3 * n, b0)[::3]),
                          fn(np.full((n, 3), a0).T, np.full((1, n), b0))):
                    signs = np.signbit(r)
                    if signs.all() != signs.any():
                        return None
                    found.add("second" if signs.all() == np.signbit(b0) else "first")
            nan = dt("nan")
            if not (np.isnan(fn(np.full(40, nan), np.full(40, a0))).all()
                    and np.isnan(fn(np.full(40, a0), np.full(40, nan))).all()):
                return None
    return found.pop() if len(found) == 1 else None


_TIES = {"maximum": _tie_rule(np.maximum), "minimum": _tie_rule(np.minimum)}


# --------------------------------------------------------------------------- members

def _member(e: Expr, args: list) -> _N:
    """The node of member ``e`` given its operand nodes (None for literals and absent ones)."""
    fn, cat = e.fn, CATEGORY[e.fn]
    if e.dtype not in KINDS or e.ct not in KINDS or any(d is not None and d not in KINDS for d in e.odtypes):
        raise _Cannot("dtype")
    R, T = KINDS[e.dtype], KINDS[e.ct]

    def arg(i, kind=T):
        o = e.operands[i]
        if o is None:
            return None
        if o[0] == "k":
            return _const(kind, o[1])
        return _convert(args[i], kind)

    if fn in ("ones_like", "zeros_like"):
        node = _const(R, 1 if fn == "ones_like" else 0)
    elif fn == "full_like":
        node = _const(R, e.operands[0][1])
    elif fn in ("broadcast_to", "positive"):
        node = arg(0, KINDS[e.odtypes[0]] if e.odtypes[0] else R)
    elif fn == "astype":
        node = _convert(args[0], R)
    elif cat == "arith":
        if T not in _FLOAT_KINDS:
            raise _Cannot("integer arithmetic")
        a = arg(0)
        if fn == "negative":
            node = _op("neg", T, a)
        elif fn == "square":
            node = _op("mul", T, a, a)
        else:
            name = {"add": "add", "subtract": "sub", "multiply": "mul", "divide": "div"}[fn]
            node = _op(name, T, a, arg(1))
    elif cat == "cmp":
        # numexpr orders only numbers: bools compare as the integers 0 and 1
        k = "int" if T == "bool" and fn not in ("equal", "not_equal") else T
        a, b = arg(0, k), arg(1, k)
        name, swap = {"greater": ("gt", False), "greater_equal": ("ge", False), "less": ("gt", True),
                      "less_equal": ("ge", True), "equal": ("eq", False), "not_equal": ("ne", False)}[fn]
        node = _op(name, "bool", *((b, a) if swap else (a, b)))
    elif cat == "logic":
        a = arg(0, "bool")
        if fn == "logical_not":
            node = _op("invert", "bool", a)
        else:
            node = _op({"logical_and": "and", "logical_or": "or", "logical_xor": "xor"}[fn], "bool", a, arg(1, "bool"))
    elif cat == "bitwise":
        if fn == "bitwise_invert":
            node = _op("invert", T, arg(0))
        else:
            node = _op({"bitwise_and": "and", "bitwise_or": "or", "bitwise_xor": "xor"}[fn], T, arg(0), arg(1))
    elif cat == "math1":
        if fn not in _MATH1:
            raise _Cannot(fn)  # cbrt
        node = _op(_FN.get(fn, fn), T, arg(0))
    elif cat == "math2":
        node = _op(_FN.get(fn, fn), T, arg(0), arg(1))
    elif cat == "round":
        if T in _FLOAT_KINDS:
            node = _op(fn, T, arg(0))
        elif e.odtypes[0] == e.dtype:
            node = arg(0)  # integers round to themselves
        else:
            raise _Cannot("round")
    elif fn == "pow":
        node = _pow(e, arg, T)
    elif fn == "abs":
        if T not in _FLOAT_KINDS:
            raise _Cannot("integer abs")
        node = _op("absolute", T, arg(0))
    elif fn == "sign":
        if T not in _FLOAT_KINDS:
            raise _Cannot("integer sign")
        node = _op("sign", T, arg(0))  # NaN stays NaN, both zeros give +0.0: NumPy's sign
    elif fn == "reciprocal":
        node = _op("div", T, _const(T, 1), arg(0))
    elif fn in ("maximum", "minimum"):
        node = _extremum(fn, arg(0), arg(1), T)
    elif fn == "where":
        c = e.operands[0]
        if c[0] == "k":
            node = arg(1) if c[1] else arg(2)
            if e.operands[1 if c[1] else 2][0] == "k":
                raise _Cannot("constant where")
        else:
            node = _op("where", T, _convert(args[0], "bool"), arg(1), arg(2))
    elif fn in ("isnan", "isinf", "isfinite", "signbit"):
        if T not in _FLOAT_KINDS:
            raise _Cannot("integer " + fn)
        node = _op(fn, "bool", arg(0))
    else:
        raise _Cannot(fn)  # clip, and anything the planner learns later
    if node.kind != R:
        raise _Cannot(f"{fn} gives {node.kind}, NumPy {R}")
    return node


def _pow(e: Expr, arg, T) -> _N:
    y = e.operands[1]
    if y[0] != "k" or isinstance(y[1], bool):
        # NumPy takes sqrt for a broadcast exponent equal to 0.5 (the sign of (-0.0) ** 0.5): not fused
        raise _Cannot("array exponent")
    a = arg(0)
    k = y[1]
    if k == 2:
        return _op("mul", T, a, a)
    if k == 0.5:
        return _op("sqrt", T, a)
    if k == -1:
        return _op("div", T, _const(T, 1), a)
    if k == 1:
        return a
    return _op("pow", T, a, _const(T, k))


def _extremum(fn, a, b, T) -> _N:
    if T == "bool":
        raise _Cannot("bool extremum")
    # "a wins" test: a > b for maximum, b > a for minimum (>= where NumPy returns the first of equals)
    if T in _FLOAT_KINDS:
        rule = _TIES[fn]
        if rule is None:
            raise _Cannot(f"NumPy's {fn} is not consistent on this machine")
        cmp = "ge" if rule == "first" else "gt"
    else:
        cmp = "gt"
    wins = _op(cmp, "bool", a, b) if fn == "maximum" else _op(cmp, "bool", b, a)
    if T not in _FLOAT_KINDS:
        return _op("where", T, wins, a, b)
    # NaN in either propagates: a when a is NaN, else b (NaN or the other)
    return _op("where", T, wins, a, _op("where", T, _op("ne", "bool", a, a), a, b))


def can_emit(e: Expr) -> bool:
    """Whether numexpr computes member ``e`` exactly as NumPy does."""
    try:
        args = [None if o is None or o[0] != "v" else _N("in", KINDS[d], value=i)
                for i, (o, d) in enumerate(zip(e.operands, e.odtypes))]
        _member(e, args)
    except (_Cannot, KeyError):
        return False
    return True


# --------------------------------------------------------------------------- programs

_PROGRAMS: "OrderedDict" = OrderedDict()
_LOCK = threading.Lock()


def clear() -> None:
    """Drop every compiled program and every timing verdict."""
    with _LOCK:
        _PROGRAMS.clear()
        _VERDICTS.clear()
        _FN_VERDICTS.clear()


def cache_size() -> int:
    return len(_PROGRAMS)


def _program(root: _N, slots: tuple, kinds: tuple):
    """(numexpr program, whether it uses VML) for ``root`` over input ``slots``, compiled once."""
    key = (root.text, "".join(_CODE[k] for k in kinds))
    with _LOCK:
        hit = _PROGRAMS.get(key)
        if hit is not None:
            _PROGRAMS.move_to_end(key)
            return hit
    memo: dict = {}

    def build(n: _N):
        got = memo.get(id(n))
        if got is None:
            if n.op == "in":
                got = _ex.VariableNode(f"a{n.value}", n.kind)
            elif n.op == "k":
                got = _ex.ConstantNode(n.value)
            else:
                got = _ex.OpNode(n.op, tuple(build(a) for a in n.args), kind=n.kind)
            if got.astKind != n.kind:
                raise AssertionError(f"numexpr typed {n.text} as {got.astKind}")  # never expected
            memo[id(n)] = got
        return got

    program = _ne.NumExpr(build(root), [(f"a{s}", _SIG_TYPE[k]) for s, k in zip(slots, kinds)])
    uses_vml = bool(_ne.use_vml) and any(n.op in _nec.vml_functions for n in _walk(root))
    with _LOCK:
        _PROGRAMS[key] = (program, uses_vml)
        while len(_PROGRAMS) > MAX_PROGRAMS:
            _PROGRAMS.popitem(last=False)
    return program, uses_vml


def _walk(n: _N):
    seen, stack = set(), [n]
    while stack:
        m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        yield m
        stack.extend(m.args)


# numexpr reports no floating-point errors; NumPy's error modes that act on them
_ACTING = frozenset(("raise", "call", "log"))
# what numexpr reads as NumPy does (a subclass, np.ma.MaskedArray say, would lose what it adds)
_PLAIN = frozenset((np.ndarray, *(type(_DTYPE[k].type(0)) for k in _DTYPE)))


class NumexprKernel:
    """One fused region: its programs in order, each writing one array of the
    region's shape (an output, or a temporary a later program reads).

    ``fallback(*inputs)``, when given, computes the region with the NumPy calls
    it replaces (a tuple of the outputs); it runs instead of numexpr while
    NumPy's floating-point error handling is set to act (``np.errstate(
    invalid="raise")``, ``"call"``, ``"log"``), which numexpr cannot honour.
    ``"warn"`` (NumPy's default) and ``"print"`` only report, and fused
    kernels do not report them. It also runs for inputs that are not plain
    ``numpy.ndarray``s (a masked array's mask would be lost)."""

    __slots__ = ("name", "shape", "steps", "results", "single", "region", "fallback")

    def __init__(self, region: Region, steps: list, results: list, fallback=None):
        self.name = region.name
        self.region = region
        self.shape = tuple(region.shape)
        self.steps = steps        # (program, input slots, dtype, uses_vml)
        self.results = results    # env slots of the region's outputs
        self.single = len(results) == 1
        self.fallback = fallback

    def __call__(self, *args):
        if self.fallback is not None and (not _ACTING.isdisjoint(np.geterr().values())
                                          or not _PLAIN.issuperset(map(type, args))):
            return self._numpy(args)
        return self._numexpr(args)

    def _numpy(self, args):
        outs = self.fallback(*args)
        return outs[0] if self.single else tuple(outs)

    def _numexpr(self, args):
        env = list(args)
        shape = self.shape
        for program, slots, dtype, uses_vml in self.steps:
            out = np.empty(shape, dtype)
            if slots:
                program(*[env[i] for i in slots], out=out, ex_uses_vml=uses_vml)
            else:  # a constant (a fill that is also an output): numexpr computes one element
                one = np.empty(1, dtype)
                program(out=one, ex_uses_vml=uses_vml)
                out.fill(one[0])
            env.append(out)
        if self.single:
            return env[self.results[0]]
        return tuple(env[i] for i in self.results)

    def __repr__(self):
        return f"NumexprKernel({self.name}, {len(self.steps)} programs)"


def compile_region(region: Region, fallback=None) -> NumexprKernel:
    """The kernel of a region whose members all pass ``can_emit`` (``fallback``: see `NumexprKernel`)."""
    slot_kind: list = [KINDS[region.dtypes[v]] for v in region.inputs]
    node_of: dict = {v: _N("in", k, value=i) for i, (v, k) in enumerate(zip(region.inputs, slot_kind))}
    member_vars = {e.var for e in region.exprs}
    outputs = set(region.outputs)
    steps: list = []
    results: dict = {}

    def materialize(v, node):
        """Write ``node`` (the value of var ``v``, or a temporary) to a new slot; later programs read it."""
        slot = len(slot_kind)
        slots = tuple(sorted(node.leaves))
        program, uses_vml = _program(node, slots, tuple(slot_kind[s] for s in slots))
        steps.append((program, slots, _DTYPE[node.kind], uses_vml))
        slot_kind.append(node.kind)
        leaf = _N("in", node.kind, value=slot)
        if v is not None:
            node_of[v] = leaf
        return leaf

    for e in region.exprs:
        vars_ = [o[1] if o is not None and o[0] == "v" else None for o in e.operands]
        while True:
            node = _member(e, [node_of[v] if v is not None else None for v in vars_])
            if node.size <= MAX_NODES and len(node.leaves) <= MAX_LEAVES:
                break
            # too big for one program: write the largest operand that is still an expression
            big = [v for v in vars_ if v is not None and v in member_vars and node_of[v].op != "in"]
            if not big:
                break  # operands are all inputs already: a few leaves, within bounds
            v = max(big, key=lambda u: node_of[u].size)
            materialize(v, node_of[v])
        node_of[e.var] = node
        if e.var in outputs:  # (an output that is another value, x ** 1 say, is copied: numexpr's copy)
            results[e.var] = len(slot_kind)
            materialize(e.var, node)
    return NumexprKernel(region, steps, [results[v] for v in region.outputs], fallback)


#: numexpr must take at most this fraction of NumPy's time for a region to fuse
MARGIN = 0.9
_VERDICTS: OrderedDict = OrderedDict()  # region signature -> bool, most recent last
_MAX_VERDICTS = 512


def _sample(dtype: str, shape: tuple, rng) -> np.ndarray:
    # inside every domain the members may have (log, sqrt, arccos, division): no NaN slow paths
    if dtype == "bool":
        return np.ones(shape, bool)
    if dtype.startswith("int"):
        return np.ones(shape, dtype)
    return rng.uniform(0.25, 0.75, shape).astype(dtype)


def _best(fn, args, reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn(args)
        best = min(best, time.perf_counter() - t)
    return best


def pays_off(kernel: NumexprKernel) -> bool:
    """Whether ``kernel`` runs its region faster than its NumPy ``fallback``,
    timed once per region signature (functions, shapes, dtypes) on synthetic
    inputs when a tape is compiled. Which one wins depends on the machine and
    the functions: NumPy's SIMD ``tanh``/``exp`` and float32 arithmetic beat
    numexpr's, numexpr's threads win on float64 ``sin``/``cos`` and long
    chains. Deciding here, not while running, lets a losing region stay plain
    NumPy calls that then reuse dead buffers like any other."""
    region = kernel.region
    key = (tuple(region.fns), kernel.shape, tuple((region.dtypes[v], tuple(region.shapes.get(v, ())))
                                                  for v in region.inputs), len(region.outputs))
    verdict = _VERDICTS.get(key)
    if verdict is None:
        rng = np.random.default_rng(0)
        args = [_sample(region.dtypes[v], tuple(region.shapes.get(v, ())), rng) for v in region.inputs]
        with np.errstate(all="ignore"):
            kernel._numexpr(args), kernel._numpy(args)  # warm both: first calls allocate and page in
            ne, npy = _best(kernel._numexpr, args), _best(kernel._numpy, args)
            ne = min(ne, _best(kernel._numexpr, args))  # numexpr's threads may have been asleep
        verdict = ne <= MARGIN * npy
        with _LOCK:
            _VERDICTS[key] = verdict
            while len(_VERDICTS) > _MAX_VERDICTS:
                _VERDICTS.popitem(last=False)
    return verdict


#: a function that numexpr computes more than this many times slower than NumPy's ufunc stays out
#: of regions (the arithmetic around it still fuses); the region's own check then decides the rest
FN_MARGIN = 1.5
_FN_VERDICTS: dict = {}  # (function, computation dtype) -> bool
_FN_SIZE = 1 << 16


def keeps_up(e: Expr) -> bool:
    """Whether numexpr's version of member ``e``'s function is about as fast as
    NumPy's own, timed once per function and dtype on this machine. NumPy's
    SIMD ``tanh``/``exp``/``log`` (float32 above all: 30x for ``tanh``) leave
    the C library's far behind, while numexpr's threads win on ``sin``/``cos``
    of float64; a region that took a slow function in would lose, and with it
    the fusion of every op around it."""
    if CATEGORY.get(e.fn) not in ("math1", "math2"):
        return True
    key = (e.fn, e.ct)
    verdict = _FN_VERDICTS.get(key)
    if verdict is None:
        verdict = _time_function(e.fn, e.ct, 2 if CATEGORY[e.fn] == "math2" else 1)
        with _LOCK:
            _FN_VERDICTS[key] = verdict
    return verdict


def _time_function(fn: str, dtype: str, arity: int) -> bool:
    name = _FN.get(fn, fn)
    ufunc = getattr(np, name, None)
    if ufunc is None or dtype not in KINDS or KINDS[dtype] not in _FLOAT_KINDS:
        return True
    rng = np.random.default_rng(0)
    args = [_sample(dtype, (_FN_SIZE,), rng) + (1 if fn == "acosh" else 0) for _ in range(arity)]
    out = np.empty(_FN_SIZE, dtype)
    names = "ab"[:arity]
    local = dict(zip(names, args))
    expression = f"{name}({', '.join(names)})"

    def with_numexpr(_):
        _ne.evaluate(expression, local_dict=local, out=out)

    def with_numpy(_):
        ufunc(*args, out=out)

    with np.errstate(all="ignore"):
        with_numexpr(None), with_numpy(None)
        ne = min(_best(with_numexpr, None, 5), _best(with_numexpr, None, 5))
        npy = _best(with_numpy, None, 5)
    return ne <= FN_MARGIN * npy


class NumexprEmitter:
    """The NumPy backend's emitter: regions become `NumexprKernel`s. With
    ``timed``, a function numexpr computes much slower than NumPy stays out
    (`keeps_up`)."""

    # inputs + outputs of a region; temporaries add to what one program reads, MAX_LEAVES bounds that
    max_params = 32

    def __init__(self, timed: bool = False):
        self.timed = timed

    def can_emit(self, expr: Expr) -> bool:
        return can_emit(expr) and (not self.timed or keeps_up(expr))

    def compile(self, region: Region, fallback=None) -> NumexprKernel:
        return compile_region(region, fallback)
