"""CUDA C for fused regions: the body of a ``cupy.ElementwiseKernel``.

``source(region)`` gives the kernel's parameter lists and body: one ``const``
local per member, then the outputs (``o<var> = v<var>;``). float32 members
compute in ``float`` with the ``sinf`` family, float64 in ``double``; a
literal is written in the member's computation type (``((float)1.01)``), NaN
and infinities by their bit patterns. ``CudaEmitter(make_kernel)`` is the
emitter the CuPy backend fuses with; ``make_kernel(region)`` builds its
callable (in `backends/cupy.py`, which owns the library). Nothing here
imports an array library: tests compile the same C for the host with g++.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

from .plan import CATEGORY, Expr, Region, kind_of

__all__ = ["C_TYPES", "CudaSource", "CudaEmitter", "expression", "can_emit", "source"]

C_TYPES = {
    "bool": "bool",
    "int8": "signed char", "int16": "short", "int32": "int", "int64": "long long",
    "uint8": "unsigned char", "uint16": "unsigned short", "uint32": "unsigned int",
    "uint64": "unsigned long long",
    "float32": "float", "float64": "double",
}

# name -> C template (operators) or function name; the rest are written one by one in expression()
_TEMPLATES = {
    "add": "({0} + {1})", "subtract": "({0} - {1})", "multiply": "({0} * {1})", "divide": "({0} / {1})",
    "negative": "(-{0})", "positive": "({0})", "square": "({0} * {0})",
    "less": "({0} < {1})", "less_equal": "({0} <= {1})", "greater": "({0} > {1})",
    "greater_equal": "({0} >= {1})", "equal": "({0} == {1})", "not_equal": "({0} != {1})",
    "logical_and": "({0} && {1})", "logical_or": "({0} || {1})", "logical_xor": "({0} != {1})",
    "logical_not": "(!{0})",
    "bitwise_and": "({0} & {1})", "bitwise_or": "({0} | {1})", "bitwise_xor": "({0} ^ {1})",
    "bitwise_invert": "(~{0})",
}


def _lit(value, ct: str) -> str:
    t = C_TYPES[ct]
    if ct == "bool":
        return "true" if value else "false"
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float):
        if kind_of(ct) != "f":
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError("non-finite literal in an integer op")
            return f"(({t}){repr(value)})"
        if value != value:
            return "__int_as_float(0x7fc00000)" if ct == "float32" else "__longlong_as_double(0x7ff8000000000000LL)"
        if value in (float("inf"), float("-inf")):
            s = "-" if value < 0 else ""
            inf = "__int_as_float(0x7f800000)" if ct == "float32" else "__longlong_as_double(0x7ff0000000000000LL)"
            return f"({s}{inf})"
        return f"(({t}){repr(value)})"
    suffix = "ULL" if value >= (1 << 63) else "LL"
    return f"(({t}){value}{suffix})"


def _name(v: int) -> str:
    return f"v{v}"


def _operand(o, dt, ct: str) -> str:
    if o is None:
        return ""
    if o[0] == "k":
        return _lit(o[1], ct)
    return _name(o[1]) if dt == ct else f"(({C_TYPES[ct]}){_name(o[1])})"


def _fname(name: str, ct: str) -> str:
    name = {"round": "rint"}.get(name, name)
    return name + "f" if ct == "float32" else name


def expression(e: Expr) -> str:
    """The C expression of one member; ValueError where C cannot write it."""
    fn, ct, dt = e.fn, e.ct, e.dtype
    if dt not in C_TYPES or ct not in C_TYPES:
        raise ValueError(f"no C type for {dt}")
    cat = CATEGORY[fn]
    if fn in ("ones_like", "zeros_like"):
        return _lit(1 if fn == "ones_like" else 0, dt)
    if fn == "full_like":
        return _lit(e.operands[0][1], dt)
    ops = [_operand(o, d, ct) for o, d in zip(e.operands, e.odtypes)]
    if cat in ("arith", "cmp", "logic", "bitwise"):
        if cat == "bitwise" and ct == "bool" and fn == "bitwise_invert":
            return f"(!{ops[0]})"
        return _TEMPLATES[fn].format(*ops)
    if cat == "math1":
        return f"{_fname(fn, ct)}({ops[0]})"
    if cat == "math2":
        return f"{_fname(fn, ct)}({ops[0]}, {ops[1]})"
    if cat == "round":
        return f"{_fname(fn, ct)}({ops[0]})" if kind_of(ct) == "f" else ops[0]
    t = C_TYPES[ct]
    a = ops[0] if ops else ""
    if fn == "broadcast_to":
        return a
    if fn == "astype":
        src = e.odtypes[0]
        raw = _name(e.operands[0][1])
        if dt == "bool":
            return f"({raw} != 0)"
        return f"(({C_TYPES[dt]}){raw})" if src != dt else raw
    if fn == "pow":
        y = e.operands[1]
        if y[0] == "k" and not isinstance(y[1], bool):
            k = y[1]
            if k == 2:
                return f"({a} * {a})"
            if k == 1:
                return a
            if k == 0.5:
                return f"{_fname('sqrt', ct)}({a})"
            if k == -1:
                return f"({_lit(1, ct)} / {a})"
            if k == 3:
                return f"({a} * {a} * {a})"
        return f"{_fname('pow', ct)}({a}, {ops[1]})"
    if fn == "abs":
        if kind_of(ct) == "f":
            return f"{_fname('fabs', ct)}({a})"
        return f"({a} < 0 ? ({t})(-{a}) : {a})" if kind_of(ct) == "i" else a
    if fn == "sign":
        if kind_of(ct) == "f":  # keeps NaN; both zeros give +0, as NumPy's and CuPy's sign do
            return f"({a} > 0 ? ({t})1 : ({a} < 0 ? ({t})-1 : ({a} == 0 ? ({t})0 : {a})))"
        return f"(({t})(({a} > 0) - ({a} < 0)))"
    if fn == "reciprocal":
        return f"({_lit(1, ct)} / {a})"
    if fn in ("maximum", "minimum"):
        b = ops[1]
        cmp = ">" if fn == "maximum" else "<"
        if kind_of(ct) == "f":  # NaN propagates, as in NumPy
            return f"(({a} {cmp} {b} || {a} != {a}) ? {a} : {b})"
        return f"(({a} {cmp} {b}) ? {a} : {b})"
    if fn == "clip":
        x = a
        lo, hi = ops[1], ops[2]
        if lo:
            x = f"(({x} > {lo} || {x} != {x}) ? {x} : {lo})" if kind_of(ct) == "f" else f"(({x} > {lo}) ? {x} : {lo})"
        if hi:
            x = f"(({x} < {hi} || {x} != {x}) ? {x} : {hi})" if kind_of(ct) == "f" else f"(({x} < {hi}) ? {x} : {hi})"
        return x
    if fn == "where":
        c = e.operands[0]
        if c[0] == "k":
            cs = "true" if c[1] else "false"
        else:
            cs = _name(c[1]) if e.odtypes[0] == "bool" else f"({_name(c[1])} != 0)"
        x = _operand(e.operands[1], e.odtypes[1], ct)
        y = _operand(e.operands[2], e.odtypes[2], ct)
        return f"({cs} ? {x} : {y})"
    if fn in ("isnan", "isinf", "isfinite", "signbit"):
        if kind_of(ct) != "f":
            return {"isnan": "false", "isinf": "false", "isfinite": "true"}.get(fn) or (
                f"({a} < 0)" if kind_of(ct) == "i" else "false")
        return f"{fn}({a})"
    raise ValueError(fn)


def can_emit(e: Expr) -> bool:
    try:
        expression(e)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class CudaSource:
    """An ElementwiseKernel's parts; ``key`` is what a compiled kernel is cached by."""

    in_params: str
    out_params: str
    body: str
    name: str

    @property
    def key(self) -> tuple:
        return (self.in_params, self.out_params, self.body)

    def text(self, region: Region) -> str:
        """A readable kernel: signature and body."""
        return (f"// {self.name}: {len(region.exprs)} ops over shape {region.shape}\n"
                f"// in:  {self.in_params}\n// out: {self.out_params}\n{self.body}")


def source(region: Region) -> CudaSource:
    lines = [f"const {C_TYPES[m.dtype]} {_name(m.var)} = {expression(m)};" for m in region.exprs]
    lines += [f"o{v} = {_name(v)};" for v in region.outputs]
    body = "\n".join(lines)
    in_params = ", ".join(f"{region.dtypes[v]} {_name(v)}" for v in region.inputs)
    out_params = ", ".join(f"{region.dtypes[v]} o{v}" for v in region.outputs)
    digest = hashlib.sha1(repr((in_params, out_params, body)).encode()).hexdigest()[:12]
    return CudaSource(in_params, out_params, body, f"yota_fused_{digest}")


class CudaEmitter:
    """Fuses what the C above can write; ``make_kernel(region)`` is the library's half."""

    #: a kernel's parameter space is bounded; a long chain would otherwise hand out
    #: every intermediate of one huge kernel
    max_params = 48

    def __init__(self, make_kernel: Callable[[Region], Callable]):
        self.make_kernel = make_kernel

    def can_emit(self, expr: Expr) -> bool:
        return can_emit(expr)

    def compile(self, region: Region) -> Callable:
        return self.make_kernel(region)
