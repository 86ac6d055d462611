"""yota's coverage of the Python array API standard (2025.12), as Markdown.

For every function of the standard (the list in tools/array_api_2025_12.txt,
taken from the specification's stubs, so this runs offline) it reports:

- gradient: ``differentiable`` (an entry of the op table ``yota.ops`` with a rule),
  ``non-differentiable`` (registered in ``NONDIFF``: recorded, zero gradient),
  ``query`` (dtype/info queries that the tracing namespace passes through), or
  ``missing``;
- backends: for NumPy, array-api-strict and Dask, whether the namespace the
  engine uses for that library (``yota.backends.select`` on a sample array,
  with its ``linalg`` / ``fft`` subnamespaces) has the function; where it does
  not: "not supported on <backend>: <reason>". A backend module may give its
  own reasons in a dict ``UNSUPPORTED = {"linalg.eig": "why"}``.

Functions with rules beyond the standard (``einsum``, the ``ext.*`` backend
extensions) are listed last.

    python tools/coverage_table.py                    # print the table
    python tools/coverage_table.py --readme README.md # rewrite the lines between
                                                      # <!-- coverage:start --> and <!-- coverage:end -->
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SPEC = os.path.join(HERE, "array_api_2025_12.txt")
VERSION = "2025.12"
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"

BACKENDS = ("numpy", "array_api_strict", "dask")
# Always listed in "beyond the standard", whether or not its rule is registered yet.
EXTRA = ("einsum",)

GROUP_TITLES = {
    "creation_functions": "Creation", "data_type_functions": "Data types", "elementwise_functions": "Elementwise",
    "indexing_functions": "Indexing", "linear_algebra_functions": "Linear algebra",
    "manipulation_functions": "Manipulation", "searching_functions": "Searching", "set_functions": "Sets",
    "sorting_functions": "Sorting", "statistical_functions": "Statistics", "utility_functions": "Utilities",
    "info": "Inspection", "linalg": "`linalg` extension", "fft": "`fft` extension",
}


def read_spec(path: str = SPEC) -> list[tuple[str, list[str]]]:
    """[(group, [function names])] from the data file."""
    groups: list[tuple[str, list[str]]] = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                groups.append((line[1:-1], []))
            elif groups:
                groups[-1][1].append(line)
    return groups


# ---------------------------------------------------------------------- backends


def _sample(name):
    if name == "numpy":
        import numpy as np
        return np.ones(2)
    if name == "array_api_strict":
        import array_api_strict as xps
        return xps.ones(2)
    if name == "dask":
        import dask.array as da
        return da.ones(2, chunks=1)
    raise ValueError(name)


def load_backends() -> dict:
    """name -> (xp, ext, label) or (None, None, why it is unavailable)."""
    from yota import backends
    out = {}
    for name in BACKENDS:
        try:
            sample = _sample(name)
        except ImportError as e:
            out[name] = (None, None, f"{name} is not installed ({e.name})")
            continue
        try:
            b = backends.select([sample])
            xp, ext = b.namespace, b
        except Exception as e:  # a backend module being written, or broken
            out[name] = (None, None, f"yota.backends.select failed: {type(e).__name__}: {e}")
            continue
        label = getattr(xp, "__name__", None) or type(xp).__name__
        out[name] = (xp, ext, label)
    return out


def _lookup(ns, dotted: str):
    obj = ns
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def backend_note(backends: dict, fname: str) -> list[str]:
    """'not supported on <backend>: <reason>' for each backend lacking ``fname``."""
    notes = []
    for name, (xp, ext, label) in backends.items():
        if xp is None:
            notes.append(f"not checked on {name}: {label}")
            continue
        own = getattr(ext, "UNSUPPORTED", None) or {}
        if fname in own:
            notes.append(f"not supported on {name}: {own[fname]}")
            continue
        if fname.startswith("ext."):
            ok = callable(getattr(ext, fname[4:], None))
            where = getattr(ext, "__name__", "the backend module")
        else:
            try:
                ok = _lookup(xp, fname) is not None
            except Exception:
                ok = False
            where = label
        if not ok:
            short = fname[4:] if fname.startswith("ext.") else fname
            notes.append(f"not supported on {name}: `{where}` has no `{short}`")
    return notes


# ---------------------------------------------------------------------- rules


def gradient_status(fname: str, rules, nondiff, queries) -> str:
    if fname in rules:
        return "differentiable"
    if fname in nondiff:
        return "non-differentiable"
    if fname in queries:
        return "query"
    return "missing"


def build(spec_path: str = SPEC) -> str:
    import yota  # noqa: F401  (registers every rule)
    from yota import ops

    table = {k: d for k, d in ops.OPS.items() if isinstance(k, str)}
    rules = {k for k, d in table.items() if d.rule is not None}
    NONDIFF = {k for k, d in table.items() if d.diff == "nondiff"}
    queries = {k for k, d in table.items() if d.diff == "query"}
    groups = read_spec(spec_path)
    backends = load_backends()
    standard = [f for _, names in groups for f in names]
    counts = Counter(gradient_status(f, rules, NONDIFF, queries) for f in standard)

    lines = [f"### Array API {VERSION} coverage", ""]
    lines.append(f"Generated by `python tools/coverage_table.py` from yota's op table and the "
                 f"{len(standard)} functions of the array API standard {VERSION}: "
                 f"**{counts['differentiable']} differentiable**, {counts['non-differentiable']} "
                 f"non-differentiable (recorded, zero gradient), {counts['query']} dtype/info queries "
                 f"(passed through, not traced), **{counts['missing']} missing**.")
    lines.append("")
    shown = []
    for name, (xp, _, label) in backends.items():
        shown.append(f"{name} (`{label}`)" if xp is not None else f"{name} ({label})")
    lines.append("Backends checked (the namespace the engine uses for each library): " + ", ".join(shown) + ".")
    lines.append("")

    def table(names):
        out = ["| function | gradient | backends |", "| --- | --- | --- |"]
        for f in names:
            status = gradient_status(f, rules, NONDIFF, queries)
            if f == "__getitem__":  # an operator of every array: no namespace lookup applies
                out.append(f"| `x[key]` (`__getitem__`) | {status} | all (array operator) |")
                continue
            notes = backend_note(backends, f)
            out.append(f"| `{f}` | {status} | {'; '.join(notes) if notes else 'all'} |")
        return out

    for group, names in groups:
        lines.append(f"#### {GROUP_TITLES.get(group, group)}")
        lines.append("")
        lines += table(names)
        lines.append("")

    std = set(standard)
    beyond = sorted((set(rules) | set(EXTRA)) - std - {"__getitem__"})
    lines.append("#### Beyond the standard")
    lines.append("")
    lines.append("Indexing (`x[key]`, rule `__getitem__`; `x[key] = v`, recorded functionally as "
                 "`ext.setitem`) and functions the standard lacks. `ext.*` are backend extensions: "
                 "each backend module implements them.")
    lines.append("")
    lines += table(["__getitem__"] + beyond if "__getitem__" in rules else beyond)
    lines.append("")
    return "\n".join(lines)


def rewrite_readme(path: str, body: str) -> None:
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines(keepends=True)
    starts = [i for i, l in enumerate(lines) if l.strip() == START]
    ends = [i for i, l in enumerate(lines) if l.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise SystemExit(f"{path}: expected one line '{START}' followed by one line '{END}'; "
                         f"found {len(starts)} start and {len(ends)} end markers. Nothing was changed.")
    new = lines[:starts[0] + 1] + [body if body.endswith("\n") else body + "\n"] + lines[ends[0]:]
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(new)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--readme", help="rewrite the coverage section of this Markdown file in place")
    ap.add_argument("--spec", default=SPEC, help="function list of the standard (default: %(default)s)")
    args = ap.parse_args(argv)
    body = build(args.spec)
    if args.readme:
        rewrite_readme(args.readme, body)
        print(f"updated the coverage section of {args.readme}")
    else:
        sys.stdout.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
