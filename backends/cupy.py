"""CuPy: scatter-add through ``cupy.add.at``, elementwise fusion into
generated ``cupy.ElementwiseKernel``s, and optional CUDA graphs.

Fusion (on by default; ``use_fusion(False)`` or ``YOTA_CUPY_FUSION=0`` turns
it off). Before a gradient tape is compiled for CuPy arrays,
``transform`` groups its elementwise ops (forward and backward) into
regions (see ``backends/fusion/``) and replaces each region by one call of
a generated ElementwiseKernel: inputs are the values the region reads,
outputs the values used after it; intermediates stay in registers. Kernels
are cached per (parameter dtypes, source). float32 regions compute in
``float`` with the ``sinf`` family, float64 in ``double``. To see what fuses::

    from yota.backends import cupy as yc
    print(yc.transform(yota.gradtape(loss, params, X)))   # the rewritten tape
    print(yc.fusion_plan(yota.gradtape(loss, params, X)))      # the regions

CUDA graphs (off by default; ``use_cuda_graphs(True)`` or
``YOTA_CUDA_GRAPHS=1``). The whole compiled call (value and gradients) is
captured once per cache entry (same shapes, dtypes, structure) and replayed:
one launch instead of one per op, which is what small models are bound by.

* What is static: the shapes and dtypes (as for every cache entry), the
  device, and the values of Python-scalar arguments (a different scalar
  triggers a new capture). Tapes with guards (data-dependent control flow)
  are never captured: a guard reads a value on the host.
* Inputs are copied into buffers owned by the graph before each replay
  (device-to-device, on the current stream).
* Outputs live in buffers owned by the graph. By default they are copied out,
  so results stay valid across calls. ``use_cuda_graphs(True,
  copy_outputs=False)`` returns the graph's own buffers instead: no copy, but
  the next call overwrites them (the value and gradients of call n are only
  valid until call n + 1).
* Intermediates come from a private memory pool held by the graph, so the
  addresses a replay writes are never handed to other arrays.
* Each captured entry keeps its graph, its input/output buffers and its pool
  (about one call's worth of device memory) until yota's cache drops it.
* The replay runs on the caller's current stream; calls of one compiled
  function from several streams at once are not supported (they share the
  buffers). A call on another device than the capture's runs without the
  graph. If capturing fails (an operation that cannot be captured), that
  entry warns once and runs without a graph from then on.

Switching fusion or graphs empties yota's cache (``yota.reset()``), so the next
call compiles with the new setting.
"""
from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict

import array_api_compat.cupy as namespace  # noqa: F401  (this backend's xp)
import cupy
import cupyx

from . import _generic, _memory, settings_changed
from .fusion import cuda as _cuda
from .fusion import emitter as _emitter

__all__ = ["use_fusion", "use_cuda_graphs", "transform", "wrap", "fusion_plan", "device", "to_float",
           "setitem", "scatter_add", "getitem", "is_lazy", "FusedKernel", "GraphCall"]

is_lazy = False


# --------------------------------------------------------------------------- ext operations
# Keys are whatever CuPy's ``x[key]`` accepts (ints, slices, ``...``, ``None``,
# boolean masks, integer arrays); results are new arrays of x's dtype.

def device(x):
    return x.device


def to_float(x):
    return float(x)


def _value(x, v):
    # A complex value written into a real array keeps its real part, as gradients do.
    if isinstance(v, cupy.ndarray) and v.dtype.kind == "c" and x.dtype.kind != "c":
        return v.real
    return v


def _without_newaxes(x, key, v):
    # ``None`` entries only reshape x[key]; scatters take the key without them.
    parts = key if isinstance(key, tuple) else (key,)
    if not any(k is None for k in parts):
        return key, v
    bare = tuple(k for k in parts if k is not None)
    if isinstance(v, cupy.ndarray):
        v = cupy.broadcast_to(v, x[key].shape).reshape(x[bare].shape)
    return bare, v


def setitem(xp, x, key, value):
    y = x.copy()
    key, value = _without_newaxes(y, key, _value(y, value))
    y[key] = value
    return y


