"""yota: reverse-mode automatic differentiation for array-API code.

    val, g = yota.grad(loss, model, X)   # g == (fn_grad, model_grad, X_grad)

See README.md and DESIGN.md for the design: trace -> gradtape -> compile -> cache.
"""
# isort: off
from ._layout import ensure_backends

ensure_backends()

from . import rules  # noqa: E402,F401  (registers every rule)
from .backends import default as _default_backend  # noqa: E402

# NumPy is always installed; importing its namespace now (array-api-compat's
# clone of numpy takes ~0.1 s) keeps that one-time cost out of the first grad.
_default_backend()
from .api import cache_info, compile, grad, gradtape, reset, trace, vjp  # noqa: E402
from .errors import YotaError  # noqa: E402
from .ext import ext  # noqa: E402
from .rules.registry import primitive, rrule  # noqa: E402
from .tangents import NoTangent, Tangent, ZeroTangent, update_  # noqa: E402
from .tape import Tape  # noqa: E402

__all__ = ["grad", "vjp", "trace", "gradtape", "compile", "reset", "update_", "Tangent", "ZeroTangent",
           "NoTangent", "primitive", "rrule", "Tape", "YotaError", "ext", "cache_info", "testing"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "testing":
        from . import testing
        return testing
    raise AttributeError(name)
