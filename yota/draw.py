"""Pictures of tapes: Graphviz DOT source, and files rendered from it.

    yota.draw(yota.gradtape(loss, m, X), "tape.svg")    # .svg .png .pdf (Graphviz), .dot (the source)
    print(tape.to_dot())                                 # the source alone: no Graphviz needed

One node per input, op, guard and output, labelled like the printout
(``%4 = matmul  float64[3,5]``, with the arguments and the note on a second
line); an edge from a variable to each of its uses. Ops are grouped in one
cluster per section, nested at ``:`` (``backward: recompute f`` sits inside
``backward``); forward (primal) ops are filled, backward (cotangent) ops
outlined, recomputed ones dashed.

This module reads the tape only through its public attributes and methods
(``op.uses()``, ``op.render()``, ``tape.use_counts()``...) and imports nothing
from yota: `Tape.to_dot` calls it, so an import of `yota.tape` here would be a
cycle. Rendering imports pydot (or the ``graphviz`` package) when it is asked
for, and needs Graphviz's ``dot`` program.
"""
from __future__ import annotations

import os
import shutil

__all__ = ["to_dot", "draw", "MissingGraphviz", "SECTION_STYLES"]

_INSTALL = 'pip install ".[draw]"'

#: Node and cluster looks per section family (a section's part before the first ``:``).
SECTION_STYLES = {
    "forward": {"node": {"style": "filled", "fillcolor": "#cfe0fa", "color": "#2f5d9e"},
                "edge": "#2f5d9e", "cluster": "#f3f7fd"},
    "backward": {"node": {"style": "solid", "color": "#b03a2e"},
                 "edge": "#b03a2e", "cluster": "#fdf4f2"},
}
_OTHER_SECTION = {"node": {"style": "filled", "fillcolor": "#e8e8e8", "color": "#555555"},
                  "edge": "#555555", "cluster": "#f6f6f6"}
#: a recomputation (``checkpoint``) inside a section: its family's look, dashed
_RECOMPUTE = "dashed"

_INPUT = {"shape": "box", "style": "rounded,filled", "fillcolor": "#e6e6e6", "color": "#444444"}
_GUARD = {"shape": "hexagon", "style": "filled", "fillcolor": "#ffe9a8", "color": "#a07800"}
_OUTPUT = {"shape": "box", "style": "rounded,bold", "peripheries": "2", "color": "#333333"}
_GRAPH = {"rankdir": "TB", "fontname": "Helvetica", "fontsize": "11", "nodesep": "0.15", "ranksep": "0.25",
          "labelloc": "t", "newrank": "true"}
_NODE = {"shape": "box", "fontname": "Courier", "fontsize": "9", "height": "0.2", "margin": "0.08,0.03"}
_EDGE = {"arrowsize": "0.5", "penwidth": "0.8", "color": "#666666", "fontsize": "7", "fontname": "Courier"}
_ONE_ROW = 8  # inputs (outputs) drawn in one row at the top (bottom) when there are at most this many
_MAX_ARGS = 64  # characters of the argument line; the tooltip has them all


class MissingGraphviz(ImportError):
    """Rendering needs pydot (or the graphviz package) and Graphviz's ``dot`` program."""


# --------------------------------------------------------------------------- DOT source

def _q(text: str) -> str:
    """A DOT string: quoted, with backslashes, quotes and newlines escaped."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(d: dict) -> str:
    return "[" + ", ".join(f"{k}={_q(v)}" for k, v in d.items()) + "]"


def _family(section: str) -> str:
    return section.split(":", 1)[0].strip()


def _section_style(section: str) -> dict:
    style = SECTION_STYLES.get(_family(section), _OTHER_SECTION)
    node = dict(style["node"])
    if "recompute" in section:
        node["style"] = ",".join([s for s in node["style"].split(",") if s != "solid"] + [_RECOMPUTE])
    return node


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ARGS else text[:_MAX_ARGS - 1] + "…"


def _op_label(tape, op) -> tuple[str, str]:
    """(label, tooltip) of a call: ``%4 = matmul  float64[3,5]`` over ``(%1, %3)  # note``."""
    full = op.render()
    lhs = ", ".join(f"%{o}" for o in op.outs) if op.outs else "_"
    head = f"{lhs} = {op.fn_name()}"
    args = full.removeprefix(head)
    spec = ", ".join(str(tape.types[o]) for o in op.outs if o in tape.types)
    first = f"{head}  {spec}" if spec else head
    second = _clip(args) + (f"  # {op.comment()}" if op.note else "")
    return f"{first}\n{second}", full + (f"  # {op.comment()}" if op.note else "")


