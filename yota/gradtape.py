"""The reverse sweep: pullbacks run on Tracer cotangents, so the backward pass
is recorded onto the same tape as ordinary array-API calls."""
from __future__ import annotations

from . import errors
from .tape import CALL
from .tangents import ZeroTangent
from .tracer import DIFF, PRIM, Context, Tracer, _is_float

__all__ = ["backward"]


def backward(ctx: Context, outputs: list, seeds: list) -> dict[int, Tracer]:
    """Record the backward pass for ``outputs`` with cotangents ``seeds``.

    Returns the cotangent of every variable that received one (inputs included).
    Only rule applications between differentiable inputs and the outputs are
    visited; cotangents of a variable used several times are summed.
    """
    tape = ctx.tape
    tape.section = 1
    ctx.mode = PRIM
    ct: dict[int, Tracer] = {}
    try:
        for out, seed in zip(outputs, seeds):
            if isinstance(out, Tracer) and out.diff:
                _add(ctx, ct, out, seed, "seed")
        for name, args, y, pullback, _ in reversed(ctx.nodes):
            outs = _tracers(y)
            cts = [ct.pop(t.vid, None) for t in outs]
            if all(c is None for c in cts):
                continue
            label = _label(name)
            if isinstance(y, Tracer):
                dy = cts[0]
                head = f"d%{y.vid}"
            else:
                filled = [c if c is not None else ctx.ns.zeros_like(t) for c, t in zip(cts, outs)]
                dy = _rebuild(y, iter(filled))
                head = "d(" + ",".join(f"%{t.vid}" for t in outs) + ")"
            ctx.note = f"{head} ({label})"
            try:
                cots = pullback(dy)
            except errors.YotaError:
                raise
            except Exception as e:
                raise errors.RuleError(name, e) from e
            if not isinstance(cots, (tuple, list)):
                raise errors.RuleError(name, TypeError(
                    f"its pullback returned {type(cots).__name__}; it must return a tuple with one "
                    f"cotangent per positional argument ({len(args)})"))
            if len(cots) < len(args):
                cots = tuple(cots) + (None,) * (len(args) - len(cots))
            for a, c in zip(args, cots):
                _give(ctx, ct, a, c, head, name)
    finally:
        ctx.note = ""
        ctx.mode = DIFF
    return ct


def _label(name) -> str:
    return getattr(name, "__name__", None) or str(name)


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
    return type(y)(items) if type(y) in (tuple, list) else type(y)(*items)


def _give(ctx, ct, a, c, head, name):
    if isinstance(a, (tuple, list)):
        if c is None or isinstance(c, ZeroTangent):
            return
        if callable(c) and not isinstance(c, Tracer):
            c = c()
        for ai, ci in zip(a, c):
            _give(ctx, ct, ai, ci, head, name)
        return
    if not (isinstance(a, Tracer) and a.diff):
        return
    if callable(c) and not isinstance(c, Tracer):
        c = c()
    if c is None or isinstance(c, ZeroTangent):
        return
    if not isinstance(c, Tracer):
        c = ctx.ns.asarray(c) * ctx.ns.ones_like(a) if not hasattr(c, "shape") else c
    if tuple(c.shape) != tuple(a.shape):
        raise errors.RuleError(name, ValueError(
            f"its pullback returned a cotangent of shape {tuple(c.shape)} for an argument of shape "
            f"{tuple(a.shape)}"))
    if c.dtype != a.dtype and hasattr(a.val, "dtype"):
        if "complex" in str(c.dtype) and "complex" not in str(a.dtype):
            c = ctx.ns.real(c)
        if c.dtype != a.dtype and _is_float(a.val):
            c = ctx.ns.astype(c, a.dtype)
    _note(ctx, c, f"{head}/d%{a.vid}")
    _add(ctx, ct, a, c, None)


def _add(ctx, ct, a, c, note):
    prev = ct.get(a.vid)
    if prev is None:
        ct[a.vid] = c
        if note:
            _note(ctx, c, note)
    else:
        s = prev + c
        _note(ctx, s, f"accumulate d%{a.vid}")
        ct[a.vid] = s


def _note(ctx, c, text):
    # Only an op made by the pullback at hand is labelled with its result;
    # a cotangent passed through unchanged keeps the label of where it was made.
    ops = ctx.tape.ops
    head = ctx.note
    for i in range(len(ops) - 1, max(-1, len(ops) - 64), -1):
        op = ops[i]
        if op.kind == CALL and op.out == c.vid:
            if op.section == 1 and (op.note == head or not op.note or not head):
                op.note = text
            return
