"""Python's full garbage collections, kept out of streaming replies.

A streamed 8,000-token reply builds about 400,000 objects (widgets, styles, render
caches). CPython scans all of them in each full (generation 2) collection: 29 of those
during the reply, 100-185 ms each, 20% of the app's CPU and the event loop's longest
stalls — a key typed then waited for it (bench/stream_render.py --typing).

While a reply streams, full collections wait (young objects are still collected as
usual). When it ends, what is alive is frozen (gc.freeze, which is cheap) instead of
scanned: letting the waiting collection run then stalled the app for ~0.6 s. Later
full collections skip frozen objects, so they cost what is new since the last reply,
not the whole conversation. The price: cyclic garbage among frozen objects is not freed
until ``forget`` (a new chat) unfreezes them — after an 8,000-token reply a full
collection found 424 such objects among 400,000.
"""

from __future__ import annotations

import gc

# No full collection while a reply streams: generation 2 runs when its count passes its
# threshold; this one is not reached in any reply.
PAUSED_THRESHOLD = 1_000_000_000

_holds = 0
_saved: tuple[int, int, int] | None = None


def hold() -> None:
    """A reply starts streaming (calls nest: the compare screen streams several)."""
    global _holds, _saved
    if _holds == 0:
        _saved = gc.get_threshold()
        gc.set_threshold(_saved[0], _saved[1], PAUSED_THRESHOLD)
    _holds += 1


def release(freeze: bool = True) -> None:
    """A reply has ended; full collections resume when no other reply streams.
    ``freeze=False``: the reply was removed, there is nothing worth keeping frozen."""
    global _holds
    if _holds == 0:
        return
    _holds -= 1
    if _holds == 0 and _saved is not None:
        if freeze:  # first: with the old threshold back, the next collection is a full one
            gc.freeze()
        gc.set_threshold(*_saved)


def forget() -> None:
    """The conversation on screen is gone (new chat): let its objects be collected."""
    gc.unfreeze()


def paused() -> bool:
    return _holds > 0
