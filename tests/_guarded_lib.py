"""A user library whose names the guard tests rebind (a module attribute that a traced loss reads)."""
from array_api_compat import array_namespace

BETA = 1.0


def softplus(x):
    xp = array_namespace(x)
    return xp.log1p(xp.exp(x)) * BETA


def double(x):
    return x * 2.0
