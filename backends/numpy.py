"""NumPy: scatter-add through ``np.add.at``, elementwise fusion into numexpr
kernels, ``out=`` buffer reuse; everything else is array-api-compat's.

``setitem`` and ``scatter_add`` accept any key NumPy's ``x[key]`` accepts
(ints, slices, ``...``, ``None``, boolean masks alone or among other entries,
several integer arrays broadcasting together) and return a new array of
``x``'s dtype; ``x`` is never modified.

Fusion (on by default; ``use_fusion(False)`` or ``YOTA_NUMPY_FUSION=0`` turns
it off). Before a tape is compiled for NumPy arrays, ``transform`` groups its
elementwise ops (forward and backward) into regions (``backends/fusion/``)
and runs each region of at least ``FUSION_MIN_SIZE`` elements as one
multithreaded numexpr kernel (``backends/fusion/numexpr.py``): intermediates
stay in cache-sized blocks instead of a full array per op. Only what numexpr
computes exactly as NumPy does fuses (same dtypes and shapes, NaN and signed
zeros; transcendental functions within a few ulp, see that module); the
rest stays NumPy calls, which then write into dead temporaries' buffers
(``_reuse.py``). Whether numexpr beats NumPy depends on the machine and
the functions (NumPy's SIMD ``tanh``/``exp`` often win): each region is timed
once against its own NumPy calls when a tape compiles, and fuses only where
numexpr is faster (``CHECK_SPEED``; see ``_numexpr.pays_off``). numexpr's thread count is numexpr's own setting
(``numexpr.set_num_threads``, ``NUMEXPR_MAX_THREADS``). To see what fuses::

    from yota.backends import numpy as yn
    print(yn.fusion_plan(yota.gradtape(loss, params, X)))   # the regions
    print(yn.transform(yota.gradtape(loss, params, X)))     # the rewritten tape

Switching fusion empties yota's cache (``yota.reset()``), so the next call
compiles with the new setting.
"""
from __future__ import annotations

import functools
import os

import array_api_compat.numpy as namespace  # noqa: F401  (this backend's xp)
import numpy as np

from yota import codegen

from . import _memory, backend_of, settings_changed
from ._generic import device, to_float  # noqa: F401  (part of this backend's ext)
from .base import MixedBackendError
from ._pool import UNPOOLED, Exclusive, keep_temporaries
from ._reuse import reuse_buffers
from .fusion import emitter as _emitter
from .fusion import plan as _plan

try:
    from .fusion import numexpr as _numexpr
except ImportError:  # numexpr not installed: NumPy calls only
    _numexpr = None

__all__ = ["use_fusion", "fusion_plan", "transform", "reset", "setitem", "scatter_add", "getitem", "device",
           "to_float", "as_array", "to_numpy", "FUSION_MIN_SIZE"]

unknown_size_advice = ""

is_lazy = False
one_device = True  # (the cache key leaves devices out)


def _repeats(key) -> bool:
    # Only integer arrays (ndim >= 1) can name one position twice.
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, list):
            return True
        if isinstance(k, np.ndarray) and k.ndim > 0 and k.dtype != np.bool_:
            return True
    return False


def _value(x, v):
    # Writes cast to x's dtype (a float64 cotangent into a float32 buffer);
    # a complex value into a real array keeps the real part, as gradients do.
    if isinstance(v, np.ndarray | np.generic) and np.iscomplexobj(v) and not np.iscomplexobj(x):
        return v.real
    return v


def setitem(xp, x, key, value):
    y = np.array(x, copy=True)
    y[key] = _value(y, value)
    return y


def scatter_add(xp, x, key, values):
    y = np.array(x, copy=True)
    if _repeats(key):
        np.add.at(y, key, _value(y, values))
    else:
        y[key] += _value(y, values)
    return y


# --------------------------------------------------------------------------- fusion

#: Regions of fewer elements stay NumPy calls: a numexpr call costs a few
#: microseconds more than a ufunc's (argument checks, its iterator, waking its
#: threads), which the saved passes over memory repay only on larger arrays.
FUSION_MIN_SIZE = 1 << 15

_FUSION = os.environ.get("YOTA_NUMPY_FUSION", "1").strip().lower() not in ("0", "false", "no", "off") \
    and _numexpr is not None
