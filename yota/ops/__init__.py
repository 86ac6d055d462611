"""The op table: everything yota knows about each operation, in one place.

The tracer asks it how a call is written (operators), which defaults to drop,
when a call is the identity, and whether a result's size depends on the data;
the rule registry and the batching rules hang off its entries; the passes ask
which ops are elementwise or only move data; the backends ask which NumPy ufunc
an op is (buffer reuse) and whether it fuses; the NumPy front end maps NumPy's
names onto it. Adding a function of the standard is one entry in `table.py`,
one rule in `yota/rules/`, one batching rule in `yota/batching/`, one test row.
"""
from .table import (OPS, OpDef, Rule, batching, define_primitive, get, hashable, lookup, nondiff, on_change,
                    registry_version, rrule, standard_names)

__all__ = ["OPS", "OpDef", "Rule", "get", "hashable", "lookup", "rrule", "nondiff", "batching", "define_primitive",
           "on_change", "registry_version", "standard_names"]
