"""``backends/`` and ``frontends/`` sit beside ``yota/`` in the source tree and
are installed as ``yota.backends`` and ``yota.frontends``. Running from a
checkout (tests, examples, a second work tree) takes the ones beside this very
``yota/``, so all three always come from the same tree; an installed copy uses
its own."""
from __future__ import annotations

import importlib.util
import os
import sys

SIBLINGS = ("backends", "frontends")


def ensure_backends() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    checkout = os.path.exists(os.path.join(root, "pyproject.toml"))
    for name in SIBLINGS:
        full = f"yota.{name}"
        if full in sys.modules:
            continue
        local = os.path.join(root, name, "__init__.py")
        if not (checkout and os.path.exists(local)):
            continue  # installed: the package's own yota.<name>
        spec = importlib.util.spec_from_file_location(full, local, submodule_search_locations=[os.path.dirname(local)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        setattr(sys.modules["yota"], name, module)
        spec.loader.exec_module(module)
