"""Name the mechanism behind each failure: re-check the program with one suspected
bug of yota's patched away *in memory* (yota's files are not touched) and see
whether the failure goes.

``python -m tests.fuzz.attribute FILE.jsonl [--limit N]`` reads a campaign's
``--jsonl`` output and prints, per backend, how many failing programs each
mechanism accounts for. A failure no single patch fixes is tried with all of
them (``combined``), and else counted as ``unexplained`` with its seed.

Mechanisms (the patch that removes each):

* ``0d-scalar``        (no patch; read from the message) a 0-d NumPy input's gradient comes back
                       as a NumPy scalar (numpy.float64), not a 0-d array.
* ``fold-int-float``   Tape.simplify's ``_fold`` turns the Python int of ``n + 1``, ``1 - n``,
                       ``n * 2`` into a float (``float(y)``) and writes it back into the op, so an
                       int64 array becomes float64 in the compiled code. Patch: keep the literal.
* ``add-zero``         ``_fold`` drops ``x + 0`` / ``x + 0.0`` (and ``0 + x``), but -0.0 + 0 is +0.0:
                       signed zeros change sign in the compiled code. Patch: keep the add.
* ``fill-astype``      ``simplify`` carries a "filled with c" fact through ``astype`` with a
                       positional dtype (``_SHAPE_ONLY`` holds ``astype``), so
                       ``astype(ones * 1.7, int64)`` is taken to hold 1.7. Patch: astype ends the fill.
* ``neg-literal-pow``  codegen writes a negative literal base without parentheses:
                       ``pow(-1, v)`` becomes ``-1 ** v1`` == -(1 ** v1). Patch: parenthesize.
* ``cse-signed-zero``  CSE keys a float literal by ``(float, x)``, and 0.0 == -0.0, so ``x * 0.0``
                       and ``x * -0.0`` are merged. Patch: the key holds the sign.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import json
import math

from yota import codegen, tape as tape_mod

from .check import Reference, check
from .programs import generate

_ORIG = {"fold": tape_mod._fold, "lit": codegen._lit, "shape_only": set(tape_mod._SHAPE_ONLY),
         "hashable": tape_mod._hashable}


def _make_fold(keep_int=False, keep_add_zero=False):
    Var = tape_mod.Var

    def _fold(op, args, fill, types):
        x, y = args
        fx = fill.get(x.id) if isinstance(x, Var) else (float(x) if type(x) in (int, float) else None)
        fy = fill.get(y.id) if isinstance(y, Var) else (float(y) if type(y) in (int, float) else None)
        fn = op.fn
        if fx is not None and fy is not None:
            if isinstance(x, Var) or isinstance(y, Var):
                return {"multiply": fx * fy, "add": fx + fy, "subtract": fx - fy}[fn]
            return None
        if fx is None and fy is None:
            return None
        var, c = (y, fx) if fx is not None else (x, fy)
        lit = (x if fx is not None else y)
        if keep_int and not isinstance(lit, Var):
            c_out = lit  # the literal as written (an int stays an int)
        else:
            c_out = c
        if not isinstance(var, Var) or types.get(var.id) != types.get(op.out):
            return None
        if fn == "multiply":
            return var if c == 1.0 else ("multiply", (var, c_out))
        if fn == "add":
            if c == 0.0 and keep_add_zero:
                return None
            return var if c == 0.0 else ("add", (var, c_out))
        if fx is not None:  # c - var
            return ("subtract", (c_out, var))
        return var if c == 0.0 else ("subtract", (var, c_out))

    return _fold


def _lit_paren(x):
    if type(x) in (int, float) and (x < 0 or (x == 0 and math.copysign(1.0, x) < 0)):
        return f"({x!r})"
    return _ORIG["lit"](x)


def _hashable_signed(x):
    if isinstance(x, float) and x == 0.0:
        return (float, x, math.copysign(1.0, x))
    if isinstance(x, list):
        return ("list", tuple(_hashable_signed(y) for y in x))
    if isinstance(x, tuple):
        return tuple(_hashable_signed(y) for y in x)
    return _ORIG["hashable"](x)


PATCHES = ("fold-int-float", "add-zero", "fill-astype", "neg-literal-pow", "cse-signed-zero")


@contextlib.contextmanager
def patched(names):
    names = set(names)
    try:
        tape_mod._fold = _make_fold("fold-int-float" in names, "add-zero" in names)
        if "fill-astype" in names:
            tape_mod._SHAPE_ONLY.discard("astype")
        if "neg-literal-pow" in names:
            codegen._lit = _lit_paren
        if "cse-signed-zero" in names:
            tape_mod._hashable = _hashable_signed
        yield
    finally:
        tape_mod._fold = _ORIG["fold"]
        codegen._lit = _ORIG["lit"]
        tape_mod._SHAPE_ONLY.clear()
        tape_mod._SHAPE_ONLY.update(_ORIG["shape_only"])
        tape_mod._hashable = _ORIG["hashable"]


def _is_0d_scalar(f) -> bool:
    return f.kind == "type" and "not numpy.ndarray" in f.message


def serious(result) -> list:
    """The failures other than the 0-d NumPy scalar one (and the type comparisons it causes)."""
    if result.status != "fail":
        return []
    return [f for f in result.failures if not _is_0d_scalar(f)
            and not (f.kind == "type" and f.where.startswith("vs ") and "float" in f.message)]


def attribute(prog, backend, ref=None) -> list:
    """The mechanisms of this program's failure on this backend."""
    ref = ref or Reference(prog)
    base = check(prog, backend, ref)
    if base.status != "fail":
        return []
    found = []
    if any(_is_0d_scalar(f) for f in base.failures):
        found.append("0d-scalar")
    if not serious(base):
        return found
    fixed = []
    for p in PATCHES:
        with patched([p]):
            r = check(prog, backend, ref)
        if not serious(r):
            fixed.append(p)
    if fixed:
        return found + fixed
    with patched(PATCHES):
        r = check(prog, backend, ref)
    if not serious(r):
        return found + ["combined"]
    return found + ["unexplained"]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz.attribute")
    ap.add_argument("jsonl")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--show", type=int, default=30, help="unexplained seeds to list")
    args = ap.parse_args(argv)
    recs = [json.loads(line) for line in open(args.jsonl)]
    recs = [r for r in recs if r["status"] == "fail"]
    if args.limit:
        recs = recs[: args.limit]
    counts = collections.defaultdict(collections.Counter)
    calls = collections.defaultdict(collections.Counter)
    unexplained = collections.defaultdict(list)
    for r in recs:
        prog = generate(r["seed"])
        mech = attribute(prog, r["backend"])
        for m in mech:
            counts[r["backend"]][m] += 1
            kinds = {(f[0], f[1]) for f in r["failures"]}
            calls[(r["backend"], m)][",".join(sorted(f"{k}@{c}" for k, c in kinds))[:80]] += 1
        if "unexplained" in mech:
            unexplained[r["backend"]].append(r["seed"])
    for b, c in counts.items():
        print(f"{b}: {len(recs and [r for r in recs if r['backend'] == b])} failing programs")
        for m, n in c.most_common():
            print(f"  {n:6d}  {m}")
            for k, v in calls[(b, m)].most_common(3):
                print(f"            {v:5d}  {k}")
        print(f"  unexplained seeds: {unexplained[b][:args.show]}")


if __name__ == "__main__":
    main()
