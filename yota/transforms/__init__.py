"""Function transformations with JAX's names and semantics.

Each returns a function. They are built from `yota.grad` / `yota.vjp` and
from each other, and evaluated through the cache (`api.evaluate`): the first
call traces (nested transformations record onto that trace), later calls run
one compiled tape. Called on Tracers (inside another transformation or grad)
they record onto the outer trace, so they compose to any depth.

- `value_and_grad`: ``grad`` with ``argnums`` and ``has_aux``.
- `jvp`, `linearize`, `hvp`: forward mode, derived from the reverse rules: the
  VJP ``u -> J^T u`` is linear in ``u``, so the gradient of ``<J^T u, v>`` with
  respect to ``u`` is ``J v``; the passes then drop the parts of the reverse
  sweep that ``J v`` does not need. No forward rules to write or keep in sync.
- `checkpoint`: one op on the tape whose pullback recomputes the function.
- `custom_vjp`: a rule for one function.
- `vmap`: a tape pass with a batching rule per op (`yota/batching/`).
- `jacrev`, `jacfwd`, `hessian`: ``vmap`` over VJPs / JVPs.
"""
from .checkpoint import checkpoint
from .custom_vjp import custom_vjp
from .forward import hvp, jvp, linearize
from .jacobian import hessian, jacfwd, jacobian, jacrev
from .value_and_grad import value_and_grad
from .vmap import vmap

__all__ = ["value_and_grad", "jvp", "linearize", "hvp", "checkpoint", "custom_vjp", "vmap", "jacrev", "jacfwd",
           "jacobian", "hessian"]
