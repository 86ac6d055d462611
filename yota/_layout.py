"""``backends/`` sits beside ``yota/`` in the source tree and is installed as
``yota.backends``. Running from a checkout (tests, examples, a second work
tree) takes the ``backends/`` beside this very ``yota/``, so the two always
come from the same tree; an installed copy is used otherwise."""
from __future__ import annotations

import importlib.util
import os
import sys


def ensure_backends() -> None:
    if "yota.backends" in sys.modules:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    local = os.path.join(root, "backends", "__init__.py")
    if not (os.path.exists(local) and os.path.exists(os.path.join(root, "pyproject.toml"))):
        return  # installed: the package's own yota.backends
    spec = importlib.util.spec_from_file_location("yota.backends", local,
                                                  submodule_search_locations=[os.path.dirname(local)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["yota.backends"] = module
    spec.loader.exec_module(module)
    setattr(sys.modules["yota"], "backends", module)
