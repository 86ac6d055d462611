"""The cache of compiled calls: keys, variants, guards, invalidation.

An entry is keyed by what the call looks like: the kind of call, the
structure of ``(f, args)`` (code objects, static values, each leaf's shape,
dtype and library), the seed and ``wrt``. It holds up to `MAX_VARIANTS`
*variants*, one per control-flow path seen, most recently used first. A
variant is served only when

* its `guards.Guards` hold (the globals, module and class attributes the
  trace read are unchanged), and
* its compiled function's own guards pass (the branches and sizes taken);

otherwise the next variant is tried, and when none fits the call is traced
again. Registering a rule drops every variant that applied a rule of that
target or recorded a call of it. A function that keeps tracing new variants
gets one warning naming the line whose value keeps changing.
"""
from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from typing import Any, Callable

from . import ops
from .errors import GuardFailed, YotaError

__all__ = ["Variant", "Entry", "lookup", "run", "store", "reset", "info", "MISS", "MAX_ENTRIES", "MAX_VARIANTS",
           "RETRACE_WARNING"]

#: At most this many (function, argument signature) entries are kept (LRU).
MAX_ENTRIES = 512
#: At most this many variants (control-flow paths) per entry (LRU).
MAX_VARIANTS = 32
#: Warn once when one entry has traced this many variants.
RETRACE_WARNING = 8

MISS = object()

_CACHE: "OrderedDict[Any, Entry]" = OrderedDict()
_FAST: dict = {}
_LOCK = threading.RLock()
_STATS = {"traces": 0, "hits": 0, "guard_misses": 0, "raised": 0}


class Variant:
    """One compiled path: ``fn(xp, ext, *leaves)`` and ``finish(out, backend)``."""

    __slots__ = ("fn", "finish", "guards", "uses", "guard_locs", "extra", "apart")

    def __init__(self, fn: Callable, finish: Callable, guards, uses: set, guard_locs: list, extra=None):
        self.fn = fn
        self.finish = finish
        self.guards = guards
        self.uses = uses
        self.guard_locs = guard_locs
        self.extra = extra
        # a trace that wrote into an argument's memory holds for arguments that share none (with each
        # other, or with an array the code reads outside them): apart(leaves) says whether they do
        self.apart: Callable | None = None


class Entry:
    __slots__ = ("variants", "backend", "traces", "warned", "last_miss", "title")

    def __init__(self, backend, title=""):
        self.variants: list[Variant] = []
        self.backend = backend
        self.traces = 0
        self.warned = False
        self.last_miss = ""
        self.title = title


def lookup(key) -> Entry | None:
    return _CACHE.get(key)


def fast_lookup(fast_key) -> Entry | None:
    return _FAST.get(fast_key)


def run(entry: Entry, leaves, backend) -> Any:
    """The result of the first variant that fits, or `MISS`."""
    xp = backend.namespace
    prepare = getattr(backend, "prepare_inputs", None)
    if prepare is not None:
        leaves = prepare(leaves)
    why = ""
    raised = False
    for i, v in enumerate(entry.variants):
        g = v.guards
        if g is not None and not g.check():
            why = why or f"{g.first_change()} changed since the trace"
            continue
        if v.apart is not None and not v.apart(leaves):
            why = why or "arguments that the function writes into share memory in this call"
            continue
        try:
            out = v.fn(xp, backend, *leaves)
        except GuardFailed as e:
            if not why and 0 <= e.index < len(v.guard_locs):
                why = f"the value at {v.guard_locs[e.index]} differs from the traced one"
            continue
        except YotaError:
            raise
        except Exception:  # noqa: BLE001 - the library refused these values
            # (a singular matrix, np.errstate's FloatingPointError): the plain call raises it inside
            # the user's code, which may catch it, so this call is traced, and raises, there
            why = why or "an operation raised on these values"
            raised = True
            continue
        if i:
            with _LOCK:
                vs = entry.variants
                if i < len(vs) and vs[i] is v:
                    vs.insert(0, vs.pop(i))
        _STATS["hits"] += 1
        return v.finish(out, backend)
    if entry.variants:
        _STATS["raised" if raised else "guard_misses"] += 1
        entry.last_miss = why
    return MISS


def store(key, entry_backend, variant: Variant, title: str, fast_key=None) -> Entry:
    with _LOCK:
        entry = _CACHE.get(key)
        if entry is None:
            entry = _CACHE[key] = Entry(entry_backend, title)
            while len(_CACHE) > MAX_ENTRIES:
                _CACHE.popitem(last=False)
                _FAST.clear()
        else:
            _CACHE.move_to_end(key)
        entry.variants.insert(0, variant)
        del entry.variants[MAX_VARIANTS:]
        entry.traces += 1
        _STATS["traces"] += 1
        if fast_key is not None and entry.backend is not None and len(_FAST) < 4 * MAX_ENTRIES:
            _FAST[fast_key] = entry
        if entry.traces >= RETRACE_WARNING and not entry.warned:
            entry.warned = True
            reason = entry.last_miss or "each call takes a path (branch, size) not seen before"
            warnings.warn(f"yota: {title} has been traced {entry.traces} times for arguments of the same "
                          f"shapes, because {reason}; every such call traces and compiles again. Branch on "
                          f"array comparisons that keep their outcome (`if loss < tol:`), pass changing numbers "
                          f"as arrays or Python floats (inputs, not constants), or use xp.where for "
                          f"elementwise choices.", RuntimeWarning, stacklevel=4)
    return entry


def touch(key) -> None:
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)


def remember_fast(fast_key, entry: Entry) -> None:
    if entry.backend is not None and len(_FAST) < 4 * MAX_ENTRIES:
        _FAST[fast_key] = entry


def _on_rule_change(target) -> None:
    with _LOCK:
        _FAST.clear()
        for key in list(_CACHE):
            e = _CACHE[key]
            e.variants = [v for v in e.variants if target not in v.uses]
            if not e.variants:
                del _CACHE[key]


ops.on_change(_on_rule_change)


def reset() -> None:
    with _LOCK:
        _CACHE.clear()
        _FAST.clear()
        for k in _STATS:
            _STATS[k] = 0


def info() -> dict:
    with _LOCK:
        return dict(_STATS, entries=len(_CACHE), variants=sum(len(e.variants) for e in _CACHE.values()))
