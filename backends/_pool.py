"""Temporaries kept from one call to the next, for libraries whose functions
take ``out=``.

A large array that NumPy allocates is mapped fresh from the operating system
and freed back to it when it dies; writing it first costs a page fault per
4 KiB page. On a virtual machine that is about 1.6 µs a page: a 2 MiB
temporary costs 0.8 ms before any arithmetic, ten times the multiply that
fills it. A compiled tape knows every temporary's shape and dtype, so the
buffers can be allocated once and written again on every call, as XLA plans
its buffers.

Only a buffer that cannot be seen outside the tape is kept: made by an
elementwise ufunc or a matmul, never an output, and read only by ops that
return new arrays or write into buffers of their own (elementwise ufuncs,
matmul, reductions), so no view of it and no reference to it outlives the
call (a user primitive, an indexing op or a reshape reading it rules it
out). Values handed on through ``out=`` (`_reuse.reuse_buffers`) share their
buffer's fate: the whole chain must qualify. Buffers whose lifetimes do not
overlap share memory.

A kept buffer belongs to one running call: `Exclusive` runs the function
that writes into them when no other call of it is running (another thread,
or a primitive calling back into the same function), and the same tape
compiled without kept buffers otherwise.
"""
from __future__ import annotations

import threading
import weakref

from yota.tape import CALL, Const, Tape, Var, iter_vars

from ._reuse import size, ufunc_name

__all__ = ["keep_temporaries", "Exclusive", "MIN_BYTES", "MAX_BYTES", "UNPOOLED", "kept_bytes"]

#: smaller arrays come from the allocator's own heap, without page faults
MIN_BYTES = 1 << 17
#: all kept buffers of all compiled tapes together stay below this
MAX_BYTES = 1 << 30
#: the key of ``tape.meta`` under which the tape without kept buffers travels to ``wrap``
UNPOOLED = "pool.unpooled"

_REDUCTIONS = frozenset({"sum", "mean", "prod", "max", "min", "var", "std"})
_LOCK = threading.Lock()
_kept = [0]


def kept_bytes() -> int:
    """Bytes held by the kept buffers of every compiled tape still alive."""
    return _kept[0]


def _release(n):
    with _LOCK:
        _kept[0] -= n


def _is_matmul(op) -> bool:
    return op.fn == "matmul" and not op.kwargs and len(op.args) == 2


