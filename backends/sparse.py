"""pydata ``sparse``: the library's own namespace, with fill values made zero
where a function refuses others; host copies through ``todense``.

A sparse array stores some entries and one ``fill_value`` for all the others;
gradients often are dense arrays whose fill value is not zero (the cotangent
of a sum is ``broadcast_to(1.0, shape)``: nothing stored, fill value 1).
``matmul``, ``tensordot``, ``triu``/``tril`` refuse non-zero fill values and
``stack``/``concat`` refuse differing ones, although the values are right.
The namespace here calls sparse's function and, when it refuses for that
reason, calls it again with every non-zero fill value turned into stored
entries (the same values, another layout; for such an array every entry is
stored anyway). Results may come back with any fill value, as sparse's own do.

Indexing is sparse's own: ints, slices (any step), ``...`` and ``None``; sparse
refuses integer arrays and boolean masks that are sparse arrays, in the user's
forward already. Sparse arrays are immutable: writes take the array-API path
of ``_generic``. 0-d reads (``x[0, 0]``) come back as NumPy scalars; results
handed to the user are 0-d sparse arrays again (``as_array``).
"""
from __future__ import annotations

import functools
import types

import numpy as np
import sparse

is_lazy = False
#: sparse's operators refuse fill values the namespace's functions retry with zeros
operators_via_namespace = True


def _zero_fill(a):
    if isinstance(a, sparse.SparseArray) and not (a.fill_value == 0):
        return sparse.asarray(a.todense(), format=a.format)
    if isinstance(a, (tuple, list)):
        return type(a)(_zero_fill(b) for b in a)
    return a


def _refuses_fill_value(e: Exception) -> bool:
    text = str(e)
    return "fill value" in text or "fill-value" in text


def _with_zero_fills(f):
    @functools.wraps(f)
    def call(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except ValueError as e:
            if not _refuses_fill_value(e):
                raise
        return f(*_zero_fill(args), **{k: _zero_fill(v) for k, v in kwargs.items()})

    return call


class _Namespace(types.ModuleType):
    """sparse's namespace; each function retries with zero fill values (see above)."""

    def __getattr__(self, name):
        value = getattr(sparse, name)
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)) or (
                callable(value) and not isinstance(value, type) and hasattr(value, "__wrapped__")):
            value = _with_zero_fills(value)
        setattr(self, name, value)
        return value


namespace = _Namespace("sparse")


def to_numpy(x):
    return x.todense() if isinstance(x, sparse.SparseArray) else np.asarray(x)


def from_numpy(a, like):
    return sparse.asarray(np.asarray(a), format=getattr(like, "format", "coo"))


def as_array(x):
    # 0-d reads come back as NumPy scalars; a gradient mirrors its 0-d sparse argument
    return sparse.asarray(np.asarray(x)) if isinstance(x, (np.generic, np.ndarray)) else x
