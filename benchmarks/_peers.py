"""Importing yota and the peer libraries inside a benchmark worker, and what
each reports for the machine line. Shared by cpu.py, transforms.py, vmap.py,
overhead.py; imported only in workers (each import happens in the process
that measures that library, never in the parent)."""
from __future__ import annotations

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _git_commit(path):
    try:
        out = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        commit = out.stdout.strip()
        if not commit:
            return None
        dirty = subprocess.run(["git", "-C", path, "status", "--porcelain", "--untracked-files=no", "--",
                                "yota", "backends", "frontends"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def import_yota():
    """yota as the worker's PYTHONPATH gives it (the harness puts this checkout
    first unless the script says otherwise), and its line for the machine line."""
    import yota
    if not hasattr(yota, "grad"):
        raise ImportError(f"yota at {os.path.dirname(yota.__file__)} has no grad()")
    return yota


def yota_info(yota, label="yota"):
    tree = os.path.dirname(os.path.dirname(os.path.abspath(yota.__file__)))
    commit = _git_commit(tree)
    where = f"{tree}" + (f" @ {commit}" if commit else "")
    return {label: f"{getattr(yota, '__version__', '?')} ({where})"}


def worker_env_for_checkout(root=ROOT):
    """Environment for a worker that must import yota from ``root``."""
    old = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": root + (os.pathsep + old if old else "")}


def import_torch():
    import torch
    return torch, {"torch": f"{torch.__version__} ({torch.get_num_threads()} threads)"}


def import_jax(x64):
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    jax.config.update("jax_enable_x64", bool(x64))
    import jaxlib
    return jax, {"jax": f"{jax.__version__} (jaxlib {getattr(jaxlib, '__version__', '?')}, "
                        f"{jax.default_backend()})"}


def import_autograd():
    import autograd
    from importlib.metadata import version
    try:
        v = version("autograd")
    except Exception:
        v = "?"
    return autograd, {"autograd": v}


def import_numexpr():
    import numexpr
    return numexpr, {"numexpr": f"{numexpr.__version__} ({numexpr.get_num_threads()} threads)"}


def torch_to_numpy(t):
    return t.detach().cpu().numpy()


def is_f64(*arrays):
    import numpy as np
    return any(np.asarray(a).dtype == np.float64 for a in arrays)