#: large temporaries allocated once per compiled tape and written again on every call (``_pool``)
KEEP_TEMPORARIES = os.environ.get("YOTA_NUMPY_KEEP_TEMPORARIES", "1").strip().lower() not in ("0", "false", "no", "off")
_ADD_REDUCE = np.add.reduce  # one object: kept buffers may be read by it


def mT(x):  # noqa: N802 - the attribute's name, for the tape printout
    return x.mT

_EMITTER = _numexpr.NumexprEmitter() if _numexpr is not None else None
_TIMED_EMITTER = _numexpr.NumexprEmitter(timed=True) if _numexpr is not None else None
#: time each region against its NumPy calls when a tape compiles, and fuse only
#: where numexpr wins (``_numexpr.pays_off``); False fuses every region planned
CHECK_SPEED = True


def use_fusion(flag: bool = True) -> bool:
    """Turn numexpr fusion on or off; returns the previous setting. Empties
    yota's cache so the next call compiles with the new setting."""
    global _FUSION
    if flag and _numexpr is None:
        raise ModuleNotFoundError("yota.backends.numpy.use_fusion(True) needs numexpr: pip install numexpr")
    prev, _FUSION = _FUSION, bool(flag)
    if prev != _FUSION:
        settings_changed()
    return prev


def fusion_plan(tape):
    """The regions ``transform`` would fuse (``print`` it)."""
    if _EMITTER is None:
        raise ModuleNotFoundError("fusion on NumPy needs numexpr: pip install numexpr")
    return _plan_regions(tape)


def _plan_regions(tape):
    # with the speed check, functions numexpr computes far slower than NumPy stay out of regions
    return _emitter.plan_for(tape, _TIMED_EMITTER if CHECK_SPEED else _EMITTER, min_size=FUSION_MIN_SIZE)


def reset():
    """Drop the compiled numexpr programs (``yota.reset()``)."""
    if _numexpr is not None:
        _numexpr.clear()


def _fuse(tape):
    plan = _plan_regions(tape)
    if not plan.regions:
        return tape
    ext = backend_of(np.empty(()))

    def kernel(region):
        # the region's own NumPy calls, run instead while np.errstate asks for errors to raise
        reference = codegen.compile_tape(_plan.region_tape(tape, region), "fused_region")
        compiled = _EMITTER.compile(region, functools.partial(reference, namespace, ext))
        return compiled if not CHECK_SPEED or _numexpr.pays_off(compiled) else None

    return _plan.rewrite(tape, plan, kernel)


def transform(tape):
    """Large elementwise regions become numexpr kernels; then the remaining
    elementwise results go into dead temporaries' buffers (``out=``), sums call
    the ufunc reduction directly and matrix transposes are ``x.mT`` (the Python
    wrappers cost about a microsecond a call, which small models pay on every
    op), and large private temporaries are kept between calls (``_pool``). Fusion
    runs first so that buffer reuse only rewrites what stays NumPy calls."""
    if _FUSION:
        tape = _fuse(tape)
    tape = reuse_buffers(tape, lambda name: getattr(np, name))
    tape = _calling(tape, lambda op: op.fn == "sum" and set(op.kwargs) <= {"axis", "keepdims"}, _ADD_REDUCE,
                    lambda op: {"axis": op.kwargs.get("axis"), **{k: v for k, v in op.kwargs.items() if k != "axis"}})
    # ndarray.mT, the same view, without array-api-compat's Python function (0.7 µs a call)
    tape = _calling(tape, lambda op: op.fn == "matrix_transpose" and not op.kwargs and len(op.args) == 1, mT)
    if KEEP_TEMPORARIES:
        tape = keep_temporaries(tape, lambda name: getattr(np, name, None), np.matmul, (_ADD_REDUCE,),
                                lambda shape, dtype: np.empty(shape, dtype), lambda dtype: np.dtype(dtype).itemsize)
    return tape


def _calling(tape, wanted, value, kwargs=None):
    """``tape`` with the calls ``wanted(op)`` picks made to the constant ``value`` instead
    (with ``kwargs(op)`` as their keywords, when given)."""
    picked = [i for i, op in enumerate(tape.ops) if op.kind == "call" and wanted(op)]
    if not picked:
        return tape
    tape, (handle,) = tape.with_consts([value])
    new_ops = list(tape.ops)
    for i in picked:
        op = new_ops[i]
        new_ops[i] = op.replace(fn=handle) if kwargs is None else op.replace(fn=handle, kwargs=kwargs(op))
    return tape.replace(ops=tuple(new_ops))


