"""Batching rules: written by family (see the package docstring)."""
from __future__ import annotations
