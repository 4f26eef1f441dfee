"""If Rung ever dies from a native crash, the next start says so instead of nothing.

A segfault inside llama.cpp cannot be caught in Python. ``faulthandler`` can still write
where it happened, so it writes to ``crash.log`` in the data directory (never to the
terminal, where the chat screen draws); on the next start a non-empty log is moved
aside and reported once, with what to try. The child-process probe in
``tiers.local_probe`` keeps the known crash from happening at all; this is the net
under everything else.
"""

from __future__ import annotations

import faulthandler
import os
import time
from pathlib import Path
from typing import IO

CRASH_LOG = "crash.log"
_log: IO[str] | None = None


def previous_crash(data_dir: Path) -> str | None:
    """A message if the last run crashed (its log moved aside so it is said once)."""
    log = data_dir / CRASH_LOG
    try:
        if log.stat().st_size == 0:
            return None
        kept = data_dir / f"crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
        log.replace(kept)
    except OSError:
        return None
    return (
        "Rung stopped unexpectedly last time (a crash in native code such as llama.cpp). "
        f"Where it happened is in {kept}. If it was the local model, set [local] "
        'weight_repacking = "off" in the config or pick another model in Settings (F6).'
    )


def enable(data_dir: Path) -> None:
    """Send fatal-signal tracebacks to the crash log (0600). Silently off if the data
    directory cannot be written: a crash log must never stop Rung from starting."""
    global _log
    if _log is not None:
        return
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(data_dir / CRASH_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _log = os.fdopen(fd, "a", encoding="utf-8")
    except OSError:
        return
    faulthandler.enable(file=_log, all_threads=True)