def wrap(fn, tape):
    """With kept temporaries (`_pool`), one call at a time writes into them."""
    unpooled = tape.meta.get(UNPOOLED)
    if unpooled is None:
        return fn
    return Exclusive(fn, lambda: codegen.compile_tape(unpooled, fn.__name__), tape.meta["pool.bytes"])


def check_inputs(leaves):
    """ndarray subclasses (masked arrays, np.matrix) change what operators and
    reductions mean, and compiled code (``out=`` buffers, ``np.add.reduce``,
    fused kernels) would drop that: refuse them rather than give another answer."""
    for x in leaves:
        t = type(x)
        if t is not np.ndarray and isinstance(x, np.ndarray):
            raise MixedBackendError(
                f"a {t.__module__}.{t.__name__} was passed: NumPy's array subclasses (masked arrays, np.matrix) "
                f"are not array-API arrays and their semantics would be lost. Pass a plain array instead, e.g. "
                f"x.filled(0.0) or np.asarray(x), and handle masks with xp.where.")


def getitem(xp, x, key):
    return x[key]


def as_array(x):
    # NumPy hands back 0-d results as scalars (np.float64); gradients mirror 0-d arrays
    return np.asarray(x) if isinstance(x, np.generic) else x


def to_numpy(x):
    return np.asarray(x)


#: arrays read outside the arguments up to this size are guarded by their bytes (a key made on
#: every check); larger ones by a copy compared as integers
CONTENT_GUARD_SIZE = 64


def state_key(obj):
    """NumPy's random generators: their state (draws from them differ from call to call)."""
    if isinstance(obj, np.random.Generator):
        return _frozen(obj.bit_generator.state)
    if isinstance(obj, np.random.BitGenerator):
        return _frozen(obj.state)
    if isinstance(obj, np.random.RandomState):
        return _frozen(obj.get_state(legacy=False))
    return None


def _frozen(state):
    if isinstance(state, dict):
        return tuple((k, _frozen(v)) for k, v in state.items())
    if isinstance(state, np.ndarray):
        return state.tobytes()
    return state


def content_guard(x, max_bytes):
    """The contents of a global NumPy array, bit for bit (NaN is NaN, 0.0 is not -0.0). Its layout
    is part of them: ``a.shape = ...`` changes an array in place too."""
    if not isinstance(x, np.ndarray) or x.dtype.hasobject:
        return None  # NumPy scalars cannot change; object arrays hold objects, compared by identity
    layout = (x.dtype, x.shape, x.strides)
    if x.size <= CONTENT_GUARD_SIZE:
        key = x.tobytes()
        return lambda now: (now.dtype, now.shape, now.strides) == layout and now.tobytes() == key
    if x.nbytes > max_bytes:
        return False
    snap = _bits(x).copy()
    return lambda now: (now.dtype, now.shape, now.strides) == layout and np.array_equal(_bits(now), snap)


def memory_owner(x):
    return _memory.owner(x, np.ndarray)


def _settings():
    return tuple(sorted(np.geterr().items()))


# np.errstate and np.seterr set a context variable to a new object (NumPy 2): reading it is the
# cheap check, made before every traced operation; np.geterr() where it is not there
_EXTOBJ = getattr(getattr(getattr(np, "_core", None), "_ufunc_config", None), "_extobj_contextvar", None)
float_errors = _EXTOBJ.get if _EXTOBJ is not None else _settings


def float_errors_raising() -> frozenset:
    return frozenset(k for k, v in np.geterr().items() if v in ("raise", "call"))


_TOO_HARD = getattr(getattr(np, "exceptions", np), "TooHardError", Exception)


def overlaps(a, b) -> bool:
    try:
        return bool(np.shares_memory(a, b, max_work=1000))
    except _TOO_HARD:  # strides too hard to solve quickly: assume they meet
        return True


def covers(a, b) -> bool:
    return _memory.covers(_layout(a), _layout(b))


def _layout(a):
    return _memory.Layout(a.__array_interface__["data"][0], a.shape, a.strides, a.itemsize,
                          a.flags.c_contiguous or a.flags.f_contiguous)


def _bits(a):
    """``a``'s bytes as unsigned integers (a view where ``a`` is contiguous)."""
    flat = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    return flat.view(np.uint64) if flat.size % 8 == 0 else flat
