"""yota.draw: the DOT source of a tape (one node per op, labelled like the
printout, styled per section, an edge per use) and the files rendered from it."""
from __future__ import annotations

import importlib
import shutil
import sys
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota
from yota.draw import MissingGraphviz, to_dot
from yota.tape import GUARD, Const, Op, Tape, Var, VarType

# pydot's parser uses pyparsing names that newer pyparsing deprecates: not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated - use:DeprecationWarning")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


@dataclass
class Linear:
    W: np.ndarray
    b: np.ndarray


def quickstart_loss(m, X):
    xp = array_namespace(X)
    return xp.sum(m.W @ X)


def _inner(z):
    xp = array_namespace(z)
    return xp.sin(z) * z


_inner_ck = yota.checkpoint(_inner)


def branchy(x):
    xp = array_namespace(x)
    if xp.sum(x) > 0:
        x = x * 2.0
    y = _inner_ck(x)
    w, v = xp.linalg.eigh(xp.reshape(y[:4], (2, 2)) + xp.eye(2))
    return xp.sum(y * np.arange(9.0)) + xp.sum(w) + xp.sum(v)


def _quickstart_tape():
    rng = np.random.default_rng(0)
    return yota.gradtape(quickstart_loss, Linear(rng.random((3, 4)), rng.random(3)), rng.random((4, 5)))


def _branchy_tape():
    return yota.gradtape(branchy, np.linspace(0.1, 0.9, 9))


# --------------------------------------------------------------------------- reading DOT back

def _unquote(s):
    if s is None:
        return None
    if len(s) >= 2 and s[0] == s[-1] == '"':
        s = s[1:-1]
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"n": "\n"}.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _parse(tape):
    pd = pytest.importorskip("pydot")
    graphs = pd.graph_from_dot_data(to_dot(tape))
    assert graphs and len(graphs) == 1
    return graphs[0]


def _nodes(graph, path=()):
    """{name: (attributes, the clusters around it, outermost first)} over all subgraphs."""
    found = {}
    for n in graph.get_nodes():
        if n.get_name() not in ("graph", "node", "edge"):
            found[n.get_name()] = ({k: _unquote(v) for k, v in n.get_attributes().items()}, path)
    for sg in graph.get_subgraph_list():
        label = None
        for n in sg.get_nodes():
            if n.get_name() == "graph":
                label = _unquote(n.get("label"))
        inner = path + ((label,) if sg.get_name().startswith("cluster") else ())
        found.update(_nodes(sg, inner))
    return found


def _edges(graph):
    return [(e.get_source(), e.get_destination(), {k: _unquote(v) for k, v in e.get_attributes().items()})
            for e in graph.get_edges()]


def _expected_edges(tape):
    """(source node, destination node) for every use of a variable, as the picture must draw them."""
    node_of = {v: f"in{v}" for v in tape.inputs}
    expected = Counter()
    for i, op in enumerate(tape.ops):
        for v in op.uses():
            expected[(node_of[v], f"op{i}")] += 1
        for o in op.outs:
            node_of[o] = f"op{i}"
    for k, o in enumerate(tape.outputs):
        if type(o) is Var:
            expected[(node_of[o.id], f"out{k}")] += 1
    return expected


# --------------------------------------------------------------------------- the source

def test_one_node_per_input_op_and_output_labelled_like_the_printout():
    tape = _quickstart_tape()
    nodes = _nodes(_parse(tape))
    assert nodes["in1"][0]["label"] == "%1 = input m.W  float64[3,4]"
    assert nodes["in3"][0]["label"] == "%3 = input X  float64[4,5]"
    ops = {n: a for n, (a, _) in nodes.items() if n.startswith("op")}
    assert len(ops) == len(tape.ops)
    assert ops["op0"]["label"] == "%4 = matmul  float64[3,5]\n(%1, %3)"
    for i, op in enumerate(tape.ops):
        first, second = ops[f"op{i}"]["label"].split("\n")
        assert first == f"%{op.out} = {op.fn_name()}  {tape.types[op.out]}"
        if op.note:
            assert second.endswith(f"  # {op.comment()}")
    outs = {a["label"] for n, (a, _) in nodes.items() if n.startswith("out")}
    assert outs == {"value = %5  float64[]", "grad m.W = %10  float64[3,4]", "grad m.b = ZeroTangent()",
                    "grad X = %12  float64[4,5]"}


