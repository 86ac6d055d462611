"""Random straight-line array-API programs, as Python source.

``generate(seed)`` returns a `Program`: the source of ``prog(xp, *inputs)``
(returning a 0-d float), its inputs (float arrays, Python floats, int arrays;
some captured in a closure rather than passed), and two sets of input values
``A`` and ``B`` of the same shapes. Every statement is kept only if it runs
under ``array_api_strict`` (so the program keeps to the standard) and under
NumPy at both points with finite, moderate values: generate and test, so the
templates need not know every rule of shapes and promotion.
"""
from __future__ import annotations

import random
import re
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Input", "Program", "generate", "run_reference", "namespaces"]

MAX_SIZE = 72          # elements per intermediate array
MAX_ABS = 1e4          # values kept moderate so differences mean something


@dataclass(frozen=True)
class Input:
    name: str
    kind: str            # "arr" (float array), "float" (Python float), "int" (int64 array)
    shape: tuple = ()
    dtype: str = "float64"
    closure: bool = False


@dataclass
class Program:
    seed: int
    inputs: list
    body: list                      # list of statements, each a list of source lines
    ret: str
    A: dict                         # name -> numpy array / float
    B: dict
    shapes: dict = field(default_factory=dict)   # var -> (shape, dtype) at A, filled by run

    # ------------------------------------------------------------------ source
    def source(self) -> str:
        params = ", ".join(["xp"] + [i.name for i in self.inputs])
        lines = [f"def prog({params}):"]
        for stmt in self.body:
            lines += ["    " + ln for ln in stmt]
        lines.append(f"    return {self.ret}")
        return "\n".join(lines) + "\n"

    def wrapper_source(self) -> str:
        """``make(*closure_inputs)`` returning ``f(*arg_inputs)``."""
        cl = [i.name for i in self.inputs if i.closure]
        ar = [i.name for i in self.inputs if not i.closure]
        allp = ", ".join(i.name for i in self.inputs)
        return (f"def make({', '.join(cl)}):\n"
                f"    def f({', '.join(ar)}):\n"
                f"        return prog(array_namespace({ar[0]}), {allp})\n"
                f"    return f\n")

    @property
    def closure_names(self):
        return [i.name for i in self.inputs if i.closure]

    @property
    def arg_names(self):
        return [i.name for i in self.inputs if not i.closure]

    @property
    def low_precision(self) -> bool:
        return any(i.dtype == "float32" for i in self.inputs if i.kind == "arr") or "float32" in self.source()

    def repro(self, backend: str = "numpy") -> str:
        """A runnable script: the program, its inputs, and the calls the checker makes."""
        def lit(v, inp):
            if inp.kind == "float":
                return repr(float(v))
            return f"np.asarray({np.asarray(v).tolist()!r}, dtype={inp.dtype!r})"
        conv = {"numpy": "    return np.asarray(a)",
                "array_api_strict": "    import array_api_strict\n    return array_api_strict.asarray(a)",
                "dask": "    import dask.array as da\n"
                        "    return da.from_array(a, chunks=tuple(max(1, (n + 1) // 2) for n in a.shape))"}[backend]
        out = ["import numpy as np", "import yota", "from array_api_compat import array_namespace", "", "",
               self.source(), "", self.wrapper_source(), "",
               "def to_backend(a):", "    # " + backend, conv, ""]
        for label, point in (("A", self.A), ("B", self.B)):
            items = ", ".join(f"{i.name}={lit(point[i.name], i)}" for i in self.inputs)
            out.append(f"{label} = dict({items})")
        cl = ", ".join(f"P[{n!r}]" if self._kind(n) == "float" else f"to_backend(P[{n!r}])"
                       for n in self.closure_names)
        ar = ", ".join(f"P[{n!r}]" if self._kind(n) == "float" else f"to_backend(P[{n!r}])"
                       for n in self.arg_names)
        out += ["", "for label, P in (('A first call', A), ('B cached call', B)):",
                f"    val, g = yota.grad(make({cl}), {ar})",
                "    print(label, val, g, yota.cache_info())",
                "yota.reset()",
                "P = B",
                f"print('B fresh trace', *yota.grad(make({cl}), {ar}))",
                "# reference: the program on NumPy, no yota",
                "import array_api_compat.numpy as npx",
                "print('B reference', prog(npx, *[B[k] for k in B]))"]
        return "\n".join(out) + "\n"

    def _kind(self, name):
        return next(i.kind for i in self.inputs if i.name == name)

    def with_(self, **kw) -> "Program":
        return replace(self, **kw)


# ---------------------------------------------------------------------- namespaces

_NS = {}


def namespaces():
    if not _NS:
        import array_api_compat.numpy as npx
        import array_api_strict
        _NS["numpy"] = npx
        _NS["strict"] = array_api_strict
    return _NS


def to_np(v):
    if isinstance(v, (float, int, bool)):
        return np.asarray(v)
    if type(v).__module__.startswith("array_api_strict"):
        return np.asarray(v)
    return np.asarray(v)


def _convert(inp: Input, v, where: str):
    if inp.kind == "float":
        return float(v)
    if where == "strict":
        import array_api_strict
        return array_api_strict.asarray(np.asarray(v, dtype=inp.dtype))
    return np.asarray(v, dtype=inp.dtype).copy()


