"""The layering the README describes: no import cycles, no library names in the engine."""
from __future__ import annotations

import ast
import os
import tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = {"yota": "yota", "yota.backends": "backends", "yota.frontends": "frontends"}
LIBRARIES = {"numpy", "cupy", "cupyx", "dask", "distributed", "torch", "jax", "jaxlib", "array_api_strict",
             "sparse", "ndonnx"}


def _modules():
    out = {}
    for pkg, folder in PACKAGES.items():
        base = os.path.join(ROOT, folder)
        for dirpath, _, files in os.walk(base):
            for f in files:
                if not f.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), base)[:-3].replace(os.sep, ".")
                if pkg == "yota" and rel.split(".")[0] in ("backends", "frontends"):
                    continue
                name = pkg if rel == "__init__" else f"{pkg}.{rel.removesuffix('.__init__')}"
                out[name] = os.path.join(dirpath, f)
    return out


def _imports(name, path, modules):
    tree = ast.parse(open(path).read())
    is_pkg = path.endswith("__init__.py")
    here = name if is_pkg else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):  # function-level imports count: they hide cycles, not break them
        if isinstance(node, ast.Import):
            for a in node.names:
                found.add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            for a in node.names:
                found.add(f"{mod}.{a.name}")
    return {m for m in found if m in modules and m != name}


def test_no_import_cycles():
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    # a package's __init__ importing its own submodules is how packages are built: not a cycle
    for m in graph:
        graph[m] = {d for d in graph[m] if not d.startswith(m + ".")}
    state: dict = {}
    stack: list = []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_engine_names_no_array_library():
    offenders = []
    for name, path in _modules().items():
        if not name.startswith("yota") or name.startswith(("yota.backends", "yota.frontends")):
            continue
        if name == "yota.testing":  # finite differences run on the host, with NumPy (a hard dependency)
            continue
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                mods = [node.module or ""]
            offenders += [f"{name}: {m}" for m in mods if m.split(".")[0] in LIBRARIES]
        with open(path) as fh:  # names in code (comments and docstrings may cite a library's convention)
            names = {t.string for t in tokenize.generate_tokens(fh.readline) if t.type == tokenize.NAME}
        offenders += [f"{name}: names {lib}" for lib in sorted(LIBRARIES | {"__cuda_array_interface__"})
                      if lib in names]
    assert not offenders, offenders


def test_every_package_is_installed():
    """pyproject's explicit package list names every package of the tree (a
    missing one is absent from the wheel: `pip install .` would break)."""
    import re
    text = open(os.path.join(ROOT, "pyproject.toml")).read()
    block = re.search(r"^packages\s*=\s*\[(.*?)\]", text, flags=re.S | re.M).group(1)
    listed = set(re.findall(r'"(yota(?:\.[a-z_]+)*)"', block))
    found = set()
    for pkg, folder in PACKAGES.items():
        base = os.path.join(ROOT, folder)
        for dirpath, _, files in os.walk(base):
            if "__init__.py" in files and "__pycache__" not in dirpath:
                rel = os.path.relpath(dirpath, base)
                if pkg == "yota" and rel.split(os.sep)[0] in ("backends", "frontends"):
                    continue
                found.add(pkg if rel == "." else pkg + "." + rel.replace(os.sep, "."))
    assert found <= listed, sorted(found - listed)
