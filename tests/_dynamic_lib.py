"""A module whose attributes its __getattr__ makes (PEP 562), as lazily configured modules do."""
SETTINGS = {"SCALE": 2.0}


def __getattr__(name):
    try:
        return SETTINGS[name]
    except KeyError:
        raise AttributeError(name) from None