def run_reference(prog: Program, point: dict, where: str = "numpy", upcast: bool = False):
    """The program's value on plain NumPy (or array_api_strict) at ``point``."""
    ns = namespaces()["strict" if where == "strict" else "numpy"]
    env = {}
    exec(prog.source(), env)
    args = []
    for inp in prog.inputs:
        v = point[inp.name]
        if upcast and inp.kind == "arr":
            v = np.asarray(v, dtype=np.float64)
            args.append(v if where != "strict" else _convert(replace(inp, dtype="float64"), v, where))
        else:
            args.append(_convert(inp, v, where))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return env["prog"](ns, *args)


# ---------------------------------------------------------------------- values

@dataclass
class Val:
    name: str
    kind: str           # "arr", "float", "int"
    shape: tuple
    dtype: str


def _ok_value(v, kind_needed=None):
    a = to_np(v)
    if a.dtype == bool:
        return False
    if a.size > MAX_SIZE or a.ndim > 4:
        return False
    if a.dtype.kind in "fc":
        if not np.all(np.isfinite(a)) or (a.size and np.max(np.abs(a)) > MAX_ABS):
            return False
    if a.dtype.kind in "iu" and a.size and np.max(np.abs(a)) > 1000:
        return False
    return True


def _val_of(name, v):
    if type(v) is float:
        return Val(name, "float", (), "float")
    a = to_np(v)
    if a.dtype.kind == "f":
        return Val(name, "arr", tuple(a.shape), str(a.dtype))
    if a.dtype.kind in "iu":
        return Val(name, "int", tuple(a.shape), str(a.dtype))
    return None


# ---------------------------------------------------------------------- the generator

INT_LITS = ["0", "1", "2", "3", "-1", "-2"]
FLOAT_LITS = ["0.5", "-0.5", "2.0", "3.0", "-0.0", "0.0", "1.0", "1.5", "-3.0", "0.25"]
POS_LITS = ["2", "0.5", "3.0", "1.5", "2.0"]


def _paren(s: str) -> str:
    return f"({s})" if s.startswith("-") else s


class Gen:
    def __init__(self, seed: int):
        self.R = random.Random(seed)
        self.seed = seed
        self.pool: list[Val] = []
        self.counter = 0

    # -- picks
    def arrays(self, pred=None, kind="arr"):
        return [v for v in self.pool if v.kind == kind and (pred is None or pred(v))]

    def pick(self, pred=None, kind="arr"):
        c = self.arrays(pred, kind)
        if not c:
            return None
        # recent values more often: programs become chains, not stars
        w = [1.0 + 2.0 * (i / max(1, len(c) - 1)) ** 2 for i in range(len(c))]
        return self.R.choices(c, w)[0]

    def scalar(self, positive=False, nonzero=False):
        R = self.R
        floats = self.arrays(kind="float")
        if floats and R.random() < 0.3 and not positive:
            return R.choice(floats).name
        if positive:
            return R.choice(POS_LITS)
        lits = INT_LITS + FLOAT_LITS
        if nonzero:
            lits = [x for x in lits if float(x) != 0.0]
        return _paren(R.choice(lits))

    def broadcastable(self, a: Val):
        def ok(v):
            try:
                s = np.broadcast_shapes(a.shape, v.shape)
            except ValueError:
                return False
            return int(np.prod(s)) <= MAX_SIZE
        return ok

    def axis(self, a: Val, allow_none=True, allow_tuple=True):
        R = self.R
        nd = len(a.shape)
        if nd == 0:
            return None
        r = R.random()
        if allow_none and r < 0.2:
            return None
        if allow_tuple and nd >= 2 and r < 0.4:
            k = R.randint(1, nd)
            return tuple(sorted(R.sample(range(nd), k)))
        ax = R.randrange(nd)
        return ax - nd if R.random() < 0.3 else ax


# Each family returns a list of source lines assigning `name`, or None.

def _unary(g: Gen, name):
    a = g.pick()
    if a is None:
        return None
    A = a.name
    forms = ["xp.sin({a})", "xp.cos({a})", "xp.tanh({a})", "xp.exp(xp.tanh({a}))", "xp.log({a} * {a} + 0.5)",
             "xp.sqrt({a} * {a} + 0.5)", "xp.log1p({a} * {a})", "xp.expm1(xp.tanh({a}))",
             "xp.asin(xp.tanh({a}) * 0.9)", "xp.acos(xp.tanh({a}) * 0.9)", "xp.atan({a})", "xp.asinh({a})",
             "xp.acosh({a} * {a} + 1.5)", "xp.atanh(xp.tanh({a}) * 0.9)", "xp.sinh(xp.tanh({a}))",
             "xp.cosh(xp.tanh({a}))", "xp.square({a})", "xp.negative({a})", "-{a}", "+{a}", "xp.positive({a})",
             "xp.abs({a})", "abs({a})", "xp.sign({a}) * {a}", "xp.sign({a})", "xp.exp2(xp.tanh({a}))",
             "xp.log2({a} * {a} + 0.5)", "xp.log10(xp.abs({a}) + 0.5)", "xp.floor({a}) + {a}",
             "xp.round({a} * 2.0) - {a}", "xp.trunc({a}) * {a}", "xp.ceil({a}) * {a}",
             "xp.sqrt(xp.abs({a}) + 0.25)", "xp.tan(xp.tanh({a}))",
             "1.0 / ({a} * {a} + 0.5)", "xp.sign({a} * 0.0)", "xp.signbit({a}) * 1.0 + {a}",
             "xp.real({a} * (0.5+1j) * {a})", "xp.imag(xp.exp({a} * 1j))", "xp.abs({a} + 2j)",
             "xp.real(xp.conj({a} * (1-2j)) * (0.5+0.5j))", "xp.imag({a} * complex(-0.0, 1.0))"]
    return [f"{name} = " + g.R.choice(forms).format(a=A)]