def _vars_of(tape, value) -> list[int]:
    """The variable ids an output refers to (none for a constant or a literal)."""
    return list(tape.replace(ops=(), outputs=(value,)).use_counts())


def _output_names(tape) -> list[str]:
    n = len(tape.outputs)
    values = ["value"] if tape.n_value == 1 else [f"value {i}" for i in range(tape.n_value)]
    traced = tape.meta.get("traced")
    rest = n - tape.n_value
    if getattr(traced, "kind", None) in ("grad", "vjp") and rest <= len(tape.input_names):
        # one gradient per input, in order (a vjp's cotangent inputs come last and get none)
        return values + [f"grad {name}" for name in tape.input_names[:rest]]
    return values + [f"output {i}" for i in range(tape.n_value, n)]


def _row(rank: str, statements: list[str], names: list[str]) -> list[str]:
    """A few inputs (outputs) in one row at the top (bottom), in order; many
    would make the picture as wide as they are: each then sits by its first
    use (its producer)."""
    if len(statements) > _ONE_ROW:
        return [s[2:] for s in statements]
    order = [f"    {a} -> {b} [style=\"invis\"];" for a, b in zip(names, names[1:])]
    return [f"  {{ rank={rank};"] + statements + order + ["  }"] if statements else []


class _Cluster:
    def __init__(self, name: str, section: str):
        self.name, self.section = name, section
        self.nodes: list[str] = []
        self.children: dict[str, _Cluster] = {}


