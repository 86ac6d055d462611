"""Long traces and the cyclic garbage collector.

A trace of n ops makes several objects per op that all stay alive until it
ends. With the collector running, each young-generation pass walks every one
of them again (quadratic time); with it paused and simply resumed, the first
pass after the trace still walks them all once (0.18 s for a 120 000-op tape).
They are long-lived by construction (the tape is cached), so they are moved
to the oldest generation instead, where a full pass reaches them only when
the old generation has grown by a quarter."""
from __future__ import annotations

import contextlib
import gc

__all__ = ["paused"]


@contextlib.contextmanager
def paused():
    """Run the body with the collector off; on leaving, what it made joins the
    oldest generation without being walked (unless the program froze objects
    itself: `gc.unfreeze` would release those too, so then it is resumed as is)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            if gc.get_freeze_count() == 0:
                gc.freeze()   # every tracked object to the permanent generation; resets the young count
                gc.unfreeze()  # ...and back into the oldest generation
            gc.enable()
