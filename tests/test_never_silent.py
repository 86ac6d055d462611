"""Where yota cannot give the right result it raises, naming the user's line.

Grouped by mechanism: Python numbers made from traced values, what a call may
take and return, rule authors' mistakes, structures, gradient arithmetic, and
literals that must survive code generation exactly.
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota
from _helpers import check, namespace_of
from yota.testing import check_grad, to_numpy

HERE = "test_never_silent.py:"


# --------------------------------------------------------------------------- Python numbers

@pytest.mark.parametrize("convert", [
    lambda s: math.exp(s) * s,
    lambda s: np.float64(s) * s,
    lambda s: float(s),
    lambda s: complex(s) * s,
    lambda s: math.log(s * s + 1.0),
], ids=["math.exp", "np.float64", "float", "complex", "math.log"])
def test_python_numbers_of_differentiable_values_raise(backend, convert):
    x = backend.asarray([0.5, -1.0, 2.0])

    def f(x):
        xp = namespace_of(x)
        return convert(xp.sum(x))

    with pytest.raises(TypeError, match="stop_gradient") as e:
        yota.grad(f, x)
    assert HERE in str(e.value)


@pytest.mark.parametrize("catch", ["TypeError", "Exception", "bare"])
@pytest.mark.parametrize("convert", [
    lambda s: float(s),
    lambda s: math.exp(s),
    lambda s: np.asarray(s).item(),
], ids=["float", "math.exp", "np.asarray"])
def test_an_error_the_traced_code_catches_and_goes_on_raises(backend, convert, catch):
    # The plain call converts without raising; code that catches yota's error and goes on
    # (s = 1.0) computes what the plain call does not: the trace fails, naming the `try`.
    x = backend.asarray([0.5, -1.0, 2.0])

    def f(x):
        xp = namespace_of(x)
        if catch == "TypeError":
            try:
                s = convert(xp.sum(x))
            except TypeError:
                s = 1.0
        elif catch == "Exception":
            try:
                s = convert(xp.sum(x))
            except Exception:  # noqa: BLE001 - the pattern under test
                s = 1.0
        else:
            try:
                s = convert(xp.sum(x))
            except:  # noqa: E722 - the pattern under test
                s = 1.0
        return xp.sum(x * x) * s

    with pytest.raises(yota.errors.CaughtError, match="caught an error yota raised") as e:
        yota.grad(f, x)
    assert HERE in str(e.value) and "ConcretizationError" in str(e.value)
    with pytest.raises(yota.errors.CaughtError):  # nothing was cached
        yota.grad(f, x)


def test_errors_the_plain_call_raises_too_may_be_caught(backend):
    # a rule's own error (a singular solve), a name the namespace lacks (feature detection),
    # an attribute probed with hasattr: the plain call raises or answers the same way
    x = backend.asarray([0.5, -1.0, 2.0])

    def f(x):
        xp = namespace_of(x)
        try:
            s = xp.sum(xp.linalg.solve(xp.zeros((3, 3)) * x[0], x)) if backend.name == "numpy" else xp.sum(x)
        except Exception:  # noqa: BLE001 - the plain call raises LinAlgError too
            s = xp.sum(x)
        try:
            s = s * xp.no_such_function(x)
        except AttributeError:
            s = s * 2.0
        if hasattr(x, "no_such_attribute"):
            s = s * 3.0
        return xp.sum(x * x) * s

    check_grad(f, x)


def test_a_caught_error_inside_a_nested_trace_raises(rng):
    def inner(x):
        xp = array_namespace(x)
        try:
            s = float(xp.sum(x))
        except TypeError:
            s = 1.0
        return xp.sum(x * x) * s

    def outer(x):
        return yota.grad(inner, x)[0] * 2.0

    with pytest.raises(yota.errors.CaughtError):
        yota.grad(outer, rng.standard_normal(3))


def test_control_flow_and_integer_conversions_stay_legal(backend):
    def f(x, n):
        xp = namespace_of(x)
        loss = xp.sum(x * x)
        while loss > 1.0:  # a comparison: a guard
            loss = loss / 2
        k = int(xp.argmax(x))  # an integer array: a guard
        return loss + x[k] * n[int(n.shape[0]) - 1]

    n = backend.asarray(np.array([1.0, 2.0]))
    check_grad(f, backend.asarray([0.5, -1.0, 2.0]), n)


def test_stop_gradient_for_logging(backend):
    def f(x):
        xp = namespace_of(x)
        loss = xp.sum(x * x)
        frozen = yota.stop_gradient(loss)
        return loss + frozen  # the frozen copy carries no gradient

    x = backend.asarray([0.5, -1.0, 2.0])
    for scale in (1.0, 2.0):
        g = yota.grad(f, x * scale)[1][1]
        np.testing.assert_allclose(to_numpy(g), 2 * to_numpy(x) * scale)


# --------------------------------------------------------------------------- what a call takes and returns

def test_a_complex_output_needs_a_seed(rng):
    z = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    with pytest.raises(ValueError, match="complex") as e:
        yota.grad(lambda z: array_namespace(z).sum(z * z), z)
    assert HERE in str(e.value)
    val, g = yota.grad(lambda z: array_namespace(z).sum(z * z), z, seed=np.asarray(1.0 + 0j))
    np.testing.assert_allclose(g[1], 2 * z)  # JAX's grad(holomorphic=True): f'(z)


@pytest.mark.parametrize("wrt", [5, -1, "a", (1, 7), (), 1.0, True])
def test_wrt_out_of_range_or_of_the_wrong_type(rng, wrt):
    with pytest.raises(ValueError, match="wrt") as e:
        yota.grad(lambda x: array_namespace(x).sum(x), rng.random(3), wrt=wrt)
    assert HERE in str(e.value)


def test_calls_without_arrays():
    w = np.array([1.0, 2.0])
    assert yota.grad(lambda: 1.0) == (1.0, (yota.ZeroTangent(),))
    assert yota.grad(lambda a: a * 2.0, 3) == (6.0, (yota.ZeroTangent(), yota.NoTangent()))
    val, g = yota.grad(lambda: array_namespace(w).sum(w * w))  # a closure only
    np.testing.assert_allclose(g[0].w, 2 * w)


@pytest.mark.parametrize("result", [None, "text", b"bytes"], ids=["None", "str", "bytes"])
def test_functions_returning_non_values(rng, result):
    with pytest.raises(TypeError, match="returned") as e:
        yota.grad(lambda x: result, rng.random(2))
    assert HERE in str(e.value)


def test_generators_and_coroutines_are_refused(rng):
    async def coro(x):
        return x

    with pytest.raises(TypeError, match="generator"):
        yota.grad(lambda x: (y for y in [x]), rng.random(2))
    with pytest.raises(TypeError, match="coroutine"):
        yota.grad(coro, rng.random(2))


def test_the_first_argument_must_be_callable(rng):
    with pytest.raises(ValueError, match="function to differentiate"):
        yota.grad(rng.random(2))


# --------------------------------------------------------------------------- rule authors' mistakes

@pytest.mark.parametrize("cotangents", [1, 3])
def test_a_pullback_with_the_wrong_number_of_cotangents(rng, cotangents):
    @yota.primitive
    def mul(a, b):
        return a * b

    @yota.rrule(mul)
    def _(xp, a, b):
        return mul(a, b), lambda g: (g * b, g * a, g)[:cotangents]

    x = rng.random(3)
    with pytest.raises(yota.errors.RuleError, match=f"{cotangents} cotangents for 2 positional") as e:
        yota.grad(lambda a: array_namespace(a).sum(mul(a, a)), x)
    assert "'mul'" in str(e.value)


def test_a_cotangent_of_the_wrong_shape(rng):
    @yota.primitive
    def ident(a):
        return a

    @yota.rrule(ident)
    def _(xp, a):
        return ident(a), lambda g: (xp.sum(g),)

    with pytest.raises(yota.errors.RuleError, match=r"shape \(\) for an argument of shape \(3,\)"):
        yota.grad(lambda a: array_namespace(a).sum(ident(a)), rng.random(3))


def test_errors_inside_rules_keep_their_type(rng):
    x = rng.random(3)
    with pytest.raises(ValueError):  # numpy's AxisError is a ValueError and an IndexError
        yota.grad(lambda a: array_namespace(a).sum(array_namespace(a).expand_dims(a, axis=9)), x)
    with pytest.raises(IndexError):
        yota.grad(lambda a: array_namespace(a).sum(array_namespace(a).expand_dims(a, axis=9)), x)
    with pytest.raises(yota.errors.RuleError):
        yota.grad(lambda a: array_namespace(a).sum(array_namespace(a).expand_dims(a, axis=9)), x)


def test_registration_needs_a_known_name_or_a_primitive():
    with pytest.raises(TypeError, match="Did you mean 'tanh'"):
        yota.rrule("tanhh")
    with pytest.raises(TypeError, match="@yota.primitive"):
        yota.rrule(len)

    def plain(x):
        return x

    with pytest.raises(TypeError, match="@yota.primitive"):
        yota.rrule(plain)


def test_every_standard_rule_is_registered_once():
    # importing the rules again would warn for each one registered twice
    import importlib

    import yota.rules as rules
    saved = {n: d.rule for n, d in yota.ops.OPS.items()}
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            for mod in ("creation", "elementwise", "fft", "indexing", "linalg", "manipulation", "reductions",
                        "searching"):
                for entry in yota.ops.OPS.values():
                    if getattr(entry.rule, "fn", None) is not None and \
                            getattr(entry.rule.fn, "__module__", "") == f"yota.rules.{mod}":
                        entry.rule = None
                importlib.reload(getattr(rules, mod))
        assert not [x for x in w if "replaces the rule" in str(x.message)], [str(x.message) for x in w]
    finally:
        for n, r in saved.items():
            yota.ops.OPS[n].rule = r
        yota.reset()


# --------------------------------------------------------------------------- structures

def test_slots_and_the_dict_of_a_subclass_are_all_fields(backend):
    # a base class with __slots__ and a subclass without: the object has slots and a __dict__;
    # every field takes part (the slot was lost: the traced object lacked it)
    class Base:
        __slots__ = ("w",)

    class Sub(Base):
        pass

    o = Sub()
    o.w, o.k = backend.asarray(np.array([1.0, 2.0])), 3.0
    x = backend.asarray(np.ones(2))

    def f(o, x):
        return namespace_of(x).sum(o.w * x) * o.k

    for w in ([1.0, 2.0], [5.0, -1.0]):  # traced, then cached with new values
        o.w = backend.asarray(np.array(w))
        _, g = yota.grad(f, o, x)
        assert set(g[1].fields) == {"w", "k"}
        np.testing.assert_allclose(to_numpy(g[1].w), np.full(2, 3.0))
        assert g[1].k == pytest.approx(sum(w))
        np.testing.assert_allclose(to_numpy(g[2]), 3.0 * np.array(w))
    # arrays only (the call's fast path): the slot is a field there too
    del o.k
    for w in ([1.0, 2.0], [5.0, -1.0], [0.5, 0.5]):
        o.w, o.v = backend.asarray(np.array(w)), backend.asarray(np.array([3.0, 4.0]))
        g = yota.grad(lambda o: namespace_of(o.v).sum(o.w * o.v), o)[1][1]
        np.testing.assert_allclose(to_numpy(g.w), [3.0, 4.0])
        np.testing.assert_allclose(to_numpy(g.v), w)


def test_slots_redeclared_in_a_subclass_are_one_field(backend):
    class A:
        __slots__ = ("x",)

    class B(A):
        __slots__ = ("x", "y")

    b = B()
    b.x, b.y = backend.asarray([1.0, 2.0]), 3

    for seed in (None, "ones"):
        f = (lambda o: namespace_of(o.x).sum(o.x * o.x)) if seed is None else (lambda o: o.x * o.x)
        g = yota.grad(f, b, seed=seed)[1][1]
        assert set(g.fields) == {"x", "y"}
        np.testing.assert_allclose(to_numpy(g.x), 2 * to_numpy(b.x))


def test_structured_results_of_any_sequence_type(rng):
    """Libraries return results as namedtuples (NumPy's slogdet) or as struct
    sequences that take one iterable (torch.return_types): both are rebuilt."""
    class StructSeq(tuple):
        def __new__(cls, items):
            return super().__new__(cls, items)

    @yota.primitive
    def split(x):
        return StructSeq((x * 2.0, x * 3.0))

    @yota.rrule(split)
    def _(xp, x):
        a, b = split(x)
        return StructSeq((a, b)), lambda gs: (gs[0] * 2.0 + gs[1] * 3.0,)

    def f(x):
        a, b = split(x)
        return array_namespace(x).sum(a * b)

    check_grad(f, rng.random(3))
    check_grad(lambda a: array_namespace(a).sum(array_namespace(a).linalg.slogdet(a).logabsdet),
               rng.random((3, 3)) + 3 * np.eye(3))


# --------------------------------------------------------------------------- gradient arithmetic

@dataclass
class Linear:
    W: np.ndarray
    b: np.ndarray


def test_hand_written_sgd_with_zero_tangents(rng):
    m = Linear(rng.random((2, 3)), rng.random(2))
    X = rng.random(3)
    _, g = yota.grad(lambda m, X: array_namespace(X).sum(m.W @ X), m, X)
    assert g[1].b == yota.ZeroTangent()
    np.testing.assert_allclose(m.b - 0.01 * g[1].b, m.b)
    np.testing.assert_allclose(m.b + g[1].b * 0.5, m.b)
    np.testing.assert_allclose(g[1].b - m.b, -m.b)
    assert g[1].b / 2.0 == yota.ZeroTangent() and -g[1].b == yota.ZeroTangent()
    assert 2.0 - yota.NoTangent() == 2.0


def test_tangents_add_and_scale_field_by_field(rng):
    m = Linear(rng.random((2, 3)), rng.random(2))
    _, g = yota.grad(lambda m: array_namespace(m.W).sum(m.W * m.W) + array_namespace(m.b).sum(m.b), m)
    t = g[1]
    for got, want_W in ((t + t, 4 * m.W), (0.5 * t, m.W), (t * 2, 4 * m.W), (-t, -2 * m.W), (t / 4, m.W / 2),
                        (t - t, 0 * m.W), (t + yota.ZeroTangent(), 2 * m.W), (yota.ZeroTangent() + t, 2 * m.W)):
        assert isinstance(got, yota.Tangent) and got.primal_type is Linear
        np.testing.assert_allclose(got.W, want_W)
    with pytest.raises(TypeError, match="cannot combine"):
        _ = t + yota.Tangent(namedtuple("Other", "W b"), W=1.0, b=1.0)


# --------------------------------------------------------------------------- literals

@pytest.mark.parametrize("f", [
    lambda xp, x: xp.pow(-1, x),
    lambda xp, x: (-2) ** x,
    lambda xp, x: x * complex(0.0, -0.0),
    lambda xp, x: x * (1 - 0j),
    lambda xp, x: x + complex(math.nan, 1.0),
    lambda xp, x: x + math.inf,
    lambda xp, x: x * -0.0,
    lambda xp, x: x + 0,
    lambda xp, x: (x * 0.0) - (x * -0.0),
    lambda xp, x: xp.where(x > 0, -0.0, 0.0),
], ids=["pow(-1,x)", "(-2)**x", "complex(0,-0)", "1-0j", "nan+1j", "inf", "times -0.0", "plus int 0",
        "0.0 vs -0.0", "signed zero branches"])
def test_compiled_code_reads_back_the_recorded_literal(f):
    x = np.array([-0.0, 1.0, 2.0, -3.0])
    g = lambda x: f(array_namespace(x), x)  # noqa: E731
    traced, tape = yota.trace(g, x)
    compiled = yota.compile(tape)(g, x)
    assert compiled.dtype == traced.dtype and compiled.shape == traced.shape
    np.testing.assert_array_equal(np.signbit(np.real(compiled)), np.signbit(np.real(traced)))
    np.testing.assert_array_equal(np.signbit(np.imag(compiled)), np.signbit(np.imag(traced)))
    np.testing.assert_array_equal(compiled, traced)


def test_integer_constants_stay_integers(backend):
    xi = backend.asarray(np.array([1, 2, 3]))
    add2 = lambda x: namespace_of(x).add(x, 2)  # noqa: E731
    traced, tape = yota.trace(add2, xi)
    out = yota.compile(tape)(add2, xi)
    assert yota.tape.dtype_name(out.dtype) == "int64" == yota.tape.dtype_name(traced.dtype)

    def take_next(x):
        xp = namespace_of(x)
        return xp.sum(xp.take(x, xp.asarray([0, 1]) + 1))

    check_grad(take_next, backend.asarray([1.0, 2.0, 3.0]))


def test_a_0d_fill_of_a_traced_value_is_what_the_plain_call_gives(backend):
    # full_like(x0, c) of a 0-d x0: NumPy's 0-d arithmetic (ones * c) gave a scalar on the first
    # call, where the plain call and the compiled tape give a 0-d array
    def f(x0, c):
        return namespace_of(x0).full_like(x0, c)

    for x0, c in ((np.asarray(-2.0), 1.5), (np.asarray(0.5), -0.0)):  # traced, then cached
        x = backend.asarray(x0)
        val, g = yota.grad(f, x, c)
        want = f(x, c)
        assert type(val) is type(want)
        np.testing.assert_array_equal(to_numpy(val), to_numpy(want))
        assert np.signbit(to_numpy(val)) == np.signbit(c)
        assert float(to_numpy(g[2])) == 1.0


def test_fills_are_not_carried_through_integer_casts(backend):
    def f(x):
        xp = namespace_of(x)
        return xp.sum(x * xp.astype(xp.astype(xp.ones_like(x) * 2.5, xp.int64), x.dtype))

    check_grad(f, backend.asarray([1.0, 2.0, 3.0]))
    assert float(to_numpy(yota.grad(f, backend.asarray([1.0, 1.0]))[0])) == 4.0


def test_zero_d_gradients_are_arrays(backend):
    x = backend.asarray(np.asarray(1.5))
    for v in (x, backend.asarray(np.asarray(-0.5))):
        g = yota.grad(lambda x: namespace_of(x).sin(x) * x, v)[1][1]
        assert type(g) is type(v) and tuple(g.shape) == ()


def test_ndarray_subclasses_are_refused(rng):
    x = np.ma.masked_array(rng.random(4), mask=[True, False, True, False])
    with pytest.raises(TypeError, match="masked arrays"):
        yota.grad(lambda x: namespace_of(x).sum(x * x), x)
    with pytest.raises(TypeError, match="masked arrays"):
        yota.grad(lambda x: namespace_of(x).sum(x * x), np.asmatrix(rng.random((2, 2))))


@pytest.mark.parametrize("make", [
    lambda xp, n: xp.zeros((n,)), lambda xp, n: xp.ones((n, 2)), lambda xp, n: xp.arange(n),
    lambda xp, n: xp.full((n,), 2.0), lambda xp, n: xp.eye(n), lambda xp, n: xp.linspace(0.0, 1.0, num=n),
], ids=["zeros", "ones", "arange", "full", "eye", "linspace"])
def test_sizes_from_traced_values_are_guarded(make):
    def h(x):
        xp = namespace_of(x)
        n = xp.astype(x[0], xp.int64)  # a 0-d traced size, never converted by Python
        return xp.sum(make(xp, n) + x[1]) * x[1]

    for n in (3.0, 5.0, 3.0):
        x = np.array([n, 1.5])
        g = yota.grad(h, x)[1][1]
        size = make(np, int(n)).size
        np.testing.assert_allclose(g[1], 2 * 1.5 * size + float(np.sum(make(np, int(n)))))


def test_builtin_abs_of_a_python_float_stays_a_python_float(backend):
    # abs() of a traced Python float computed as xp.abs would be a NumPy float64 and promote a
    # float32 result that the plain program keeps float32: value, dtype and gradient as the plain
    # call, traced and cached, for each sign (the branches are guards) and for signed zeros
    x = backend.asarray(np.asarray([0.25, -0.5], dtype=np.float32))

    def f(x, c):
        xp = array_namespace(x)
        return xp.sum(x) + (abs(c) + 0.5) ** 2

    for c in (-1.25, 1.5, -2.0, 0.0, -0.0, 3.0):
        val, g = yota.grad(f, x, c)
        ref = f(x, c)
        assert str(val.dtype) == str(ref.dtype) and str(val.dtype).endswith("float32")
        assert float(to_numpy(val)) == float(to_numpy(ref))
        want = 0.0 if c == 0 else 2 * (abs(c) + 0.5) * math.copysign(1.0, c)
        assert float(to_numpy(g[2]) if backend.name == "dask" else g[2]) == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("fn", [round, math.floor, math.ceil, math.trunc])
def test_python_rounding_of_a_traced_value_is_a_guarded_int(backend, fn):
    # round(x), math.floor(x)...: a Python int, as without yota (its derivative is 0), guarded like
    # int(x): another integer traces again
    def f(x):
        return namespace_of(x).sum(x) * fn(x[2])

    for v in ([0.5, -1.0, 2.7], [0.5, -1.0, 2.6], [0.5, -1.0, -3.4]):
        x = np.array(v)
        val, g = yota.grad(f, backend.asarray(x))
        assert float(to_numpy(val)) == pytest.approx(x.sum() * fn(x[2]), rel=1e-15)
        np.testing.assert_allclose(to_numpy(g[1]), np.full(3, fn(x[2])), rtol=1e-15)
    with pytest.raises(yota.errors.UntraceableError, match=r"xp.round\(x \* 10\*\*2\)"):
        yota.grad(lambda x: namespace_of(x).sum(x) * round(x[0], 2), backend.asarray(np.ones(3)))


def test_values_equal_the_plain_call_to_the_last_bit(backend, rng):
    # a rule computes its value with the function itself (svdvals, not svd's S; eigvalsh, not eigh's
    # values): the last bit decides what a floor or a comparison downstream makes of it; a traced
    # fill of -0.0 stays -0.0
    x = rng.standard_normal((4, 1))

    def spectra(x):
        xp = namespace_of(x)
        m = x @ xp.matrix_transpose(x) + 3.0 * xp.eye(4, dtype=x.dtype)  # the value 3 repeated
        return xp.floor(xp.linalg.svdvals(m) * 1e15), xp.floor(xp.linalg.eigvalsh(m) * 1e15)

    xs = backend.asarray(x)
    val, _ = yota.grad(spectra, xs, seed="ones")
    for got, want in zip(val, spectra(xs)):
        np.testing.assert_array_equal(to_numpy(got), to_numpy(want))
    if backend.name != "array_api_strict":  # (strict's full takes Python scalars only)
        def filled(c):
            xp = namespace_of(c)
            return xp.full((2,), c), xp.full_like(xp.ones(2, dtype=c.dtype), c)

        val, _ = yota.grad(filled, backend.asarray(np.asarray(-0.0)), seed="ones")
        for v in val:
            assert np.all(np.signbit(to_numpy(v)))


def test_copies_of_traced_arrays_and_pickling(backend):
    import copy
    import pickle

    def f(x, params):
        p = copy.deepcopy(params)  # a deep copy of the parameters inside the loss
        p["w"] = p["w"] * 2.0
        return namespace_of(x).sum(copy.copy(x) * p["w"]) + namespace_of(x).sum(params["w"])

    check_grad(f, backend.asarray([1.0, 2.0]), {"w": backend.asarray([0.5, 0.25])})
    with pytest.raises(yota.errors.UntraceableError, match="pickling a traced array") as e:
        yota.grad(lambda x: namespace_of(x).sum(x) * len(pickle.dumps(x)), backend.asarray([1.0, 2.0]))
    assert HERE in str(e.value)


# --------------------------------------------------------------------------- type checks

def test_type_checks_in_the_users_code_see_the_plain_class(backend):
    # isinstance(x, np.ndarray) was False on a tracer and isinstance(lam, float) False on a traced
    # float, where the plain call says True: the trace took the other branch, silently
    x0 = backend.asarray(np.array([0.5, -1.0, 2.0]))
    array_class, sum_class = type(x0), type(namespace_of(x0).sum(x0))

    def f(x, lam):
        xp = namespace_of(x)
        a = 2.0 if isinstance(x, array_class) else 3.0
        b = 5.0 if isinstance(lam, float) else 7.0
        c = 11.0 if isinstance(lam, numbers.Real) else 13.0
        d = 17.0 if x.__class__ is array_class else 19.0
        e = 23.0 if isinstance(xp.sum(x), sum_class) else 29.0
        return xp.sum(x * x) * lam * (a * b * c * d * e)

    for k in (1.0, 3.0):  # traced, then cached
        x = backend.asarray(np.array([0.5, -1.0, 2.0]) * k)
        v, _ = yota.grad(f, x, 0.5 * k)
        assert float(yota.testing.to_numpy(v)) == pytest.approx(float(yota.testing.to_numpy(f(x, 0.5 * k))))
    check(backend, f, x0, 0.5)
    assert type(yota.trace(lambda x: x * 1.0, x0)[0]) is array_class  # and yota's own results stay plain


# --------------------------------------------------------------------------- errors the library raises

@yota.primitive
def _checked_log(x):
    # raises for these values, as a library function does on a singular matrix or a NaN
    if bool(namespace_of(x).any(x <= 0)):
        raise ValueError("log of a value <= 0")
    return namespace_of(x).log(x)


@yota.rrule(_checked_log)
def _checked_log_rule(xp, x):
    return _checked_log(x), lambda g: (g / x,)


def _log_or_square(x):
    # the plain call takes the fallback exactly for the values that raise
    xp = namespace_of(x)
    try:
        y = _checked_log(x)
    except ValueError:
        y = x * x
    return xp.sum(y)


def test_an_error_the_library_raises_and_the_code_catches(backend):
    # The trace that caught the error served later calls whose values do not raise (the fallback's
    # value), and a trace that did not raise served values that do (the error, where the plain call
    # takes the fallback). Either way the call for these values now traces again.
    good, bad = np.array([1.0, 2.0, 3.0]), np.array([1.0, -2.0, 3.0])
    for values in (bad, good, good, bad, bad, good):
        x = backend.asarray(values)
        v, g = yota.grad(_log_or_square, x)
        assert float(to_numpy(v)) == pytest.approx(float(to_numpy(_log_or_square(x))))
        want = 1.0 / values if (values > 0).all() else 2.0 * values
        np.testing.assert_allclose(to_numpy(g[1]), want)
    before = yota.cache_info()["traces"]
    yota.grad(_log_or_square, backend.asarray(good))
    assert yota.cache_info()["traces"] == before  # values that do not raise: the cached tape


def test_a_caught_linalg_error(backend):
    if backend.name == "dask":
        pytest.skip("Dask factorizes when the result is computed, after the function returned: the plain "
                    "call's except does not run either")
    la = (np.linalg.LinAlgError, RuntimeError)  # (PyTorch's LinAlgError is a RuntimeError; JAX gives NaN)

    def f(A, b):
        xp = namespace_of(A)
        try:
            L = xp.linalg.cholesky(A)
        except la:
            L = xp.linalg.cholesky(A + 10.0 * xp.eye(2, dtype=A.dtype))
        return xp.sum(L @ b)

    pd, npd = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([[1.0, 2.0], [2.0, 1.0]])
    b = backend.asarray(np.array([1.0, 2.0]))
    for A in (npd, pd, pd, npd):
        A = backend.asarray(A)
        assert float(to_numpy(yota.grad(f, A, b)[0])) == pytest.approx(float(to_numpy(f(A, b))), nan_ok=True)


def test_floating_point_settings_changed_inside_the_traced_function(backend):
    # np.errstate inside: the compiled tape runs under the caller's settings, so a cached call with a
    # zero returned inf where the plain call raised FloatingPointError (and took its fallback)
    if backend.name not in ("numpy", "array_api_strict"):
        pytest.skip("np.errstate governs NumPy's and array-api-strict's operations only")

    def inside(x):
        xp = namespace_of(x)
        try:
            with np.errstate(divide="raise"):
                y = 1.0 / x
        except FloatingPointError:
            y = x * 0.0
        return xp.sum(y)

    with pytest.raises(yota.errors.UntraceableError, match="errstate"):
        yota.grad(inside, backend.asarray(np.array([1.0, 2.0])))

    def around(x):  # the settings around the call: the same fallback, traced where it is taken
        xp = namespace_of(x)
        try:
            y = 1.0 / x
        except FloatingPointError:
            y = x * 0.0
        return xp.sum(y * y)

    with np.errstate(divide="raise"):
        for values in ([2.0, 4.0], [0.0, 4.0], [1.0, 2.0], [0.0, 1.0], [2.0, 4.0]):
            x = backend.asarray(np.array(values))
            assert float(to_numpy(yota.grad(around, x)[0])) == float(to_numpy(around(x)))

    def quiet(x):  # settings that change warnings only leave the values alone: allowed
        xp = namespace_of(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = xp.where(x > 1.0, 1.0 / x, x)
        return xp.sum(r)

    for values in ([2.0, 4.0], [0.5, 4.0]):
        x = backend.asarray(np.array(values))
        assert float(to_numpy(yota.grad(quiet, x)[0])) == float(to_numpy(quiet(x)))


def test_vmap_of_a_function_that_catches_a_library_error(backend):
    xs = backend.asarray(np.array([[1.0, -2.0], [1.0, 2.0]]))
    with pytest.raises(yota.errors.BatchedControlFlowError, match="caught an error"):
        yota.vmap(_log_or_square)(xs)
    ok = backend.asarray(np.array([[1.0, 2.0], [3.0, 4.0]]))  # no example raises: batched as usual
    np.testing.assert_allclose(to_numpy(yota.vmap(_log_or_square)(ok)), np.log([[1.0, 2.0], [3.0, 4.0]]).sum(1))
