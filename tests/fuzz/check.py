"""Check one program on one backend: yota.grad against the plain program and finite differences.

``check(prog, backend)`` returns a `Result`:

* ``ok``               every call agreed;
* ``fail``             a silent wrong answer (value, gradient, gradient type) or an error on a
                       cached call after the first call worked: ``failures`` says which;
* ``yota_error``       the first call raised a clear `yota.YotaError`;
* ``crash``            the first call raised something else (an unclear error: worth a look);
* ``backend_rejects``  the program itself fails on that backend without yota, or gives another
                       value than on NumPy (Dask's writes do not reach views);
* ``inconclusive``     a gradient differed from finite differences that are themselves
                       unstable (a kink near the point): not counted.

The calls: first at A (traces), then at B (must be served from the cache unless a guard
sends it down another branch), then at A again; then, caches emptied, a fresh trace at B,
which must agree with the cached call at B.
"""
from __future__ import annotations

import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

import yota
from yota.tangents import NoTangent, Tangent, ZeroTangent

from .programs import Program, run_reference

__all__ = ["check", "Result", "Failure", "BACKENDS"]

BACKENDS = ("numpy", "array_api_strict", "dask")


@dataclass
class Failure:
    kind: str        # value, grad, type, cached-raises, retraced, inconsistent
    call: str        # first, cached, third, fresh
    where: str       # which leaf / what
    message: str

    @property
    def signature(self):
        return (self.kind, self.call if self.call != "third" else "cached", self.where.split("[")[0])


@dataclass
class Result:
    status: str
    failures: list = field(default_factory=list)
    error: str = ""

    @property
    def signature(self):
        if self.status != "fail":
            return (self.status,)
        return tuple(sorted({f.signature for f in self.failures}))


# ---------------------------------------------------------------------- backends