def _binary(g: Gen, name):
    a = g.pick()
    if a is None:
        return None
    b = g.pick(g.broadcastable(a)) or a
    forms = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / ({b} * {b} + 0.5)", "xp.add({a}, {b})",
             "xp.subtract({a}, {b})", "xp.multiply({a}, {b})", "xp.divide({a}, 1.5 + xp.tanh({b}))",
             "xp.maximum({a}, {b})", "xp.minimum({a}, {b})", "xp.where({a} > {b}, {a}, {b} * 0.5)",
             "xp.pow({a} * {a} + 0.5, xp.tanh({b}))", "({a} * {a} + 0.5) ** xp.tanh({b})",
             "xp.copysign({a}, {b})", "xp.atan2({a}, {b} * {b} + 0.5)", "xp.atan2({a}, {b})",
             "xp.logaddexp({a}, {b})", "xp.hypot({a}, {b})", "xp.where({b} < 0.0, xp.sin({a}), {a} * {b})",
             "xp.where(xp.greater({a}, 0.2), {b}, -{b})", "xp.maximum({a}, {b}) - xp.minimum({b}, {a})",
             "xp.where({a} > 0.0, {a}, 0.0) * {b}"]
    return [f"{name} = " + g.R.choice(forms).format(a=a.name, b=b.name)]


def _scalar_op(g: Gen, name):
    a = g.pick()
    if a is None:
        return None
    R = g.R
    A = a.name
    s = g.scalar()
    s2 = g.scalar()
    nz = g.scalar(nonzero=True)
    pos = g.scalar(positive=True)
    e = R.choice(["2", "3", "2.0", "3.0", "1", "0", "1.0", "0.0"])
    lo, hi = sorted(R.sample([-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0], 2))
    forms = [f"{A} + {s}", f"{s} + {A}", f"{A} - {s}", f"{s} - {A}", f"{A} * {s}", f"{s} * {A}",
             f"{A} / {nz}", f"{s} / ({A} * {A} + 0.5)", f"xp.add({A}, {s})", f"xp.multiply({s}, {A})",
             f"xp.subtract({s}, {A})", f"xp.maximum({A}, {s})", f"xp.minimum({s}, {A})",
             f"xp.clip({A}, {_paren(repr(lo))}, {hi!r})", f"xp.clip({A}, min={_paren(repr(lo))})",
             f"xp.clip({A}, max={hi!r})", f"{A} ** {e}", f"xp.pow({A}, {e})", f"({A} * {A} + 0.5) ** {s}",
             f"xp.pow({A} * {A} + 0.5, {s})", f"{pos} ** {A}", f"xp.pow({pos}, xp.tanh({A}))",
             f"xp.where({A} > {s}, {A}, {s2})", f"xp.where({A} < 0.0, -{A}, {A} * {s})",
             f"xp.where({A} >= {s}, {s2}, {A})", f"(-1) ** 2 * {A}",
             f"xp.clip({A}, {_paren(repr(lo))}, {s})"]
    return [f"{name} = " + R.choice(forms)]


def _zeros(g: Gen, name):
    """Signed zeros and additive/multiplicative identities with literal operands."""
    a = g.pick()
    if a is None:
        return None
    A = a.name
    forms = [f"{A} * 0.0", f"{A} * -0.0 + {A}", f"{A} + 0", f"{A} - 0.0", f"{A} * 1", f"{A} * 1.0 - 0",
             f"0 + {A}", f"xp.add({A}, 0.0)", f"{A} * 0.0 + 0.0", f"{A} * -0.0 - 0.0",
             f"xp.atan2({A} * 0.0 + 0, -1.0 + {A} * 0.0)", f"xp.atan2({A} * 0.0, -1.0) * {A}",
             f"xp.copysign(1.0 + {A} * 0.0, {A} * 0.0 + 0.0) * {A}", f"xp.copysign({A}, {A} * 0.0 - 0.0)",
             f"xp.atan2({A} * -0.0, -1.0) + xp.atan2({A} * 0.0, -1.0)",
             f"xp.copysign(xp.ones_like({A}), {A} * 0.0) * {A} + xp.copysign(xp.ones_like({A}), {A} * -0.0)",
             f"xp.signbit({A} * 0.0 + 0) * 1.0 * {A}", f"xp.maximum({A}, -0.0) + xp.minimum({A}, 0.0)"]
    return [f"{name} = " + g.R.choice(forms)]


def _pyfloat(g: Gen, name):
    """Python floats computed from Python floats (traced scalars under yota)."""
    floats = g.arrays(kind="float")
    if not floats:
        return None
    R = g.R
    c = R.choice(floats).name
    d = R.choice(floats).name
    forms = [f"abs({c}) + 0.5", f"{c} * {d}", f"-{c}", f"{c} ** 2", f"2.0 ** {c}", f"{c} / 1.5", f"{c} - {d} * 0.5",
             f"({c} * {c} + 0.5) ** 0.5", f"1.0 / ({c} * {c} + 0.5)", f"{c} + 1", f"{c} * 2", f"3 - {c}",
             f"max({c}, 0.3)", f"min({c}, {d})", f"abs({c} - 0.1)", f"{c} ** 3.0", f"{c} % 1.0"]
    return [f"{name} = " + R.choice(forms)]


