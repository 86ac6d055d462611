"""What the examples share: yota from this checkout when it is not installed,
a clear message for a missing extra, and a progress bar.

Each example does ``import _support`` (its own folder is on ``sys.path`` when it
runs as a script) before ``import yota``.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

try:
    import yota  # noqa: F401
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: exit status of an example whose optional dependency is missing
MISSING = 2


def missing(what: str, extra: str, error: BaseException | None = None) -> NoReturn:
    """Say which ``pip install ".[extra]"`` brings ``what``, and exit with status 2."""
    detail = f" ({type(error).__name__}: {error})" if error is not None else ""
    print(f"{os.path.basename(sys.argv[0])}: this needs {what}{detail}.\n"
          f'Install it with:  pip install ".[{extra}]"', file=sys.stderr)
    sys.exit(MISSING)


def require(module: str, extra: str, what: str | None = None):
    """``import module``, or `missing` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        missing(what or module, extra, e)


def progress(iterable, total: int, desc: str):
    """tqdm (the ``bench`` extra) if installed, else plain text lines."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _TextBar(iterable, total, desc)
    return tqdm(iterable, total=total, desc=desc)


class _TextBar:
    """A progress bar for terminals without tqdm: one line every tenth of the run."""

    def __init__(self, iterable, total, desc):
        self.iterable, self.total, self.desc, self.post = iterable, total, desc, ""

    def set_postfix_str(self, s):
        self.post = s

    def __iter__(self):
        every = max(1, self.total // 10)
        for i, x in enumerate(self.iterable, 1):
            yield x
            if i % every == 0 or i == self.total:
                print(f"{self.desc}: {i}/{self.total} {self.post}", flush=True)
