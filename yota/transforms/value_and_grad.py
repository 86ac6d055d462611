"""``value_and_grad(f, argnums=0, has_aux=False)``, as in JAX."""
from __future__ import annotations

import functools
from typing import Any, Callable

from .. import api, errors


def normalize_argnums(argnums, n_args: int, what: str = "argnums") -> tuple[tuple[int, ...], bool]:
    """``argnums`` as a tuple of non-negative positions, and whether it was a single int."""
    single = isinstance(argnums, int) and not isinstance(argnums, bool)
    items = (argnums,) if single else argnums
    if not isinstance(items, (tuple, list)) or not items or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in items):
        raise errors.ArgumentError(f"{what}={argnums!r}: pass an int or a tuple of ints")
    out = []
    for i in items:
        j = i + n_args if i < 0 else i
        if not 0 <= j < n_args:
            raise errors.ArgumentError(f"{what}={argnums!r}: position {i} is out of range for a call with "
                                       f"{n_args} positional argument(s)")
        out.append(j)
    return tuple(out), single


def value_and_grad(f: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """``g(*args, **kwargs) -> (value, grads)`` (``((value, aux), grads)`` with
    ``has_aux``); ``grads`` is one gradient for an int ``argnums``, a tuple for a
    tuple. Keyword arguments go to ``f`` and are not differentiated."""
    if not callable(f):
        raise errors.ArgumentError(f"value_and_grad needs a function, got {type(f).__name__}")

    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any):
        nums, single = normalize_argnums(argnums, len(args))
        g = functools.partial(f, **kwargs) if kwargs else f
        value, grads = api._call("grad", g, args, None, tuple(sorted({i + 1 for i in nums})), aux=has_aux)
        picked = tuple(grads[i + 1] for i in nums)
        return value, (picked[0] if single else picked)

    return value_and_grad_f