def _astype(g: Gen, name):
    a = g.pick()
    if a is None:
        return None
    A = a.name
    R = g.R
    forms = [f"xp.astype({A}, xp.float32)", f"xp.astype({A}, dtype=xp.float32)", f"xp.astype({A}, xp.float64)",
             f"xp.astype({A}, dtype=xp.float64)", f"xp.astype({A}, xp.float64, copy=True)",
             f"xp.astype({A}, {A}.dtype)",
             f"xp.astype(xp.astype({A} * 3.0, xp.int64), xp.float64) + {A}",
             f"xp.astype(xp.ones_like({A}) * 2.5, xp.int64)",
             f"xp.astype(xp.ones_like({A}) * 2.5, xp.float32) * {A}",
             f"xp.astype(xp.full_like({A}, 2.5), xp.int64)",
             f"xp.astype({A} * 2.0, xp.int64)",
             f"xp.astype(xp.astype(xp.ones_like({A}) * 1.7, xp.int64), {A}.dtype) * {A}",
             f"xp.astype(xp.ones_like({A}), xp.int64) * 2"]
    return [f"{name} = " + R.choice(forms)]



def _creation(g: Gen, name):
    a = g.pick()
    if a is None:
        return None
    A = a.name
    R = g.R
    s = g.scalar()
    forms = [f"xp.ones_like({A}) * {s}", f"{s} * xp.ones_like({A})", f"xp.ones_like({A}) + {s}",
             f"xp.zeros_like({A}) + {A}", f"xp.full_like({A}, {s}) * {A}", f"xp.full_like({A}, {s})",
             f"xp.asarray({A}, copy=True)", f"xp.ones_like({A}) * {A}", f"{A} * xp.ones_like({A})",
             f"xp.ones_like({A}, dtype=xp.float32) * {A}", f"xp.zeros_like({A}) - {A} * {s}"]
    if a.shape:
        d = a.shape[-1]
        forms += [f"{A} * xp.arange({d}.0)", f"{A} + xp.astype(xp.arange(1, {d + 1}), {A}.dtype)",
                  f"{A} * xp.linspace(0.0, 1.0, {d})", f"{A} * xp.linspace(-1.0, 1.0, {d}, endpoint=False)",
                  f"{A} * xp.full(({d},), {s})", f"{A} + xp.zeros({a.shape!r})",
                  f"xp.ones({a.shape!r}) * {s} * {A}", f"{A} - xp.ones(({d},), dtype={A}.dtype)",
                  f"{A} * xp.arange({d}, dtype={A}.dtype)"]
    if len(a.shape) >= 2:
        n = a.shape[-1]
        forms += [f"{A} @ xp.eye({n})", f"{A} + xp.eye({a.shape[-2]}, {n})",
                  f"{A} * xp.eye({a.shape[-2]}, {n}, k=1)"]
    return [f"{name} = " + R.choice(forms)]


def _reduction(g: Gen, name):
    a = g.pick()
    if a is None:
        return None
    A = a.name
    R = g.R
    fn = R.choice(["sum", "mean", "prod", "max", "min", "std", "var", "sum", "mean", "cumulative_sum",
                   "cumulative_prod", "vector_norm", "logsumexp"])
    kd = R.random() < 0.4
    if fn in ("cumulative_sum", "cumulative_prod"):
        if not a.shape:
            return None
        ax = R.randrange(len(a.shape))
        kw = f", axis={ax}" if (len(a.shape) > 1 or R.random() < 0.5) else ""
        if R.random() < 0.3:
            kw += ", include_initial=True"
        arg = A if fn == "cumulative_sum" else f"xp.tanh({A}) + 1.5"
        return [f"{name} = xp.{fn}({arg}{kw})"]
    ax = g.axis(a)
    kw = "" if ax is None and R.random() < 0.5 else f", axis={ax!r}"
    if kd:
        kw += ", keepdims=True"
    if fn in ("std", "var"):
        # a size-1 axis gives std 0, where sqrt has no derivative
        axes = range(len(a.shape)) if ax is None else ([ax] if isinstance(ax, int) else ax)
        if any(a.shape[k] < 2 for k in axes) or not a.shape:
            return None
        if R.random() < 0.3:
            kw += ", correction=1"
    if fn == "vector_norm":
        return [f"{name} = xp.linalg.vector_norm({A} + 0.1{kw})"]
    if fn == "logsumexp":
        return [f"{name} = xp.log(xp.sum(xp.exp({A}){kw}))"]
    if fn == "prod":
        return [f"{name} = xp.prod(xp.tanh({A}) + 1.2{kw})"]
    return [f"{name} = xp.{fn}({A}{kw})"]