def test_sections_are_clusters_and_styles():
    tape = _branchy_tape()
    nodes = _nodes(_parse(tape))
    sections = {op.section for op in tape.ops}
    assert sections == {"forward", "backward", "backward: recompute _inner"}
    for i, op in enumerate(tape.ops):
        attrs, clusters = nodes[f"op{i}"]
        assert clusters == tuple(p.strip() for p in op.section.split(":")), (op, clusters)
        if op.kind == GUARD:
            assert attrs["shape"] == "hexagon"
            assert attrs["label"].startswith("guard bool(%")
            assert "test_draw.py:" in attrs["label"]  # where the user's branch is
        elif op.section == "forward":
            assert attrs["style"] == "filled"  # primal values: filled
        elif op.section == "backward":
            assert attrs["style"] == "solid"  # cotangents: outlined
        else:
            assert attrs["style"] == "dashed"  # recomputed inside the backward pass
    assert any(op.kind == GUARD for op in tape.ops)
    assert nodes["in1"][1] == () and all(nodes[n][1] == () for n in nodes if n.startswith("out"))


def test_an_edge_per_use():
    for tape in (_quickstart_tape(), _branchy_tape()):
        drawn = Counter((s, d) for s, d, a in _edges(_parse(tape)) if a.get("style") != "invis")
        assert drawn == _expected_edges(tape)


def test_edges_from_an_op_with_several_results_name_the_variable():
    tape = _branchy_tape()
    (i, eigh), = [(i, op) for i, op in enumerate(tape.ops) if op.fn_name() == "linalg.eigh"]
    labels = {a.get("label") for s, d, a in _edges(_parse(tape)) if s == f"op{i}"}
    assert labels == {f"%{o}" for o in eigh.outs}


def _hanging(tape):
    """(op before, op) for each op fed by nothing of its own run of one section."""
    expected, producer, block, section = set(), {}, set(), None
    for i, op in enumerate(tape.ops):
        if op.section != section:
            section, block = op.section, set()
        if i and not any(producer.get(v) in block for v in op.uses()):
            expected.add((f"op{i - 1}", f"op{i}"))
        block.add(i)
        producer.update({o: i for o in op.outs})
    return expected


def test_ops_keep_the_printout_order_where_the_data_do_not_decide_it():
    # such an op hangs from the op before it, invisibly: the backward pass sits below the
    # forward pass, the transposes of the inputs beside their uses
    for tape in (_quickstart_tape(), _branchy_tape()):
        invisible = {(s, d) for s, d, a in _edges(_parse(tape)) if a.get("style") == "invis"}
        assert invisible == _hanging(tape)
    tape = _quickstart_tape()
    transposes = [i for i, op in enumerate(tape.ops) if op.fn_name() == "matrix_transpose"]
    first_backward = min(i for i, op in enumerate(tape.ops) if op.section == "backward")
    assert transposes and all((f"op{i - 1}", f"op{i}") in _hanging(tape) for i in transposes + [first_backward])


def test_few_inputs_in_one_row_many_by_their_use():
    source = to_dot(_quickstart_tape())
    assert source.count("{ rank=source;") == 1 and source.count("{ rank=sink;") == 1
    assert "in1 -> in2" in source and "out0 -> out1" in source  # in the arguments' order
    source = to_dot(_mlp_tape())  # 16 inputs, 17 outputs: one row of them would be wider than the ops
    assert "rank=source" not in source and "rank=sink" not in source


def test_constants_and_literals_by_label_and_quotes_escaped():
    # a hand-built tape: a constant array, a string with quotes and a backslash, a constant output
    tape = Tape(inputs=(1,), input_names=('x"y',), ops=(
        Op("call", (2,), "multiply", (Var(1), Const(0, "$0:float64[2]"))),
        Op("call", (3,), "astype", (Var(2),), {"note": 'say "hi" \\ bye'}, section="backward"),
    ), outputs=(Var(3), Const(1, "ZeroTangent()")), n_value=1, consts=(np.ones(2), None),
        types={1: VarType((2,), "float64"), 2: VarType((2,), "float64"), 3: VarType((2,), "float32")},
        title='f"(x)', nvars=3)
    nodes = _nodes(_parse(tape))
    assert nodes["in1"][0]["label"] == '%1 = input x"y  float64[2]'
    assert nodes["op0"][0]["label"] == "%2 = multiply  float64[2]\n(%1, $0:float64[2])"
    assert nodes["op1"][0]["label"] == "%3 = astype  float32[2]\n(%2, note='say \"hi\" \\\\ bye')"
    assert nodes["out1"][0]["label"] == "output 1 = ZeroTangent()"


