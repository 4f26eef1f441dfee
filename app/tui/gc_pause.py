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
(messages.MOUNTED_MAX), which bounds that garbage to a few turns' worth. The full
collection that frees it waits for a quiet moment: no reply streaming and no key typed
for COLLECT_QUIET_S, or the moment a message is sent (``sending``), when the reply is
a round trip away — someone who types their next question as soon as a reply ends
never leaves a quiet second. Run as a reply ended, it delayed that reply's last frame
by up to 0.65 s (bench/stream_render.py, lag at 8,000 tokens); it costs ~0.2 s per
400,000 live objects on a 2-core VM.
"""

from __future__ import annotations

import asyncio
import gc
import time

# No full collection while a reply streams: generation 2 runs when its count passes its
# threshold; this one is not reached in any reply.
PAUSED_THRESHOLD = 1_000_000_000

# A due collection runs once nothing streamed and nothing was typed for this long.
COLLECT_QUIET_S = 1.0
# ... or this long after a message is sent: its request is on its way by then.
COLLECT_AFTER_SEND_S = 0.05

_holds = 0
_saved: tuple[int, int, int] | None = None
_collect_due = False
_last_activity = 0.0
_timer: asyncio.TimerHandle | None = None


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
        if _collect_due:
            _collect_soon(COLLECT_QUIET_S)


def forget() -> None:
    """Widgets were removed (a new chat, old messages shelved, the app quitting): their
    garbage is unfrozen, and collected at the next quiet moment. Call it after a refresh
    that follows the removal: until then Textual still holds the removed widgets."""
    global _collect_due
    gc.unfreeze()
    _collect_due = True
    if _holds == 0:
        _collect_soon(COLLECT_QUIET_S)


def activity() -> None:
    """A key was typed: a due collection waits (it would delay the key's echo)."""
    global _last_activity
    _last_activity = time.monotonic()


def sending() -> None:
    """A message is being sent: a due collection runs while its reply is on its way
    (or as its first tokens arrive, from a fast server: once, not worth waiting for)."""
    if _collect_due:
        _collect_soon(COLLECT_AFTER_SEND_S, quiet=False)


def _collect_soon(delay: float, quiet: bool = True) -> None:
    global _timer
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no event loop (the app is gone): natural collections will do
        return
    if _timer is not None:
        _timer.cancel()
    _timer = loop.call_later(delay, _collect_when_due, quiet)


def _collect_when_due(quiet: bool) -> None:
    global _timer, _collect_due
    _timer = None
    if not _collect_due:
        return
    if quiet:
        if _holds:
            return  # a reply streams: its release tries again
        idle = time.monotonic() - _last_activity
        if idle < COLLECT_QUIET_S:
            _collect_soon(COLLECT_QUIET_S - idle)
            return
    _collect_due = False
    gc.unfreeze()  # what the last reply froze may hold the removed widgets' garbage
    gc.collect()
    gc.freeze()  # later full collections skip what is left, as after a reply


def paused() -> bool:
    return _holds > 0


def at_exit() -> None:
    """The interpreter is ending: no garbage collection during its teardown. Python
    collects the whole heap (Textual, Rich, the price tables: ~77,000 objects) as it
    finalizes, which was two thirds of the time from Ctrl+Q to the shell prompt
    (bench/startup.py); objects are still freed one by one as their modules go, and
    the history and the model were closed before this (RungApp.on_unmount)."""
    gc.disable()
    gc.freeze()