def _manip(g: Gen, name):
    a = g.pick(lambda v: len(v.shape) >= 1)
    if a is None:
        return None
    R = g.R
    A = a.name
    sh = a.shape
    nd = len(sh)
    forms = []
    forms.append(f"xp.reshape({A}, (-1,))")
    size = int(np.prod(sh))
    divs = [d for d in range(1, size + 1) if size % d == 0]
    d = R.choice(divs)
    forms.append(f"xp.reshape({A}, ({d}, -1))")
    forms.append(f"xp.reshape({A}, (-1, {d}, 1))")
    forms.append(f"xp.reshape({A}, ({size // d}, {d}))")
    perm = list(range(nd))
    R.shuffle(perm)
    forms.append(f"xp.permute_dims({A}, {tuple(perm)!r})")
    forms.append(f"xp.broadcast_to({A}, {(2,) + sh!r})")
    if 1 in sh:
        k = sh.index(1)
        forms.append(f"xp.broadcast_to({A}, {sh[:k] + (3,) + sh[k + 1:]!r})")
        forms.append(f"xp.squeeze({A}, axis={k})")
        forms.append(f"xp.squeeze({A}, axis={k - nd})")
    k = R.randrange(nd + 1)
    forms.append(f"xp.expand_dims({A}, axis={k})")
    forms.append(f"xp.expand_dims({A}, axis={-1 - k})")
    k = R.randrange(nd)
    forms += [f"xp.flip({A})", f"xp.flip({A}, axis={k})", f"xp.flip({A}, axis={tuple(range(nd))!r})",
              f"xp.roll({A}, {R.choice([1, -1, 2])}, axis={k})", f"xp.roll({A}, 1)",
              f"xp.roll({A}, (1, -1), axis=(0, {nd - 1}))" if nd >= 2 else f"xp.roll({A}, -2, axis=0)",
              f"xp.tile({A}, {tuple(R.choice([1, 2]) for _ in range(nd))!r})", f"xp.tile({A}, (2,))",
              f"xp.repeat({A}, 2, axis={k})", f"xp.repeat({A}, 2)",
              f"xp.repeat({A}, xp.asarray({[R.randint(0, 2) for _ in range(sh[k])]!r}), axis={k})",
              f"xp.moveaxis({A}, 0, -1)", f"xp.moveaxis({A}, {k}, 0)",
              f"xp.unstack({A}, axis={k})[{sh[k] - 1}]"]
    b = g.pick(lambda v: v.shape == sh)
    if b is not None:
        forms += [f"xp.concat([{A}, {b.name}], axis={k})", f"xp.concat(({A}, {b.name}, {A}))",
                  f"xp.stack([{A}, {b.name}], axis={R.randrange(nd + 1)})", f"xp.stack(({A}, {b.name}))",
                  f"xp.concat([{A}, xp.sin({b.name})], axis={k - nd})", f"xp.concat([{A}, {A}], axis=None)"]
    if nd >= 2:
        forms += [f"{A}.mT", f"xp.matrix_transpose({A})"]
    if nd == 2:
        forms += [f"{A}.T"]
    return [f"{name} = " + R.choice(forms)]


def _basic_key(g: Gen, sh):
    R = g.R
    parts = []
    nd = len(sh)
    i = 0
    used_ellipsis = False
    while i < nd:
        r = R.random()
        if r < 0.1:
            parts.append("None")
            continue
        if r < 0.17 and not used_ellipsis:
            parts.append("...")
            used_ellipsis = True
            i = nd - R.randint(0, nd - i)  # the ellipsis eats some axes
            continue
        n = sh[i]
        choices = [":", "::-1", f"{R.randrange(n)}", f"{-1 - R.randrange(n)}", "1:", ":-1", "::2", "::-2",
                   "-1::-1", "1::-1", f"{R.randrange(n)}:", "-2:"]
        parts.append(R.choice(choices))
        i += 1
        if R.random() < 0.25:
            break
    if not parts:
        parts = ["..."]
    return ", ".join(parts) if len(parts) > 1 else parts[0]


def _index_array(g: Gen, n):
    R = g.R
    forms = [f"xp.asarray({[R.randrange(n) for _ in range(R.randint(1, 3))]!r})",
             "xp.asarray([0, 1])", "xp.asarray([1, 1, 0])", "xp.asarray([-1, 0])",
             "xp.asarray([0, 1]) + 1", "xp.flip(xp.asarray([0, 1]))", "xp.asarray([1, 0]) * 1",
             "xp.arange(2)", "xp.asarray([0, 0])"]
    ints = g.arrays(lambda v: len(v.shape) == 1, kind="int")
    if ints and R.random() < 0.4:
        v = R.choice(ints).name
        forms += [v, f"{v} + 1", f"1 - {v}", f"{v} * 1"]
    return R.choice(forms)


def _index(g: Gen, name):
    a = g.pick(lambda v: len(v.shape) >= 1)
    if a is None:
        return None
    R = g.R
    A = a.name
    sh = a.shape
    k = R.randrange(len(sh))
    r = R.random()
    if r < 0.45:
        return [f"{name} = {A}[{_basic_key(g, sh)}]"]
    if r < 0.65:
        idx = _index_array(g, sh[0])
        form = R.choice([f"{A}[{idx}]", f"{A}[{idx}, ...]" if len(sh) > 1 else f"{A}[{idx}]",
                         f"xp.take({A}, {_index_array(g, sh[k])}, axis={k})",
                         f"{A}[..., {_index_array(g, sh[-1])}]"])
        return [f"{name} = {form}"]
    if r < 0.75:
        m = R.randint(1, 3)
        idx = np.array([R.randrange(sh[k]) for _ in range(int(np.prod(sh[:k] + (m,) + sh[k + 1:])))])
        idx = idx.reshape(sh[:k] + (m,) + sh[k + 1:])
        return [f"{name} = xp.take_along_axis({A}, xp.asarray({idx.tolist()!r}), axis={k})"]
    b = g.pick(lambda v: v.shape == sh) or a
    s = g.scalar()
    form = R.choice([f"xp.sum({A}[{A} > {s}])", f"xp.sum(xp.sin({A}[{b.name} > 0.0]))",
                     f"xp.sum({A}[{b.name} < {s}] * 2.0)", f"xp.mean({A}[xp.abs({A}) > 0.01])"])
    return [f"{name} = {form}"]