def _backend_array(backend, a, dtype):
    a = np.asarray(a, dtype=dtype)
    if backend == "numpy":
        return a.copy()
    if backend == "dask":
        import dask.array as da
        return da.from_array(a, chunks=tuple(max(1, (n + 1) // 2) for n in a.shape))
    if backend == "cupy":
        import cupy
        return cupy.asarray(a)
    import array_api_strict
    return array_api_strict.asarray(a)


def _plain_namespace(backend, x):
    if backend == "dask":
        from yota.backends import dask
        return dask.namespace
    from array_api_compat import array_namespace
    return array_namespace(x)


def _np(x):
    mod = type(x).__module__.split(".")[0]
    if mod == "dask":
        return np.asarray(x.compute())
    if mod == "cupy":
        return x.get()
    return np.asarray(x)


def _compute(tree):
    """Dask: compute every lazy leaf of (value, grads) in one go."""
    import dask
    leaves = []

    def walk(x):
        if isinstance(x, Tangent):
            for _, v in x:
                walk(v)
        elif isinstance(x, (tuple, list)):
            for v in x:
                walk(v)
        elif type(x).__module__.split(".")[0] == "dask":
            leaves.append(x)
    walk(tree)
    if not leaves:
        return {}
    done = dask.compute(*leaves)
    return {id(a): np.asarray(b) for a, b in zip(leaves, done)}


# ---------------------------------------------------------------------- the reference

class Reference:
    """The program on NumPy: values at A and B, finite-difference gradients."""

    def __init__(self, prog: Program):
        self.prog = prog
        self.low = prog.low_precision
        # float32 programs: steps the float32 rounding does not swamp, and a small one the float64
        # reference (`upcast`) takes, to tell a kink crossed by the large steps from a wrong gradient
        self.eps = (1e-3, 3e-3, 1e-6) if self.low else (1e-6, 1e-4)
        self.diff = [i for i in prog.inputs if i.kind in ("arr", "float")]
        self._fd = {}
        self.values = {}
        for label, point in (("A", prog.A), ("B", prog.B)):
            self.values[label] = np.asarray(_np(run_reference(prog, point)))

    def loss(self, point):
        return float(np.asarray(run_reference(self.prog, point, upcast=True), dtype=np.float64))

    def fd(self, label, name, k=0):
        """Central differences of the output w.r.t. every element of input ``name`` (eps number k)."""
        key = (label, name, k)
        if key in self._fd:
            return self._fd[key]
        point = dict(self.prog.A if label == "A" else self.prog.B)
        eps = self.eps[k]
        x = np.asarray(point[name], dtype=np.float64)
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            up, dn = x.copy(), x.copy()
            up[idx] += eps
            dn[idx] -= eps
            for v, slot in ((up, "up"), (dn, "dn")):
                pass
            pu = dict(point)
            pd = dict(point)
            if x.shape == () and isinstance(point[name], float):
                pu[name], pd[name] = float(up), float(dn)
            else:
                pu[name], pd[name] = up, dn
            g[idx] = (self.loss(pu) - self.loss(pd)) / (2 * eps)
        self._fd[key] = g
        return g

    def close(self, got, want, scale=None):
        rtol, atol = (3e-2, 3e-3) if self.low else (1e-4, 1e-6)
        s = max(1.0, float(np.max(np.abs(want), initial=0.0))) if scale is None else scale
        return bool(np.all(np.abs(got - want) <= atol * s + rtol * np.abs(want)))


# ---------------------------------------------------------------------- gradients: types

def _leaf_type_problem(backend, inp, g, point_value):
    """A description of what is wrong with the gradient's type, or None."""
    if inp.kind == "int":
        return None if isinstance(g, NoTangent) else f"integer input got {type(g).__name__}, not NoTangent()"
    if isinstance(g, ZeroTangent):
        return None
    if inp.kind == "float":
        if type(g) is float:
            return None
        if backend == "dask" and type(g).__module__.split(".")[0] == "dask" and getattr(g, "shape", None) == ():
            return None
        return f"Python float input got {type(g).__module__}.{type(g).__name__}, not float"
    mod = type(point_value).__module__.split(".")[0]
    gmod = type(g).__module__.split(".")[0]
    if backend == "numpy" and type(g) is not np.ndarray:
        return f"NumPy array input got {type(g).__module__}.{type(g).__name__}, not numpy.ndarray"
    if gmod != mod:
        return f"{mod} array input got a {type(g).__module__}.{type(g).__name__}"
    gd = str(getattr(g, "dtype", "?")).replace("array_api_strict.", "")
    if gd != inp.dtype:
        return f"dtype {gd}, input is {inp.dtype}"
    if tuple(getattr(g, "shape", ())) != tuple(inp.shape):
        return f"shape {tuple(getattr(g, 'shape', ()))}, input is {inp.shape}"
    return None


def _flat_grads(prog, g):
    """{input name: gradient} from yota's (fn_grad, *arg_grads)."""
    out = {}
    fg = g[0]
    kinds = {i.name: i.kind for i in prog.inputs}
    for n in prog.closure_names:
        if isinstance(fg, ZeroTangent):
            # a function whose closure has no gradient: ZeroTangent() as a whole
            out[n] = NoTangent() if kinds[n] == "int" else fg
        elif isinstance(fg, Tangent):
            try:
                out[n] = fg[n]
            except KeyError:
                out[n] = "missing"
        else:
            out[n] = f"fn_grad is {type(fg).__name__}"
    for n, gi in zip(prog.arg_names, g[1:]):
        out[n] = gi
    return out


def _type_sig(x):
    if isinstance(x, (ZeroTangent, NoTangent)):
        return type(x).__name__
    return (type(x).__name__, str(getattr(x, "dtype", "")), tuple(getattr(x, "shape", ()) or ()))


# ---------------------------------------------------------------------- the check

def _make_fn(prog):
    from array_api_compat import array_namespace
    env = {"array_namespace": array_namespace}
    exec(prog.source() + "\n" + prog.wrapper_source(), env)
    return env["make"]


def _call(prog, make, point_b):
    fn = make(*[point_b[n] for n in prog.closure_names])
    return yota.grad(fn, *[point_b[n] for n in prog.arg_names])


def _short(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]


def check(prog: Program, backend: str, ref: Reference | None = None, fresh: bool = True) -> Result:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return _check(prog, backend, ref, fresh)
        finally:
            yota.reset()


def _check(prog, backend, ref, fresh):
    if ref is None:
        ref = Reference(prog)
    make = _make_fn(prog)
    points = {}
    for label, P in (("A", prog.A), ("B", prog.B)):
        points[label] = {i.name: (float(P[i.name]) if i.kind == "float" else _backend_array(backend, P[i.name], i.dtype))
                         for i in prog.inputs}
    # the program on the backend, without yota
    try:
        first_arr = points["A"][prog.arg_names[0]]
        xp = _plain_namespace(backend, first_arr)
        plain = prog_fn(prog)(xp, *[points["A"][i.name] for i in prog.inputs])
        plain_type = type(plain)
        plain_value = np.asarray(_np(plain), dtype=np.float64)
    except Exception as e:  # noqa: BLE001
        return Result("backend_rejects", error=_short(e))
    if not np.allclose(plain_value, np.asarray(ref.values["A"], dtype=np.float64), rtol=1e-3, atol=1e-6,
                       equal_nan=True):
        # the library's own semantics differ from NumPy's (Dask writes functionally, so a view does
        # not see a later write): NumPy's answer is not this backend's; the value is still checked
        # against the plain program on it, traced and cached
        try:
            for _ in range(2):
                v = np.asarray(_np(_call(prog, make, points["A"])[0]), dtype=np.float64)
                if not np.allclose(v, plain_value, rtol=1e-6, atol=1e-9, equal_nan=True):
                    return Result("fail", [Failure("value", "first", "value",
                                                   f"yota {v}, the plain program on {backend} {plain_value}")])
        except yota.YotaError as e:
            return Result("yota_error", error=_short(e))
        return Result("backend_rejects", error="the plain program gives another value than on NumPy")

    failures: list[Failure] = []
    yota.reset()
    results = {}
    try:
        results["first"] = _call(prog, make, points["A"])
    except yota.YotaError as e:
        return Result("yota_error", error=_short(e))
    except Exception as e:  # noqa: BLE001
        return Result("crash", error=_short(e) + "\n" + "".join(traceback.format_exc().splitlines(True)[-6:]))
    info1 = yota.cache_info()
    for label, call in (("B", "cached"), ("A", "third")):
        try:
            results[call] = _call(prog, make, points[label])
        except Exception as e:  # noqa: BLE001
            failures.append(Failure("cached-raises", call, type(e).__name__, _short(e)))
            return Result("fail", failures)
        if call == "cached":
            info2 = yota.cache_info()
            if info2["traces"] != info1["traces"] and info2["guard_misses"] == info1["guard_misses"]:
                failures.append(Failure("retraced", call, "", "the second call traced again without a guard miss"))
            if info2["hits"] == info1["hits"] and info2["guard_misses"] == info1["guard_misses"]:
                failures.append(Failure("retraced", call, "", "the second call was not served from the cache"))
    if fresh:
        yota.reset()
        try:
            results["fresh"] = _call(prog, make, points["B"])
        except Exception as e:  # noqa: BLE001
            failures.append(Failure("fresh-raises", "fresh", type(e).__name__, _short(e)))

    lazy = {}
    if backend == "dask":
        try:
            lazy = _compute(tuple(results.values()))
        except Exception as e:  # noqa: BLE001
            failures.append(Failure("cached-raises", "compute", type(e).__name__, _short(e)))
            return Result("fail", failures)

    def num(x):
        if id(x) in lazy:
            return lazy[id(x)]
        return np.asarray(_np(x), dtype=np.float64) if not isinstance(x, (ZeroTangent, NoTangent)) else x

    inputs = {i.name: i for i in prog.inputs}
    inconclusive = False
    for call, (val, g) in results.items():
        label = "A" if call in ("first", "third") else "B"
        # the value
        try:
            v = np.asarray(num(val), dtype=np.float64)
        except Exception as e:  # noqa: BLE001
            failures.append(Failure("value", call, "type", f"value {type(val).__name__} not an array: {_short(e)}"))
            continue
        want = ref.values[label]
        rv, av = (2e-3, 1e-3) if ref.low else (1e-6, 1e-8)
        if v.shape != () or not np.allclose(v, want, rtol=rv, atol=av * max(1.0, abs(float(want)))):
            failures.append(Failure("value", call, "value", f"yota {v!r}, reference {want!r}"))
        if call == "first" and type(val) is not plain_type and backend != "dask":
            failures.append(Failure("type", call, "value", f"value is {type(val).__name__}, the program "
                                                            f"returns {plain_type.__name__}"))
        if call == "first" and backend == "dask" and type(val).__module__.split(".")[0] != "dask":
            failures.append(Failure("type", call, "value", f"value is {type(val).__name__} on Dask"))
        # the gradients
        flat = _flat_grads(prog, g)
        if prog.closure_names and not isinstance(g[0], (Tangent, ZeroTangent)):
            failures.append(Failure("type", call, "fn_grad", f"fn_grad is {type(g[0]).__name__}"))
        for name, gi in flat.items():
            inp = inputs[name]
            if isinstance(gi, str):
                failures.append(Failure("type", call, f"closure {name}", gi))
                continue
            prob = _leaf_type_problem(backend, inp, gi, points[label][name])
            if prob:
                failures.append(Failure("type", call, f"{inp.kind} {'closure' if inp.closure else 'arg'}"
                                                      f"[{name}]", prob))
                if "NoTangent" in prob or "missing" in prob:
                    continue
            if inp.kind == "int":
                continue
            if call == "fresh":
                continue  # compared with the cached call below
            got = np.zeros(inp.shape) if isinstance(gi, ZeroTangent) else num(gi)
            try:
                got = np.asarray(got, dtype=np.float64).reshape(inp.shape)
            except Exception:  # noqa: BLE001
                failures.append(Failure("type", call, f"shape[{name}]", f"gradient shape {np.shape(got)}"))
                continue
            fd = ref.fd(label, name)
            if not np.all(np.isfinite(got)) and call == "first":
                inconclusive = True  # nan/inf where differences are finite: a singular point (sqrt at 0)
                continue
            if not ref.close(got, fd):
                fd2 = ref.fd(label, name, 1)
                if not ref.close(fd, fd2) or not np.all(np.isfinite(fd)):
                    inconclusive = True
                    continue
                if ref.low and ref.close(got, ref.fd(label, name, 2)):
                    inconclusive = True  # both float32 steps cross a kink the small float64 step does not
                    continue
                failures.append(Failure("grad", call, f"{inp.kind} {'closure' if inp.closure else 'arg'}[{name}]",
                                        f"yota\n{got}\nfinite differences\n{fd}"))
    # the cached call against a fresh trace at the same values, and the third against the first
    for a, b in (("cached", "fresh"), ("third", "first")):
        if a not in results or b not in results:
            continue
        (va, ga), (vb, gb) = results[a], results[b]
        fa, fb = _flat_grads(prog, ga), _flat_grads(prog, gb)
        for name in fa:
            sa, sb = _type_sig(fa[name]), _type_sig(fb[name])
            if sa != sb and not (isinstance(fa[name], ZeroTangent) or isinstance(fb[name], ZeroTangent)):
                failures.append(Failure("type", a, f"vs {b}[{name}]", f"{a}: {sa}, {b}: {sb}"))
            if inputs[name].kind == "int" or isinstance(fa[name], str) or isinstance(fb[name], str):
                continue
            try:
                xa = np.zeros(inputs[name].shape) if isinstance(fa[name], ZeroTangent) else num(fa[name])
                xb = np.zeros(inputs[name].shape) if isinstance(fb[name], ZeroTangent) else num(fb[name])
                xa = np.asarray(xa, dtype=np.float64)
                xb = np.asarray(xb, dtype=np.float64)
                same = xa.shape == xb.shape and np.allclose(xa, xb, rtol=1e-3 if ref.low else 1e-7,
                                                           atol=(1e-4 if ref.low else 1e-9) * max(
                                                               1.0, float(np.max(np.abs(xb), initial=0))),
                                                           equal_nan=True)
            except Exception:  # noqa: BLE001
                same = False
            if not same:
                failures.append(Failure("inconsistent", a, f"grad vs {b}[{name}]",
                                        f"{a}:\n{xa}\n{b}:\n{xb}"))
        try:
            same = np.allclose(num(va), num(vb), rtol=1e-3 if ref.low else 1e-7, atol=1e-9, equal_nan=True)
        except Exception:  # noqa: BLE001
            same = False
        if not same:
            failures.append(Failure("inconsistent", a, f"value vs {b}", f"{a}: {num(va)!r}, {b}: {num(vb)!r}"))
    if inconclusive and not any(f.kind != "type" for f in failures):
        if not failures:
            return Result("inconclusive")
    return Result("fail" if failures else "ok", failures)


def prog_fn(prog):
    env = {}
    exec(prog.source(), env)
    return env["prog"]
