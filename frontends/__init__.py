"""Front ends: code written against another library's protocols, traced onto
the same rules. Installed as ``yota.frontends``; importing it registers the
handlers that `yota.tracer.Tracer` forwards those protocols to.

``numpy``: ``np.exp(x)`` (``__array_ufunc__``), ``np.sum(x)``
(``__array_function__``), ``x.sum()`` (array methods) on traced arrays.
"""
from yota.tracer import register_frontend

from . import numpy as _numpy

register_frontend("ufunc", _numpy.ufunc)
register_frontend("function", _numpy.function)
register_frontend("method", _numpy.method)
