"""Writes into memory that other arrays share, in libraries with views (NumPy, CuPy, array-api-strict).

yota records a write (``x[i] = v``, ``x += y``) as a new array, as JAX does, so the tape stays
pure. In NumPy the write lands in memory that views share: after ``v = x[:2]; x[0] = 10``, ``v``
holds 10 too, and ``z = y; z += 1`` changes ``y``. The trace follows the plain program exactly as
long as no traced array whose memory the write reaches is read afterwards, so:

- the same Python object sees the write (the tracer takes the new value in place: ``z is y``);
- a write marks every other live traced array that shares the written memory as stale, and
  reading a stale array raises `StaleViewError`, naming the write;
- a write into memory that an array read outside the arguments shares (an argument that is also
  a global the code reads) raises at once: the tape holds that array as it was.

Which memory is shared is the plain program's: the trace's concrete values come from the same
library calls, so a view op's result is a view there too. A written tracer gets a new concrete
value (copy-on-write keeps the values the rules saw), so each tracer also has its *plain memory*:
its concrete value until it is first written, then that value kept, and for a view taken of a
written array, the same view op applied to the plain memory. The backend says what owns an
array's memory, whether two arrays overlap and whether one covers another (``memory_owner``,
``overlaps``, ``covers``); libraries whose
arrays cannot be written (Dask, JAX) have no owner, and nothing here runs for them.
"""
from __future__ import annotations

import weakref

from . import errors

__all__ = ["Views", "StaleViewError", "apart"]


class StaleViewError(errors.YotaError, ValueError):
    diverges = True

    def __init__(self, written_at: str):
        super().__init__(
            f"this array shares memory with an array written to at {written_at} (it is a view of that "
            f"array, or that array views it). In NumPy it sees the write; yota records each write as a new "
            f"array, as JAX does, so here it still holds the old values. Read the array that was written to "
            f"(index it again after the write), or copy before writing: xp.asarray(x, copy=True).")


