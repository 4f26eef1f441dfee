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
until ``forget`` unfreezes them, and a third of what a 300-token turn froze was garbage
(blocks replaced as the reply grew; 60 turns leaked 2.8 MB a turn). The chat list calls
``forget`` when it removes widgets: a new chat, or old messages shelved every few turns
(messages.MOUNTED_MAX), which bounds that garbage to a few turns' worth.
"""

from __future__ import annotations

import gc

# No full collection while a reply streams: generation 2 runs when its count passes its
# threshold; this one is not reached in any reply.
PAUSED_THRESHOLD = 1_000_000_000

_holds = 0
_saved: tuple[int, int, int] | None = None
_collect_due = False


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
    global _holds, _collect_due
    if _holds == 0:
        return
    _holds -= 1
    if _holds == 0 and _saved is not None:
        if freeze:  # first: with the old threshold back, the next collection is a full one
            if _collect_due:
                _collect_due = False
                gc.collect()
            gc.freeze()
        gc.set_threshold(*_saved)


def forget() -> None:
    """Widgets were removed (a new chat, old messages shelved, the app quitting): they
    are unfrozen now, and the next ``release`` runs a full collection before it freezes,
    so that their garbage is not frozen again. That collection costs what is alive then
    (~0.2 s for 400,000 objects on a 2-core VM), once, after a reply's last frame. Call
    it after a refresh that follows the removal: until then Textual still holds the
    removed widgets, and a collection would keep and freeze them again."""
    global _collect_due
    gc.unfreeze()
    _collect_due = True


def paused() -> bool:
    return _holds > 0