def _setitem(g: Gen, name):
    a = g.pick(lambda v: len(v.shape) >= 1)
    if a is None:
        return None
    R = g.R
    A = a.name
    sh = a.shape
    r = R.random()
    if r < 0.55:
        key = _basic_key(g, sh)
    elif r < 0.75:
        key = R.choice(["xp.asarray([0, 1])", "xp.asarray([1, 0])", f"xp.asarray([{sh[0] - 1}])", "xp.arange(2)",
                        "xp.asarray([0, 1]) + 1"])
    else:
        b = g.pick(lambda v: v.shape == sh) or a
        key = R.choice([f"{A} > 0.0", f"{b.name} < {g.scalar()}"])
    # the value: a scalar, or an array broadcasting to the key's shape (tried and tested)
    vals = [g.scalar(), g.scalar(), f"xp.sin({A}[{key}])" if ">" not in key and "<" not in key else "0.5",
            f"{A}[{key}] * 2.0" if ">" not in key and "<" not in key else g.scalar()]
    others = g.arrays()
    if others:
        c = R.choice(others)
        vals += [c.name, f"xp.tanh({c.name})"]
    return [f"{name} = xp.asarray({A}, copy=True)", f"{name}[{key}] = {R.choice(vals)}"]


def _views(g: Gen, name):
    """Writes into memory that views share: a view taken, the array or the view written (item
    assignment, an in-place operator), then both read. NumPy's answer is the reference: yota must
    give it or raise StaleViewError, never another number."""
    a = g.pick(lambda v: len(v.shape) >= 1)
    if a is None:
        return None
    R = g.R
    A, sh = a.name, a.shape
    n, w = name, f"{name}_w"
    s = g.scalar()
    b = g.pick(lambda v: v.shape == sh) or a
    view = R.choice([f"{n}[{_basic_key(g, sh)}]", f"xp.reshape({n}, {tuple(reversed(sh))!r})",
                     f"xp.permute_dims({n}, {tuple(reversed(range(len(sh))))!r})" if len(sh) > 1 else f"{n}[...]",
                     f"{n}", f"xp.asarray({n})"])
    write = R.choice([f"{n}[{_basic_key(g, sh)}] = {s}", f"{n}[{_basic_key(g, sh)}] = {s}",
                      f"{w}[...] = {s}", f"{w} *= {g.scalar(nonzero=True)}", f"{w} += {s}",
                      f"{n} += {b.name}", f"{n} *= {s}", f"{n} -= xp.tanh({b.name})"])
    read = R.choice([f"{n} = {n} * 1.0 + xp.sum({w})", f"{n} = xp.sum({w} * 2.0) + {n}",
                     f"{n} = {n} * xp.mean({w})", f"{n} = xp.sin({n}) + 0.0 * xp.sum({w})"])
    return [f"{n} = {A} * 1.0", f"{w} = {view}", write, read]


def _linalg(g: Gen, name):
    R = g.R
    a = g.pick(lambda v: len(v.shape) >= 1)
    if a is None:
        return None
    A = a.name
    sh = a.shape
    forms = []
    b_same = g.pick(lambda v: v.shape == sh)
    B = b_same.name if b_same is not None else A
    if len(sh) == 1:
        forms += [f"{A} @ {B}", f"xp.vecdot({A}, {B})", f"xp.linalg.outer({A}, {B})",
                  f"xp.tensordot({A}, {B}, axes=0)", f"xp.tensordot({A}, {B}, axes=1)",
                  f"xp.linalg.vecdot({A}, {B})", f"xp.matmul({A}, {B})"]
        if sh[0] == 3:
            forms.append(f"xp.linalg.cross({A}, {B})")
    if len(sh) >= 2:
        n = sh[-2]
        M = f"({A} @ xp.matrix_transpose({A}) + 3.0 * xp.eye({n}))"
        forms += [f"{A} @ xp.matrix_transpose({B})", f"xp.matmul({A}.mT, {B})", f"xp.vecdot({A}, {B}, axis={R.randrange(len(sh))})",
                  f"xp.tensordot({A}, {B}, axes=0)", f"xp.tensordot({A}, {B}, axes={len(sh)})",
                  f"xp.tensordot({A}, {B}, axes=([0], [0]))", f"xp.matrix_transpose({A}) @ {B}",
                  f"xp.linalg.inv({M})", f"xp.linalg.det({M})", f"xp.linalg.slogdet({M}).logabsdet",
                  f"xp.linalg.solve({M}, {A})", f"xp.linalg.cholesky({M})", f"xp.linalg.eigvalsh({M})",
                  f"xp.linalg.eigh({M}).eigenvalues", f"xp.linalg.matrix_norm({M})", f"xp.linalg.trace({M})",
                  f"xp.linalg.diagonal({M})", f"xp.linalg.pinv({M})", f"xp.linalg.matrix_power({M}, 2)",
                  f"xp.linalg.svdvals({M})", f"xp.linalg.matmul({A}, xp.matrix_transpose({B}))", f"xp.linalg.matrix_norm({A})",
                  f"xp.linalg.solve({M}, {A}[..., 0])" if len(sh) == 2 else f"xp.linalg.inv({M}) @ {A}"]
        c = g.pick(lambda v: len(v.shape) >= 1 and v.shape[0] == sh[-1] and len(v.shape) <= 2)
        if c is not None:
            forms += [f"{A} @ {c.name}", f"xp.tensordot({A}, {c.name}, axes=1)"]
    return [f"{name} = " + R.choice(forms)]