def scatter_add(xp, x, key, values):
    """``x`` with ``values`` added at ``x[key]``; repeated indices accumulate
    (``cupy.add.at``, else ``cupyx.scatter_add``: atomic adds, values cast to x's dtype). Keys that
    CuPy's scatter does not take (e.g. a mask beside other entries) use the
    pure array-API version."""
    y = x.copy()
    k, v = _without_newaxes(y, key, _value(y, values))
    try:
        add_at = getattr(cupy.add, "at", None)
        if add_at is not None:
            add_at(y, k, v)
        else:  # CuPy before add.at
            cupyx.scatter_add(y, k, v)
    except (TypeError, IndexError, ValueError, NotImplementedError):
        return _generic.scatter_add(xp, x, key, values)
    return y


def getitem(xp, x, key):
    return x[key]


def memory_owner(x):
    return _memory.owner(x, cupy.ndarray)


def overlaps(a, b) -> bool:
    return bool(cupy.may_share_memory(a, b))  # bounds only: the exact test reads every address


def covers(a, b) -> bool:
    return _memory.covers(*(_memory.Layout(x.data.ptr, x.shape, x.strides, x.itemsize,
                                           x.flags.c_contiguous or x.flags.f_contiguous) for x in (a, b)))


def to_numpy(x):
    return cupy.asnumpy(x)


# --------------------------------------------------------------------------- switches

_FUSION = os.environ.get("YOTA_CUPY_FUSION", "1").strip().lower() not in ("0", "false", "no", "off")
_GRAPHS = os.environ.get("YOTA_CUDA_GRAPHS", "0").strip().lower() in ("1", "true", "yes", "on")
_COPY_OUTPUTS = True


def _reset_cache():
    settings_changed()


def use_fusion(flag: bool = True) -> bool:
    """Turn elementwise kernel fusion on or off; returns the previous setting.
    Empties yota's cache so the next call compiles with the new setting."""
    global _FUSION
    prev, _FUSION = _FUSION, bool(flag)
    if prev != _FUSION:
        _reset_cache()
    return prev


def use_cuda_graphs(flag: bool = True, copy_outputs: bool = True) -> bool:
    """Turn CUDA-graph capture of compiled calls on or off; returns the previous
    setting. ``copy_outputs=False`` returns the graph's output buffers, which the
    next call overwrites (see the module docstring). Empties yota's cache."""
    global _GRAPHS, _COPY_OUTPUTS
    prev = _GRAPHS
    changed = prev != bool(flag) or _COPY_OUTPUTS != bool(copy_outputs)
    _GRAPHS, _COPY_OUTPUTS = bool(flag), bool(copy_outputs)
    if changed:
        _reset_cache()
    return prev


# --------------------------------------------------------------------------- fusion

#: compiled kernels kept (LRU beyond this many)
MAX_KERNELS = 1024
_KERNELS: "OrderedDict" = OrderedDict()
_KLOCK = threading.Lock()


def _kernel(key, name):
    k = _KERNELS.get(key)
    if k is None:
        with _KLOCK:
            k = _KERNELS.get(key)
            if k is None:
                in_params, out_params, body = key
                k = _KERNELS[key] = cupy.ElementwiseKernel(in_params, out_params, body, name)
                while len(_KERNELS) > MAX_KERNELS:
                    _KERNELS.popitem(last=False)
    return k


def reset():
    """Drop the compiled kernels (``yota.reset()``)."""
    with _KLOCK:
        _KERNELS.clear()


class FusedKernel:
    """One fused region: allocates its outputs (the region's shape) and runs the kernel.

    CuPy broadcasts the inputs against the preallocated outputs, so inputs of
    smaller shapes (biases, row statistics, broadcast scalars) are read in place."""

    __slots__ = ("key", "name", "shape", "dtypes", "single", "kernel", "region", "source")

    def __init__(self, region):
        self.source = _cuda.source(region)
        self.key = self.source.key
        self.name = self.source.name
        self.shape = tuple(region.shape)
        self.dtypes = [cupy.dtype(region.dtypes[v]) for v in region.outputs]
        self.single = len(region.outputs) == 1
        self.kernel = None
        self.region = region

    def __call__(self, *args):
        k = self.kernel
        if k is None:
            k = self.kernel = _kernel(self.key, self.name)
        outs = [cupy.empty(self.shape, d) for d in self.dtypes]
        k(*args, *outs)
        return outs[0] if self.single else tuple(outs)

    def __repr__(self):
        return f"FusedKernel({self.name})"