def to_dot(tape) -> str:
    """Graphviz DOT source for ``tape`` (a `yota.Tape`)."""
    lines = [f"digraph {_q(tape.title)} {{"]
    lines.append("  graph " + _attrs({**_GRAPH, "label": f"Tape: {tape.title}"}) + ";")
    lines.append("  node " + _attrs(_NODE) + ";")
    lines.append("  edge " + _attrs(_EDGE) + ";")
    where: dict[int, tuple[str, str]] = {}  # var id -> (node, edge colour)
    several: set[str] = set()  # nodes that define more than one variable: their edges name the variable

    inputs = []
    for v, name in zip(tape.inputs, tape.input_names):
        t = tape.types.get(v)
        label = f"%{v} = input {name}" + (f"  {t}" if t is not None else "")
        node = f"in{v}"
        inputs.append(f"    {node} {_attrs({**_INPUT, 'label': label})};")
        where[v] = (node, _INPUT["color"])
    lines += _row("source", inputs, [f"in{v}" for v in tape.inputs])

    root = _Cluster("", "")
    edges: list[str] = []
    counter = [0]

    def cluster_of(section: str) -> _Cluster:
        c = root
        parts = [p.strip() for p in section.split(":")]
        for i, part in enumerate(parts):
            if part not in c.children:
                counter[0] += 1
                c.children[part] = _Cluster(f"cluster_{counter[0]}", ": ".join(parts[:i + 1]))
            c = c.children[part]
        return c

    def use(v: int, node: str) -> None:
        src = where.get(v)
        if src is None:  # a variable no input or op defines: show it by name
            src = where[v] = (f"var{v}", "#999999")
            lines.append(f"  var{v} {_attrs({'label': f'%{v}', 'shape': 'plaintext'})};")
        attrs = {"color": src[1]}
        if src[0] in several:
            attrs["label"] = f"%{v}"
        edges.append(f"  {src[0]} -> {node} {_attrs(attrs)};")

    # Ops keep the printout's order from top to bottom where the data do not
    # decide it: an op fed by nothing of its own run of one section (a block)
    # hangs from the op before it by an invisible edge. So the backward pass
    # sits below the forward pass, and a transpose of a weight that the
    # backward pass needs sits beside its use, not in one row of them all.
    block: set[str] = set()
    section = None
    for i, op in enumerate(tape.ops):
        node = f"op{i}"
        previous = f"op{i - 1}" if i else None
        if op.section != section:
            section, block = op.section, set()
        if op.kind == "guard":
            label = op.render() + (f"\n{os.path.basename(op.loc)}" if op.loc else "")
            attrs = {**_GUARD, "label": label, "tooltip": op.render() + (f"\n{op.loc}" if op.loc else "")}
        else:
            label, tip = _op_label(tape, op)
            attrs = {**_section_style(op.section), "label": label, "tooltip": tip}
        cluster_of(op.section).nodes.append(f"{node} {_attrs(attrs)};")
        uses = op.uses()
        for v in uses:
            use(v, node)
        if previous is not None and not any(where.get(v, ("",))[0] in block for v in uses):
            edges.append(f"  {previous} -> {node} [style=\"invis\"];")
        block.add(node)
        colour = SECTION_STYLES.get(_family(op.section), _OTHER_SECTION)["edge"]
        for o in op.outs:
            where[o] = (node, colour)
        if len(op.outs) > 1:
            several.add(node)

    def emit(c: _Cluster, depth: int) -> None:
        pad = "  " * depth
        family = SECTION_STYLES.get(_family(c.section), _OTHER_SECTION)
        style = "filled,dashed" if "recompute" in c.section else "filled"
        lines.append(f"{pad}subgraph {c.name} {{")
        label = c.section.rsplit(":", 1)[-1].strip()
        look = {"label": label, "style": style, "fillcolor": family["cluster"], "color": family["edge"],
                "fontcolor": family["edge"]}
        lines.append(f"{pad}  graph {_attrs(look)};")
        lines.extend(f"{pad}  {n}" for n in c.nodes)
        for child in c.children.values():
            emit(child, depth + 1)
        lines.append(f"{pad}}}")

    for c in root.children.values():
        emit(c, 1)

    outs = []
    for k, (value, name) in enumerate(zip(tape.outputs, _output_names(tape))):
        node = f"out{k}"
        refs = _vars_of(tape, value)
        t = tape.types.get(refs[0]) if len(refs) == 1 else None
        label = f"{name} = {value!r}" + (f"  {t}" if t is not None else "")
        outs.append(f"    {node} {_attrs({**_OUTPUT, 'label': label})};")
        for v in refs:
            use(v, node)
    lines += _row("sink", outs, [f"out{k}" for k in range(len(outs))])
    lines += edges
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- files

_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}


def draw(tape, path) -> None:
    """Write a picture of ``tape`` to ``path``: ``.svg``, ``.png`` or ``.pdf``
    (rendered by Graphviz through pydot), or ``.dot`` / ``.gv`` (the source)."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".dot", ".gv"):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(to_dot(tape))
        return
    fmt = _FORMATS.get(ext)
    if fmt is None:
        raise ValueError(f"yota.draw: cannot tell the format of {path!r} from its extension; use one of "
                         f"{', '.join(sorted(_FORMATS) + ['.dot', '.gv'])}")
    data = _render(to_dot(tape), fmt)
    with open(path, "wb") as fh:
        fh.write(data)


def _render(source: str, fmt: str) -> bytes:
    try:
        import pydot
    except ImportError:
        pydot = None
    python_side = pydot is not None
    if not python_side:
        try:
            import graphviz
            python_side = True
        except ImportError:
            pass
    missing = []
    if not python_side:
        missing.append(f"pydot ({_INSTALL}, or pip install pydot)")
    if shutil.which("dot") is None:
        missing.append("Graphviz's dot program on PATH (apt-get install graphviz, brew install graphviz or "
                       f"conda install graphviz; {_INSTALL} installs only the Python side)")
    if missing:
        raise MissingGraphviz(f"yota.draw needs {' and '.join(missing)} to render a picture. Without them, "
                              f"write the source: yota.draw(tape, 'tape.dot') or tape.to_dot().")
    if pydot is not None:
        (graph,) = pydot.graph_from_dot_data(source)
        return graph.create(prog="dot", format=fmt)
    return graphviz.Source(source).pipe(format=fmt)