def _ints(g: Gen, name):
    R = g.R
    a = g.pick()
    n = g.pick(kind="int")
    if a is None:
        return None
    A = a.name
    forms = [f"xp.astype(xp.astype({A} * 2.0, xp.int64) + 1, {A}.dtype) * {A}",
             f"xp.astype(xp.astype({A} * 2.0, xp.int64) * 2, {A}.dtype) + {A}",
             f"xp.astype(xp.astype(xp.abs({A}) * 2.0, xp.int64) // 2, {A}.dtype) + {A}"]
    if n is not None and g.broadcastable(a)(n):
        N = n.name
        forms += [f"xp.astype((-1) ** {N}, xp.float64) * {A}", f"xp.pow(-1.0, xp.astype({N}, xp.float64)) * {A}",
                  f"xp.astype({N} + 1, {A}.dtype) * {A}", f"xp.astype({N} * 2, xp.float64) + {A}",
                  f"xp.astype({N} // 2 + {N} % 2, {A}.dtype) * {A}", f"xp.where({N} > 0, {A}, -{A})",
                  f"xp.astype(xp.pow(-1, {N}), {A}.dtype) * {A}", f"xp.astype(xp.pow(2, {N}), {A}.dtype) + {A}",
                  f"xp.astype(-{N}, {A}.dtype) * {A}", f"xp.astype(xp.abs({N} - 1), {A}.dtype) * {A}",
                  f"xp.astype(xp.maximum({N}, 1), {A}.dtype) * {A}", f"xp.astype({N} - 0, {A}.dtype) + {A}"]
    return [f"{name} = " + R.choice(forms)]


def _control(g: Gen, name):
    a = g.pick()
    if a is None:
        return None
    R = g.R
    A = a.name
    b = g.pick(g.broadcastable(a)) or a
    c = g.scalar() if R.random() < 0.5 else "0.0"
    cond = R.choice([f"xp.sum({A}) > {c}", f"float(xp.mean({A})) > {c}", f"xp.max({A}) > 0.5",
                     f"xp.sum({b.name} * {b.name}) > 1.0", f"bool(xp.min({A}) < {c})"])
    e1 = R.choice([f"xp.sin({A}) * {b.name}", f"{A} * 2.0", f"xp.exp(xp.tanh({A}))", f"{A} + {b.name}"])
    e2 = R.choice([f"xp.cos({A})", f"{A} * {b.name} - 1.0", f"-{A}", f"{A} * 0.5"])
    r = R.random()
    if r < 0.6:
        return [f"if {cond}:", f"    {name} = {e1}", "else:", f"    {name} = {e2}"]
    if r < 0.8:
        return [f"{name} = ({e1}) if {cond} else ({e2})"]
    return [f"{name} = {A}", "for _ in range(2):", f"    {name} = xp.sin({name}) * 0.9 + {b.name}"]


FAMILIES = [(_unary, 14), (_binary, 12), (_scalar_op, 14), (_astype, 4), (_creation, 6), (_reduction, 8),
            (_manip, 10), (_index, 9), (_setitem, 5), (_linalg, 6), (_ints, 2), (_control, 4), (_zeros, 2),
            (_pyfloat, 4), (_views, 5)]


# ---------------------------------------------------------------------- inputs

def _inputs(R: random.Random):
    nd = R.choice([0, 1, 1, 2, 2, 2, 3])
    base = tuple(R.choice([1, 2, 2, 3, 3, 4]) for _ in range(nd))
    dt = "float32" if R.random() < 0.12 else "float64"
    n_arr = R.choice([1, 1, 2, 2, 3])
    inputs = []
    for i in range(n_arr):
        if i == 0:
            shape = base
        else:
            r = R.random()
            if r < 0.4:
                shape = base
            elif r < 0.6:
                shape = base[R.randint(0, nd):] if nd else ()
            elif r < 0.75 and nd:
                k = R.randrange(nd)
                shape = base[:k] + (1,) + base[k + 1:]
            else:
                shape = tuple(R.choice([1, 2, 3]) for _ in range(R.randint(0, 2)))
        d = dt if R.random() < 0.85 else ("float64" if dt == "float32" else "float32")
        inputs.append(Input(f"x{i}", "arr", shape, d, closure=(i > 0 and R.random() < 0.15)))
    for i in range(R.choice([0, 0, 1, 1, 2])):
        inputs.append(Input(f"c{i}", "float", closure=R.random() < 0.5))
    if R.random() < 0.3:
        shape = R.choice([(2,), base[-1:] if base else (2,), base])
        inputs.append(Input("n0", "int", tuple(shape), "int64", closure=R.random() < 0.3))
    return inputs