_EMITTER = _cuda.CudaEmitter(FusedKernel)


def fusion_plan(tape):
    """The regions ``transform`` would fuse (``print`` it)."""
    return _emitter.plan_for(tape, _EMITTER)


def transform(tape):
    """The tape the CuPy backend compiles: each elementwise region one fused kernel."""
    if _FUSION:
        return _emitter.fuse(tape, _EMITTER)
    return tape


def wrap(fn, tape):
    """The compiled function replayed as a CUDA graph when graphs are on (tapes
    with guards read values on the host, so they are never captured)."""
    if not _GRAPHS or any(op.kind == "guard" for op in tape.ops):
        return fn
    return GraphCall(fn, _COPY_OUTPUTS)


# --------------------------------------------------------------------------- CUDA graphs

class _Captured:
    __slots__ = ("graph", "inputs", "outputs", "scalars", "device", "pool", "stream")


class GraphCall:
    """Runs a compiled tape through a CUDA graph captured on its first call."""

    def __init__(self, fn, copy_outputs=True):
        self.fn = fn
        self.copy_outputs = copy_outputs
        self.state: _Captured | None = None
        self.failed = False
        self.lock = threading.Lock()
        self.captures = 0

    def _plain(self, args):
        return tuple(self.fn(self.xp, self.ext, *args))

    def __call__(self, xp, ext, *args):
        self.xp, self.ext = xp, ext
        if self.failed:
            return self._plain(args)
        scalars = tuple(None if isinstance(a, cupy.ndarray) else a for a in args)
        dev = cupy.cuda.runtime.getDevice()
        with self.lock:
            st = self.state
            if st is None or st.scalars != scalars or st.device != dev:
                if st is not None and st.device != dev:
                    return self._plain(args)
                try:
                    st = self.state = self._capture(args, scalars, dev)
                except Exception as e:  # noqa: BLE001 - any capture failure falls back
                    self.failed = True
                    self.state = None
                    warnings.warn(f"yota: CUDA graph capture failed ({type(e).__name__}: {e}); "
                                  f"this function runs without a graph", RuntimeWarning, stacklevel=2)
                    return self._plain(args)
            else:
                for buf, a in zip(st.inputs, args):
                    if buf is not None:
                        _copy_into(buf, a)
            st.graph.launch()
            if self.copy_outputs:
                return tuple(o.copy() if isinstance(o, cupy.ndarray) else o for o in st.outputs)
            return st.outputs

    def _capture(self, args, scalars, dev):
        ext = self.ext
        xp = self.xp
        st = _Captured()
        st.scalars, st.device = scalars, dev
        cur = cupy.cuda.get_current_stream()
        st.inputs = [a.copy() if isinstance(a, cupy.ndarray) else None for a in args]
        fargs = [b if b is not None else a for b, a in zip(st.inputs, args)]
        st.pool = cupy.cuda.MemoryPool()
        st.stream = cupy.cuda.Stream(non_blocking=True)
        st.stream.wait_event(cur.record())
        with cupy.cuda.using_allocator(st.pool.malloc), st.stream:
            # Warm-up on the capture stream: compiles kernels, creates library
            # handles and fills the private pool with the blocks the capture reuses.
            self.fn(xp, ext, *fargs)
            st.stream.begin_capture()
            try:
                outs = self.fn(xp, ext, *fargs)
            except BaseException:
                try:
                    st.stream.end_capture()
                except Exception:  # noqa: BLE001 - the capture is invalid anyway
                    pass
                raise
            st.graph = st.stream.end_capture()
        st.outputs = tuple(outs)  # arrays live in the graph's buffers; constants pass through
        cur.wait_event(st.stream.record())
        self.captures += 1
        return st


def _copy_into(buf, a):
    if a.flags.c_contiguous and a.dtype == buf.dtype and a.shape == buf.shape:
        buf.data.copy_from_device_async(a.data, a.nbytes)
    else:
        cupy.copyto(buf, a)