def keep_temporaries(tape: Tape, ufuncs, matmul, reductions: tuple, empty, itemsize) -> Tape:
    """``tape`` with its private large temporaries written into buffers allocated
    here (``empty(shape, dtype_name)``) and bound as constants. ``ufuncs(name)``
    gives the library's ufunc, ``matmul`` its matmul taking ``out=``,
    ``reductions`` the reduction callables the backend binds as constants (they
    return new arrays), ``itemsize(dtype_name)`` the bytes of one element.
    The tape without kept buffers rides in ``meta[UNPOOLED]``."""
    consts = tape.consts
    types = tape.types
    ufunc_values = {}

    def writes_into(op):
        """The variable whose buffer ``op`` writes into (``out=``), or None."""
        if op.kind != CALL or set(op.kwargs) != {"out"} or not isinstance(op.fn, Const):
            return None
        out = op.kwargs["out"]
        return out.id if isinstance(out, Var) else None

    def is_ufunc_const(fn):
        if not isinstance(fn, Const):
            return False
        v = consts[fn.index]
        key = id(v)
        if key not in ufunc_values:
            name = getattr(v, "__name__", None)
            ufunc_values[key] = isinstance(name, str) and ufuncs(name) is v
        return ufunc_values[key]

    def makes_new(op) -> bool:
        """Whether ``op`` reads its arguments and returns new arrays only (no view, no reference kept)."""
        if op.kind != CALL:
            return False
        if ufunc_name(op) is not None or _is_matmul(op):
            return True
        if isinstance(op.fn, str) and op.fn in _REDUCTIONS:
            return True
        if isinstance(op.fn, Const):
            if writes_into(op) is not None and is_ufunc_const(op.fn):
                return True
            v = consts[op.fn.index]
            return any(v is r for r in reductions)
        return False

    def fresh(op) -> bool:
        """A producer whose result may be written into a kept buffer."""
        if ufunc_name(op) is None and not _is_matmul(op):
            return False
        t = types.get(op.outs[0])
        return t is not None and bool(t.shape) and None not in t.shape and size(t.shape) * itemsize(t.dtype) >= MIN_BYTES

    ops_ = tape.ops
    root: dict[int, int] = {}  # var -> the var whose allocation holds its value
    start: dict[int, int] = {}
    for i, op in enumerate(ops_):
        if op.kind != CALL or len(op.outs) != 1:
            continue
        into = writes_into(op)
        if into is not None and into in root:
            root[op.outs[0]] = root[into]
        elif fresh(op):
            root[op.outs[0]] = op.outs[0]
            start[op.outs[0]] = i
    if not start:
        return tape
    outputs = set(iter_vars(tape.outputs))
    bad: set[int] = set()
    end: dict[int, int] = {}
    for v, r in root.items():
        if v in outputs:
            bad.add(r)
    for i, op in enumerate(ops_):
        for v in op.uses():
            r = root.get(v)
            if r is None:
                continue
            end[r] = i
            if not makes_new(op):
                bad.add(r)
            elif writes_into(op) == v and root.get(op.outs[0]) != r:
                bad.add(r)  # written into, yet the result is not followed as part of the chain
    kept = sorted((start[r], r) for r in start if r not in bad)
    if not kept:
        return tape
    # lifetimes -> buffers: one buffer per (shape, dtype) free again after its last reader
    free: dict[tuple, list] = {}
    busy: list = []  # (end, key, buffer index)
    buffers: list = []
    chosen: dict[int, int] = {}
    for s, r in kept:
        still = []
        for e, key, b in busy:
            if e < s:
                free.setdefault(key, []).append(b)
            else:
                still.append((e, key, b))
        busy = still
        t = types[r]
        key = (t.shape, t.dtype)
        pool = free.get(key)
        if pool:
            b = pool.pop()
        else:
            b = len(buffers)
            buffers.append(key)
        chosen[r] = b
        busy.append((end.get(r, s), key, b))
    nbytes = sum(size(shape) * itemsize(dtype) for shape, dtype in buffers)
    with _LOCK:
        if _kept[0] + nbytes > MAX_BYTES:
            return tape
        _kept[0] += nbytes
    # the buffers and the functions that write into them, bound as constants
    calls = list(dict.fromkeys("matmul" if _is_matmul(ops_[s]) else ufunc_name(ops_[s]) for s, _ in kept))
    new, handles = tape.with_consts([empty(shape, dtype) for shape, dtype in buffers]
                                    + [matmul if c == "matmul" else ufuncs(c) for c in calls])
    fn_of = dict(zip(calls, handles[len(buffers):]))
    new_ops = list(ops_)
    for s, r in kept:
        op = ops_[s]
        fn = fn_of["matmul" if _is_matmul(op) else ufunc_name(op)]
        new_ops[s] = op.replace(fn=fn, kwargs={"out": handles[chosen[r]]})
    result = new.replace(ops=tuple(new_ops), meta={**tape.meta, UNPOOLED: tape})
    result.meta["pool.bytes"] = nbytes
    return result


class Exclusive:
    """Runs ``fn`` (which writes into kept buffers) for one call at a time; a
    call made while it runs (another thread, or re-entered from inside) runs
    ``plain()``, the same tape without kept buffers, compiled when first needed."""

    def __init__(self, fn, plain, nbytes: int):
        self.fn = fn
        self._plain_factory = plain
        self._plain = None
        self._busy = threading.Lock()
        self.__yota_source__ = getattr(fn, "__yota_source__", "")
        self.__name__ = getattr(fn, "__name__", "f")
        weakref.finalize(self, _release, nbytes)

    def __call__(self, xp, ext, *args):
        if self._busy.acquire(blocking=False):
            try:
                return self.fn(xp, ext, *args)
            finally:
                self._busy.release()
        plain = self._plain
        if plain is None:
            plain = self._plain = self._plain_factory()
        return plain(xp, ext, *args)