def _values(inp: Input, rng: np.random.Generator):
    if inp.kind == "float":
        v = rng.uniform(0.2, 1.5) * rng.choice([-1.0, 1.0])
        return float(v)
    if inp.kind == "int":
        return rng.integers(0, 2, size=inp.shape).astype(np.int64)
    v = rng.standard_normal(inp.shape)
    return np.asarray(v, dtype=inp.dtype)


# ---------------------------------------------------------------------- running a program while building it

class Envs:
    """The program's variables at A and B, on NumPy and on array_api_strict."""

    def __init__(self, prog: Program):
        ns = namespaces()
        self.envs = []
        for where, point in (("numpy", prog.A), ("strict", prog.A), ("numpy", prog.B), ("strict", prog.B)):
            env = {"xp": ns["strict" if where == "strict" else "numpy"]}
            for inp in prog.inputs:
                env[inp.name] = _convert(inp, point[inp.name], where)
            self.envs.append(env)

    def run(self, lines, name) -> Val | None:
        src = "\n".join(lines)
        try:
            code = compile(src, "<stmt>", "exec")
        except SyntaxError:
            return None
        results = []
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for env in self.envs:
                try:
                    exec(code, env)
                    v = env[name]
                except Exception:
                    self.forget(name)
                    return None
                results.append(v)
        for v in results:
            if not _ok_value(v):
                self.forget(name)
                return None
        vals = [_val_of(name, v) for v in results]
        if any(v is None for v in vals) or len({(v.kind, v.shape, v.dtype) for v in vals}) != 1:
            self.forget(name)
            return None
        # a Python float or an int64 0-d that NumPy makes a scalar stays as the array the standard makes
        return vals[1]

    def forget(self, name):
        for env in self.envs:
            env.pop(name, None)


def generate(seed: int, n_stmts: int | None = None) -> Program:
    """A random program; the same seed gives the same program."""
    R = random.Random(seed * 7919 + 13)
    rng = np.random.default_rng(seed)
    inputs = _inputs(R)
    A = {i.name: _values(i, rng) for i in inputs}
    B = {i.name: _values(i, rng) for i in inputs}
    prog = Program(seed, inputs, [], "", A, B)
    g = Gen(seed)
    g.R = R
    envs = Envs(prog)
    for inp in inputs:
        g.pool.append(Val(inp.name, inp.kind, inp.shape, inp.dtype))
    target = n_stmts if n_stmts is not None else R.randint(2, 10)
    fams, weights = zip(*FAMILIES)
    tries = 0
    while len(prog.body) < target and tries < 40 * target:
        tries += 1
        fam = R.choices(fams, weights)[0]
        name = f"v{len(prog.body) + 1}"
        try:
            lines = fam(g, name)
        except (ValueError, IndexError):  # a template that does not fit this value (a 0-size axis)
            continue
        if not lines:
            continue
        val = envs.run(lines, name)
        if val is None:
            continue
        prog.body.append(lines)
        g.pool.append(val)
        prog.shapes[name] = (val.shape, val.dtype)
    prog.ret = _return(g, prog, envs)
    return prog


def _return(g: Gen, prog: Program, envs: Envs) -> str:
    R = g.R
    text = "\n".join(ln for st in prog.body for ln in st)
    floats = [v for v in g.pool if v.kind == "arr"]
    # sinks (values no later statement uses) must reach the output, or they are dead code
    sinks = [v for v in floats if v.name.startswith("v") and
             not re.search(rf"\b{v.name}\b", text.split(f"{v.name} =", 1)[-1].split("\n", 1)[-1])]
    if not sinks:
        sinks = floats[-1:]
    extra = [v for v in floats if v not in sinks and R.random() < 0.25]
    terms = []
    for v in sinks + extra:
        form = R.choice(["xp.sum({t})", "xp.sum(xp.sin({t}))", "xp.mean({t} * {t})", "xp.sum(xp.tanh({t})) * 0.5",
                         "xp.sum({t})", "xp.sum({t} * {t}) * 0.1"] + (["{t}"] if v.shape == () else []))
        terms.append(form.format(t=v.name))
    for v in g.pool:
        if v.kind == "float" and R.random() < 0.5:
            terms.append(R.choice([f"{v.name} * 0.7", f"xp.sin({v.name})" if False else f"{v.name} * {v.name}"]))
    for attempt in range(5):
        ret = " + ".join(terms)
        val = envs.run([f"__ret = {ret}"], "__ret")
        if val is not None and val.kind == "arr" and val.shape == ():
            return ret
        if len(terms) > 1:
            terms.pop()
    return f"xp.sum({floats[0].name})"


def defined_name(stmt):
    for ln in stmt:
        m = re.match(r"\s*(v\d+)\s*=", ln)
        if m:
            return m.group(1)
    return None


def valid(prog: Program) -> bool:
    """Does the program run, within bounds, on NumPy and array_api_strict at A and B?"""
    envs = Envs(prog)
    prog.shapes = {}
    for i, st in enumerate(prog.body):
        name = defined_name(st)
        if name is None:
            return False
        val = envs.run(st, name)
        if val is None:
            return False
        prog.shapes[name] = (val.shape, val.dtype)
    val = envs.run([f"__ret = {prog.ret}"], "__ret")
    return val is not None and val.kind == "arr" and val.shape == ()
