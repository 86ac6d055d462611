"""``backends/`` sits beside ``yota/`` in the source tree and is installed as
``yota.backends``. Running from a checkout (tests, examples) with a
non-editable install, or none, finds it here."""
from __future__ import annotations

import importlib.util
import os
import sys


def ensure_backends() -> None:
    if "yota.backends" in sys.modules:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    local = os.path.join(os.path.dirname(here), "backends", "__init__.py")
    try:
        found = importlib.util.find_spec("yota.backends")
    except ImportError:
        found = None
    if found is not None:
        return
    if os.path.exists(local):
        spec = importlib.util.spec_from_file_location("yota.backends", local,
                                                      submodule_search_locations=[os.path.dirname(local)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["yota.backends"] = module
        spec.loader.exec_module(module)
        setattr(sys.modules["yota"], "backends", module)