def test_output_names_of_a_forward_tape_and_of_a_vjp():
    def f(x):
        xp = array_namespace(x)
        return xp.sin(x), xp.sum(x)

    _, tape = yota.trace(f, np.ones(3))
    labels = {a["label"].split(" = ")[0] for n, (a, _) in _nodes(_parse(tape)).items() if n.startswith("out")}
    assert labels == {"value 0", "value 1"}
    tape = yota.gradtape(lambda x: array_namespace(x).sin(x), np.ones(3), seed=np.ones(3))
    assert tape.input_names[-1] == "seed"
    labels = sorted(a["label"] for n, (a, _) in _nodes(_parse(tape)).items() if n.startswith("out"))
    value, grad = tape.outputs
    assert labels == [f"grad x = %{grad.id}  float64[3]", f"value = %{value.id}  float64[3]"]


def _mlp_loss(params, X, Y):
    xp = array_namespace(X)
    H = X
    for W, b in params[:-1]:
        H = xp.tanh(H @ W + b)
    W, b = params[-1]
    Z = H @ W + b
    Z = Z - xp.max(Z, axis=1, keepdims=True)
    return -xp.sum(Y * (Z - xp.log(xp.sum(xp.exp(Z), axis=1, keepdims=True)))) / X.shape[0]


def _mlp_tape(layers=7):
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((8, 8)), np.zeros(8)) for _ in range(layers)]
    X, Y = rng.standard_normal((4, 8)), np.eye(8)[:4]
    return yota.gradtape(_mlp_loss, params, X, Y)


def test_a_hundred_op_tape():
    tape = _mlp_tape()
    assert len(tape.ops) >= 100
    graph = _parse(tape)
    assert sum(n.startswith("op") for n in _nodes(graph)) == len(tape.ops)
    assert Counter((s, d) for s, d, a in _edges(graph) if a.get("style") != "invis") == _expected_edges(tape)


def test_the_tape_method_and_the_export():
    tape = _quickstart_tape()
    assert tape.to_dot() == to_dot(tape)
    assert "draw" in yota.__all__ and yota.draw.__module__ == "yota.draw"


# --------------------------------------------------------------------------- files

def test_draw_dot_writes_the_source(tmp_path):
    tape = _quickstart_tape()
    yota.draw(tape, tmp_path / "x.dot")
    assert (tmp_path / "x.dot").read_text() == to_dot(tape)
    yota.draw(tape, str(tmp_path / "x.gv"))
    assert (tmp_path / "x.gv").read_text() == to_dot(tape)


def test_draw_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match=r"\.svg"):
        yota.draw(_quickstart_tape(), tmp_path / "x.jpeg")


@needs_dot
def test_draw_svg_png_pdf_render(tmp_path):
    pytest.importorskip("pydot")
    tape = _branchy_tape()
    yota.draw(tape, tmp_path / "x.svg")
    svg = (tmp_path / "x.svg").read_text()
    assert "<svg" in svg and "linalg.eigh" in svg and "recompute _inner" in svg
    yota.draw(tape, tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    yota.draw(tape, tmp_path / "x.PDF")
    assert (tmp_path / "x.PDF").read_bytes()[:5] == b"%PDF-"


def test_missing_library_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)  # import pydot raises ImportError
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(MissingGraphviz, match=r'pip install "\.\[draw\]"'):
        yota.draw(_quickstart_tape(), tmp_path / "x.svg")
    assert not (tmp_path / "x.svg").exists()
    yota.draw(_quickstart_tape(), tmp_path / "x.dot")  # the source needs neither


def test_missing_dot_program_says_what_to_install(tmp_path, monkeypatch):
    draw_module = importlib.import_module("yota.draw")  # the module: yota.draw, the attribute, is the function
    monkeypatch.setattr(draw_module.shutil, "which", lambda name: None)
    with pytest.raises(MissingGraphviz, match=r"dot program") as info:
        yota.draw(_quickstart_tape(), tmp_path / "x.png")
    assert "apt-get install graphviz" in str(info.value)
    assert 'pip install ".[draw]"' in str(info.value)
    assert isinstance(info.value, ImportError)
