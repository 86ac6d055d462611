"""Shrink a failing program while the failure persists.

Steps, repeated until none helps: delete a statement (its uses replaced by an
earlier value of the same shape and dtype), drop a term of the returned sum,
replace a variable a statement reads by an input of the same shape, drop
unused inputs, pass a closure-captured input as an argument instead, and make
input arrays smaller along an axis. Every candidate must still be a valid
program (`programs.valid`) and fail with the same signature.
"""
from __future__ import annotations

import copy
import re

import numpy as np

from .check import Reference, check
from .programs import Input, Program, defined_name, valid

__all__ = ["shrink", "same_failure"]


def same_failure(target: tuple, result) -> bool:
    if result.status != "fail":
        return (result.status,) == target[:1] and result.status in ("crash", "yota_error") and \
            _err_key(result.error) == target[1:]
    want = set(target)
    return bool(want & set(result.signature))


def _err_key(err: str) -> tuple:
    first = err.splitlines()[0] if err else ""
    return (re.sub(r"\d+", "N", first)[:60],)


def target_of(result) -> tuple:
    if result.status == "fail":
        # the most telling failure: a wrong number first, then a raise, then a type
        order = {"grad": 0, "value": 1, "cached-raises": 2, "inconsistent": 3, "retraced": 4, "type": 5,
                 "fresh-raises": 6}
        f = min(result.failures, key=lambda f: (order.get(f.kind, 9), f.call != "cached"))
        return (f.signature,)
    return (result.status,) + _err_key(result.error)


def _fails(prog: Program, backend: str, target: tuple) -> bool:
    if not valid(prog):
        return False
    try:
        r = check(prog, backend, Reference(prog))
    except Exception:  # noqa: BLE001  (a reference that fails: not this failure)
        return False
    return same_failure(target, r)


def _refs(text: str, name: str) -> bool:
    return re.search(rf"\b{name}\b", text) is not None


def _sub(text: str, name: str, new: str) -> str:
    return re.sub(rf"\b{name}\b", new, text)


def _candidates(prog: Program):
    """Smaller programs, roughly the biggest cuts first."""
    body, ret = prog.body, prog.ret
    # 1. drop a return term
    terms = _split_terms(ret)
    if len(terms) > 1:
        for i in range(len(terms)):
            yield prog.with_(ret=" + ".join(terms[:i] + terms[i + 1:]), body=copy.deepcopy(body))
    # 2. delete a statement: uses replaced by a same-typed earlier value
    types = {i.name: (i.shape, i.dtype) for i in prog.inputs if i.kind == "arr"}
    types.update(prog.shapes)
    order = [i.name for i in prog.inputs if i.kind == "arr"] + [defined_name(s) for s in body]
    for k in reversed(range(len(body))):
        name = defined_name(body[k])
        later = "\n".join(ln for s in body[k + 1:] for ln in s) + "\n" + ret
        if not _refs(later, name):
            yield prog.with_(body=copy.deepcopy(body[:k] + body[k + 1:]))
            continue
        earlier = order[: order.index(name)]
        subs = [n for n in earlier if types.get(n) == types.get(name)]
        subs += [n for n in earlier if n not in subs and types.get(n, (None,))[0] == types.get(name, (0,))[0]]
        for new in subs[:3]:
            nb = copy.deepcopy(body[:k]) + [[_sub(ln, name, new) for ln in s] for s in body[k + 1:]]
            yield prog.with_(body=nb, ret=_sub(ret, name, new))
    # 3. a statement reads an input instead of an earlier variable of the same shape
    for k, s in enumerate(body):
        text = "\n".join(s)
        mine = defined_name(s)
        for ref in sorted(set(re.findall(r"\bv\d+\b", text)) - {mine}):
            for inp in prog.inputs:
                if inp.kind == "arr" and types.get(ref) == (inp.shape, inp.dtype):
                    nb = copy.deepcopy(body)
                    nb[k] = [_sub(ln, ref, inp.name) for ln in s]
                    yield prog.with_(body=nb)
                    break
    # 4. unused inputs go
    text = "\n".join(ln for s in body for ln in s) + "\n" + ret
    for inp in prog.inputs:
        if not _refs(text, inp.name) and inp is not _first_arg(prog):
            yield _without_input(prog, inp)
    # 5. closure inputs become arguments
    for j, inp in enumerate(prog.inputs):
        if inp.closure:
            ni = list(prog.inputs)
            ni[j] = Input(inp.name, inp.kind, inp.shape, inp.dtype, False)
            yield prog.with_(inputs=ni, body=copy.deepcopy(body))
    # 6. smaller inputs
    for j, inp in enumerate(prog.inputs):
        if inp.kind == "float":
            continue
        for ax, n in enumerate(inp.shape):
            if n > 1:
                for m in sorted({1, n - 1}):
                    shape = inp.shape[:ax] + (m,) + inp.shape[ax + 1:]
                    sl = tuple(slice(None) if a != ax else slice(0, m) for a in range(len(inp.shape)))
                    ni = list(prog.inputs)
                    ni[j] = Input(inp.name, inp.kind, shape, inp.dtype, inp.closure)
                    A, B = dict(prog.A), dict(prog.B)
                    A[inp.name] = np.ascontiguousarray(np.asarray(A[inp.name])[sl])
                    B[inp.name] = np.ascontiguousarray(np.asarray(B[inp.name])[sl])
                    yield prog.with_(inputs=ni, A=A, B=B, body=copy.deepcopy(body))


def _first_arg(prog):
    return next(i for i in prog.inputs if not i.closure)


def _without_input(prog, inp):
    ni = [i for i in prog.inputs if i is not inp]
    A = {k: v for k, v in prog.A.items() if k != inp.name}
    B = {k: v for k, v in prog.B.items() if k != inp.name}
    return prog.with_(inputs=ni, A=A, B=B, body=copy.deepcopy(prog.body))


def _split_terms(ret: str) -> list:
    """The top-level ' + ' terms of the return expression."""
    terms, depth, cur = [], 0, ""
    i = 0
    while i < len(ret):
        ch = ret[i]
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and ret.startswith(" + ", i):
            terms.append(cur)
            cur = ""
            i += 3
            continue
        cur += ch
        i += 1
    terms.append(cur)
    return terms


def shrink(prog: Program, backend: str, target: tuple, budget: int = 400) -> Program:
    """The smallest program found that still fails with ``target``."""
    best = prog
    tried = 0
    progress = True
    while progress and tried < budget:
        progress = False
        for cand in _candidates(best):
            if not any(i.kind == "arr" and not i.closure for i in cand.inputs):
                continue
            tried += 1
            if _fails(cand, backend, target):
                best = cand
                progress = True
                break
            if tried >= budget:
                break
    valid(best)
    return best
