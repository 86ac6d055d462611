"""yota: reverse-mode automatic differentiation for array-API code.

    val, g = yota.grad(loss, model, X)   # g == (fn_grad, model_grad, X_grad)

The data's path: flatten -> trace -> gradtape -> passes -> codegen -> cache;
README.md ("How it works") says where each job lives.
"""
# isort: off
from ._layout import ensure_backends

ensure_backends()

from . import rules  # noqa: E402,F401  (registers every rule in the op table)
from . import pynumbers  # noqa: E402,F401  (abs(), .real, .imag of traced Python numbers)
from . import frontends as _frontends  # noqa: E402,F401  (NumPy-style code on Tracers)
from .backends import default as _default_backend, TRACER_TRAPS as _TRAPS  # noqa: E402
from .tracer import Tracer as _Tracer, install_trap as _install_trap  # noqa: E402

for _attr, _lib in _TRAPS.items():
    _install_trap(_attr, _lib)
# The default backend is always installed; loading its namespace now (~0.1 s)
# keeps that one-time cost out of the first grad.
_default_backend()
from .api import cache_info, compile, grad, gradtape, reset, trace, vjp  # noqa: E402
from .draw import draw  # noqa: E402
from .errors import YotaError  # noqa: E402
from .ext import ext  # noqa: E402
from .ops import rrule  # noqa: E402
from .primitives import primitive, stop_gradient  # noqa: E402
from .tangents import NoTangent, Tangent, ZeroTangent, update_  # noqa: E402
from .tape import Tape  # noqa: E402
from .transforms import (checkpoint, custom_vjp, hessian, hvp, jacfwd, jacobian, jacrev, jvp,  # noqa: E402
                         linearize, value_and_grad, vmap)

__all__ = ["grad", "vjp", "trace", "gradtape", "compile", "reset", "update_", "Tangent", "ZeroTangent",
           "NoTangent", "primitive", "rrule", "stop_gradient", "Tape", "YotaError", "ext", "cache_info",
           "testing", "value_and_grad", "jvp", "linearize", "hvp", "checkpoint", "custom_vjp", "vmap", "jacrev",
           "jacfwd", "jacobian", "hessian", "draw"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "testing":  # loaded on first use (``from . import testing`` here would ask this again)
        import importlib
        return importlib.import_module(f"{__name__}.testing")
    raise AttributeError(name)
