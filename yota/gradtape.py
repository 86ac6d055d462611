"""The reverse sweep: pullbacks run on Tracer cotangents, so the backward pass
is recorded onto the same tape as ordinary array-API calls."""
from __future__ import annotations

from . import errors
from .tangents import ZeroTangent
from .tape import dtype_name
from .tracer import DIFF, PRIM, Context, Tracer, is_float

__all__ = ["backward"]


def backward(ctx: Context, outputs: list, seeds: list, section: str = "backward") -> dict[int, Tracer]:
    """Record the backward pass for ``outputs`` with cotangents ``seeds``.

    Returns the cotangent of every variable that received one (inputs included).
    Only rule applications between differentiable inputs and the outputs are
    visited; cotangents of a variable used several times are summed.
    """
    tape = ctx.tape
    tape.section = section
    ctx.mode = PRIM
    ct: dict[int, Tracer] = {}
    try:
        for out, seed in zip(outputs, seeds):
            if isinstance(out, Tracer) and out.diff and seed is not None:
                _add(ctx, ct, out, seed, "seed")
        for entry, args, y, pullback in reversed(ctx.nodes):
            if type(y) is Tracer:  # the common case, inline
                dy = ct.pop(y.vid, None)
                if dy is None:
                    continue
                label = entry.label
                head = f"d%{y.vid}"
            else:
                outs = _tracers(y)
                cts = [ct.pop(t.vid, None) for t in outs]
                if all(c is None for c in cts):
                    continue
                label = entry.label
                if entry.sparse_cotangents:
                    filled = cts  # the rule takes None for a result without a cotangent
                else:
                    filled = [c if c is not None else ctx.ns.zeros_like(t) for c, t in zip(cts, outs)]
                dy = _rebuild(y, iter(filled))
                head = "d(" + ",".join(f"%{t.vid}" for t in outs) + ")"
            ctx.note = ("{} ({})", head, label)
            try:
                cots = pullback(dy)
            except errors.YotaError:
                raise
            except Exception as e:
                raise errors.rule_failed(label, e) from e
            if not isinstance(cots, (tuple, list)):
                raise errors.RuleError(label, TypeError(
                    f"its pullback returned {type(cots).__name__}; it must return a tuple with one "
                    f"cotangent per positional argument ({len(args)})"))
            if len(cots) != len(args):
                raise errors.RuleError(label, TypeError(
                    f"its pullback returned {len(cots)} cotangents for {len(args)} positional arguments; "
                    f"return exactly one per positional argument (None for one that is not differentiable)"))
            for a, c in zip(args, cots):
                _give(ctx, ct, a, c, head, label)
    finally:
        ctx.note = ""
        ctx.mode = DIFF
    return ct


def _tracers(y) -> list:
    if isinstance(y, Tracer):
        return [y]
    out = []
    for item in y:
        out.extend(_tracers(item) if isinstance(item, (tuple, list)) else [item] if isinstance(item, Tracer) else [])
    return out


def _rebuild(y, it):
    if isinstance(y, Tracer):
        return next(it)
    items = [_rebuild(i, it) if isinstance(i, (Tracer, tuple, list)) else i for i in y]
    t = type(y)
    if t is tuple or t is list:
        return t(items)
    return t._make(items) if hasattr(t, "_make") else t(items)


def _give(ctx, ct, a, c, head, label):
    if type(a) is Tracer:
        if not a.diff:
            return
        if callable(c) and type(c) is not Tracer:
            c = c()
        if type(c) is Tracer:
            types = ctx.tape.types
            vt = types.get(c.vid)
            if vt is not None and vt is types.get(a.vid):  # same shape and dtype (types are shared): inline
                _note(ctx, c, ("{}/d%{}", head, a.vid))
                _add(ctx, ct, a, c, None)
                return
        _give_checked(ctx, ct, a, c, head, label)
        return
    if isinstance(a, (tuple, list)):
        if c is None or isinstance(c, ZeroTangent):
            return
        if callable(c) and not isinstance(c, Tracer):
            c = c()
        if not isinstance(c, (tuple, list)) or len(c) != len(a):
            raise errors.RuleError(label, TypeError(
                f"its pullback returned {type(c).__name__} for a sequence argument of {len(a)} arrays; "
                f"return a tuple with one cotangent per array"))
        for ai, ci in zip(a, c):
            _give(ctx, ct, ai, ci, head, label)
    # anything else (a number, a constant array) takes no cotangent


def _give_checked(ctx, ct, a, c, head, label):
    if c is None or isinstance(c, ZeroTangent):
        return
    if not isinstance(c, Tracer):
        c = ctx.ns.asarray(c) * ctx.ns.ones_like(a) if not hasattr(c, "shape") else c
    cv, av = c.val, a.val
    cs, as_ = getattr(cv, "shape", ()), getattr(av, "shape", ())
    if cs != as_ and tuple(cs) != tuple(as_):
        raise errors.RuleError(label, ValueError(
            f"its pullback returned a cotangent of shape {tuple(cs)} for an argument of shape {tuple(as_)}"))
    a_dtype = getattr(av, "dtype", None)
    if a_dtype is not None and getattr(cv, "dtype", None) != a_dtype:
        if dtype_name(c.dtype).startswith("complex") and not dtype_name(a_dtype).startswith("complex"):
            c = ctx.ns.real(c)
        if c.dtype != a_dtype and is_float(av):
            c = ctx.ns.astype(c, a_dtype)
    _note(ctx, c, ("{}/d%{}", head, a.vid))
    _add(ctx, ct, a, c, None)


def _add(ctx, ct, a, c, note):
    prev = ct.get(a.vid)
    if prev is None:
        ct[a.vid] = c
        if note:
            _note(ctx, c, note)
    else:
        s = prev + c
        _note(ctx, s, ("accumulate d%{}", a.vid))
        ct[a.vid] = s


def _note(ctx, c, text):
    # Only an op made by the pullback at hand is labelled with its result;
    # a cotangent passed through unchanged keeps the label of where it was made.
    ops_ = ctx.tape.ops
    outs = (c.vid,)
    # newest first, over the last 64 ops; usually the newest is the one (a while loop: no range
    # object per call, which runs once per cotangent)
    i = len(ops_) - 1
    stop = max(-1, i - 63)
    while i > stop:
        op = ops_[i]
        if op.outs == outs and op.kind == "call":
            head = ctx.note
            if op.section == ctx.tape.section and (op.note is head or not op.note or not head):
                op.note = text
            return
        i -= 1