class Views:
    """One trace's record of which traced arrays share memory, and which are stale."""

    __slots__ = ("ext", "shared", "stale", "plain", "guards", "_outside", "written", "shared_inputs",
                 "_input_owners")

    def __init__(self, ext):
        self.ext = ext
        self.written = False  # an argument's memory was written: which arguments share memory matters
        self.shared_inputs = False  # arguments share memory in this call
        self._input_owners: set = set()
        self.guards = None  # what the code read outside its arguments: its arrays, on the first write
        self._outside: list | None = None
        self.shared: dict = {}  # id(tracer) -> a weak reference to it: tracers that share memory
        self.stale: dict = {}  # id(tracer) -> (tracer, where it was written, the plain memory written)
        self.plain: dict = {}  # id(tracer) -> (tracer, its plain memory), where that is not its value

    def memory(self, t):
        hit = self.plain.get(id(t))
        return hit[1] if hit is not None and hit[0] is t else t.val

    def note(self, out, args, ctx, name, kwargs):
        """After an op that may return a view (``ctx`` runs ``name`` again on other values): the results
        that view an argument's memory, and those arguments, share memory. Returns the result: the
        argument itself where the library returns its argument (``asarray(x) is x``)."""
        owner = self.ext.memory_owner
        tracers = [a for a in args if hasattr(a, "vid")]
        if not tracers:
            return out
        if len(tracers) == 1 and hasattr(out, "vid"):  # x[i], reshape(x), x.T: the common call, inline
            a = tracers[0]
            if out.val is not a.val and id(a) not in self.plain:
                mine = owner(out.val)
                if mine is not None and mine is owner(a.val):
                    self._share(out)
                    self._share(a)
                return out
        single = not isinstance(out, (tuple, list))
        outs = (out,) if single else out
        same = single and hasattr(out, "vid") and any(out.val is a.val for a in tracers)
        owners = [owner(self.memory(a)) for a in tracers]
        if not same and all(o is None for o in owners):
            return out  # no memory to share: Dask, JAX, scalars
        if same or any(id(a) in self.plain for a in tracers):
            # a written array's view, or a call that gave back its argument's value (the trace skips
            # an astype to the same dtype; Dask's x[...] is x): the same op on the plain memory says
            # what the plain program has (NumPy's astype copies, its reshape views, asarray is x)
            plain_out = ctx.implementation_of(name)(*(self.memory(a) if hasattr(a, "vid") else a for a in args),
                                                    **kwargs)
            if single:
                for a in tracers:
                    if plain_out is self.memory(a):
                        return a
            plain_outs = (plain_out,) if single else plain_out
            for o, p in zip(outs, plain_outs):
                if hasattr(o, "vid") and p is not o.val:
                    self.plain[id(o)] = (o, p)
        for o in outs:
            if not hasattr(o, "vid"):
                continue
            mine = owner(self.memory(o))
            if mine is None:
                continue
            for a, theirs in zip(tracers, owners):
                if theirs is mine:
                    self._share(o)
                    self._share(a)
        return out

    def alias(self, new, old) -> None:
        """``new`` is another handle on ``old``'s memory (``x.real`` of a real array)."""
        if self.ext.memory_owner(self.memory(old)) is not None:
            if id(old) in self.plain:
                self.plain[id(new)] = (new, self.memory(old))
            self._share(new)
            self._share(old)

    def inputs(self, tracers) -> None:
        """Arguments that share memory (``f(x, x[::2])``, a closure's array passed again)."""
        by_owner: dict = {}
        owner = self.ext.memory_owner
        for t in tracers:
            o = owner(t.val)
            if o is not None:
                by_owner.setdefault(id(o), []).append(t)
        self._input_owners = set(by_owner)
        for group in by_owner.values():
            if len(group) > 1:
                self.shared_inputs = True
                for t in group:
                    self._share(t)

    def _share(self, t) -> None:
        ref = self.shared.get(id(t))
        if ref is None or ref() is not t:  # (an id of a dead tracer may be taken again)
            self.shared[id(t)] = weakref.ref(t)

    def writes(self, target) -> bool:
        """Whether a write into ``target`` lands in memory (NumPy arrays: yes; scalars: no)."""
        return self.ext.memory_owner(target.val) is not None

    def wrote(self, target, key=None) -> None:
        """``target[key]`` (all of it without a key) was written; ``target`` is about to take the
        new value. Call before it does."""
        owner, overlaps = self.ext.memory_owner, self.ext.overlaps
        base = self.memory(target)
        mine = owner(base)
        if mine is None:
            return  # a scalar, or a library whose arrays take no writes
        if id(mine) in self._input_owners:
            self.written = True
        region = _region(base, key) if key is not None else None
        if region is None:
            region = base
        if self._outside is None:
            self._outside = self.guards.arrays() if self.guards is not None else []
        for g in self._outside:
            if owner(g) is mine and overlaps(g, region):
                raise errors.UntraceableError(
                    "a write into an argument that shares memory with an array the code reads outside its "
                    "arguments (a global, a class attribute)",
                    "the tape holds that array as it was, where NumPy would see the write. Pass the array "
                    "once, as an argument, or copy it before writing: xp.asarray(x, copy=True)")
        where = errors.user_location()
        alive = {}
        for k, ref in self.shared.items():
            u = ref()
            if u is None:
                continue
            alive[k] = ref
            if u is not target:
                m = self.memory(u)
                if owner(m) is mine and overlaps(m, region):
                    hit = self.stale.get(id(u))
                    if hit is None:
                        self.stale[id(u)] = (u, where, [region])
                    else:
                        hit[2].append(region)
        self.shared = alive
        self.stale.pop(id(target), None)
        self.plain[id(target)] = (target, base)

    def writing(self, target, key) -> None:
        """Before ``target[key] = v``: a write that covers all of a stale array's stale memory makes
        it current again (``x[i] += 1`` on a row: the row view is written in place, which makes
        ``x`` stale there, then written back into ``x[i]``)."""
        hit = self.stale.get(id(target))
        if hit is None or hit[0] is not target:
            return
        region = _region(self.memory(target), key)
        if region is not None and all(self.ext.covers(region, r) for r in hit[2]):
            del self.stale[id(target)]

    def check(self, args) -> None:
        """Raise if one of ``args`` (tracers, or tuples and lists of them) is stale."""
        for a in args:
            hit = self.stale.get(id(a))
            if hit is not None and hit[0] is a:
                raise StaleViewError(hit[1])
            if type(a) in (tuple, list):
                self.check(a)


def apart(owner, arrays, outside) -> bool:
    """Whether no two of ``arrays`` share memory, and none shares it with one of ``outside`` (the
    arrays the code reads outside its arguments); ``owner`` is the backend's `memory_owner`."""
    seen: set = set()
    for x in arrays:
        o = owner(x)
        if o is not None:
            if id(o) in seen:
                return False
            seen.add(id(o))
    return not any((o := owner(a)) is not None and id(o) in seen for a in outside)


def _region(base, key):
    """The memory ``base[key]`` names, as a view, for a key of ints, slices, ``...`` and None;
    None for another key (integer arrays, masks: no view names what they write)."""
    parts = key if type(key) is tuple else (key,)
    if not all(type(k) in (int, slice, type(None), type(Ellipsis)) for k in parts):
        return None
    try:  # with a `...` in it, x[0] is a 0-d view, not a scalar
        return base[parts if Ellipsis in parts else parts + (Ellipsis,)]
    except Exception:  # noqa: BLE001 - a key only the traced indexing takes
        return None
