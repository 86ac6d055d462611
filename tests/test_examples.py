"""Every example explains itself (--help) and the fast ones run end to end on
tiny sizes; one that needs an extra says which ``pip install ".[extra]"`` and
exits with status 2.

The scripts run in this process (runpy, as ``__main__``) to share the imports;
one runs as a real subprocess to check the script's own start."""
from __future__ import annotations

import ast
import glob
import importlib.util
import os
import runpy
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SCRIPTS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES, "*.py"))
                 if not os.path.basename(p).startswith("_"))

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def needs(module):
    return pytest.mark.skipif(not _have(module), reason=f"{module} is not installed")


def run(monkeypatch, script, *args, block=()):
    """Run ``examples/script`` as ``__main__`` with ``args``; ``block`` names modules whose import
    must fail. Returns the exit status (0 when the script ends without sys.exit)."""
    monkeypatch.syspath_prepend(EXAMPLES)
    monkeypatch.setattr(sys, "argv", [os.path.join(EXAMPLES, script), *map(str, args)])
    for name in block:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.setitem(sys.modules, loaded, None)
        monkeypatch.setitem(sys.modules, name, None)  # `import name` raises ImportError
    try:
        runpy.run_path(os.path.join(EXAMPLES, script), run_name="__main__")
    except SystemExit as e:
        return 0 if e.code is None else e.code
    return 0


def _description(script) -> str:
    doc = ast.get_docstring(ast.parse(open(os.path.join(EXAMPLES, script)).read()))
    return " ".join(doc.split("\n\n")[0].split())


def test_the_examples_are_all_here():
    assert {"linear_regression.py", "mlp_digits.py", "dask_logistic_regression.py", "gpu_mlp.py", "draw_tape.py",
            "newton_cg.py", "per_example_clipping.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_describes_the_example(script, monkeypatch, capsys):
    assert run(monkeypatch, script, "--help") == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ")
    assert _description(script) in " ".join(out.split())
    assert out.count("--") >= 3  # its options are listed


def test_linear_regression_as_a_script(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "linear_regression.py"), "--steps", "2"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "step   1  loss" in done.stdout and "traces: 1" in done.stdout


def test_gpu_mlp_on_the_cpu(monkeypatch, capsys):
    assert run(monkeypatch, "gpu_mlp.py", "--cpu", "--steps", 2, "--batch", 8, "--hidden", 8) == 0
    out = capsys.readouterr().out
    assert "device: CPU (NumPy)" in out and "held-out accuracy" in out


@needs("sklearn")
def test_mlp_digits(monkeypatch, capsys):
    assert run(monkeypatch, "mlp_digits.py", "--epochs", 1, "--repeat", 0) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "gradients agree with the handwritten ones: True" in out


def test_mlp_digits_without_scikit_learn(monkeypatch, capsys):
    assert run(monkeypatch, "mlp_digits.py", "--epochs", 1, block=["sklearn"]) == 2
    assert 'pip install ".[bench]"' in capsys.readouterr().err


@needs("dask")
def test_dask_logistic_regression_prints_the_graph_sizes(monkeypatch, capsys):
    assert run(monkeypatch, "dask_logistic_regression.py", "--rows", 2000, "--chunk-rows", 500, "--features", 3,
               "--steps", 2) == 0
    out = capsys.readouterr().out
    sizes = [line for line in out.splitlines() if line.startswith("graph of the value and gradients:")]
    assert len(sizes) == 2 and "first call" in sizes[0] and "cached" in sizes[1]
    assert "yota traces so far: 1)" in sizes[1]  # the second step ran the cached function
    assert "training accuracy" in out


def test_dask_logistic_regression_without_dask(monkeypatch, capsys):
    assert run(monkeypatch, "dask_logistic_regression.py", "--steps", 1, block=["dask"]) == 2
    assert 'pip install ".[dask]"' in capsys.readouterr().err


def test_draw_tape_writes_the_source_without_graphviz(monkeypatch, capsys, tmp_path):
    out = tmp_path / "tape.dot"
    assert run(monkeypatch, "draw_tape.py", "--out", out, "--print", block=["pydot", "graphviz"]) == 0
    assert out.read_text().startswith('digraph "loss(m, X)"')
    assert "%4 = matmul(%1, %3)" in capsys.readouterr().out  # --print: the tape as text


def test_draw_tape_without_pydot(monkeypatch, capsys, tmp_path):
    assert run(monkeypatch, "draw_tape.py", "--out", tmp_path / "tape.svg", block=["pydot", "graphviz"]) == 2
    assert 'pip install ".[draw]"' in capsys.readouterr().err
    assert not (tmp_path / "tape.svg").exists()


@needs("pydot")
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_draw_tape_renders(monkeypatch, tmp_path):
    assert run(monkeypatch, "draw_tape.py", "--out", tmp_path / "tape.svg") == 0
    svg = (tmp_path / "tape.svg").read_text()
    assert "<svg" in svg and "grad m.W" in svg


@needs("scipy")
def test_newton_cg(monkeypatch, capsys):
    assert run(monkeypatch, "newton_cg.py", "--rows", 500, "--features", 3) == 0
    out = capsys.readouterr().out
    assert "finite differences at a random point" in out and "iteration  1" in out
    assert "0 new yota traces" in out and "final loss" in out


@needs("scipy")
@needs("dask")
def test_newton_cg_on_dask(monkeypatch, capsys):
    assert run(monkeypatch, "newton_cg.py", "--rows", 800, "--features", 3, "--dask", "--chunk-rows", 200) == 0
    out = capsys.readouterr().out
    assert "Dask, 4 chunks of 200 rows" in out and "final loss" in out


def test_newton_cg_without_scipy(monkeypatch, capsys):
    assert run(monkeypatch, "newton_cg.py", "--rows", 100, block=["scipy"]) == 2
    assert 'pip install ".[test]"' in capsys.readouterr().err


@needs("scipy")
def test_newton_cg_on_dask_without_dask(monkeypatch, capsys):
    assert run(monkeypatch, "newton_cg.py", "--rows", 100, "--dask", block=["dask"]) == 2
    assert 'pip install ".[dask]"' in capsys.readouterr().err


def test_per_example_clipping(monkeypatch, capsys):
    assert run(monkeypatch, "per_example_clipping.py", "--steps", 3, "--batch", 16, "--train", 64, "--hidden", 4,
               "--features", 3, block=["tqdm"]) == 0  # without tqdm: plain lines
    out = capsys.readouterr().out
    assert "vmap vs a loop of yota.grad over 16 examples: max difference" in out
    assert "DP-SGD: 3/3" in out and "held-out accuracy" in out
