"""Run as a program by test_journal_crash.py: one journal operation on a project, in its
own process, which the test kills with SIGKILL.

    python journal_kill_helper.py apply|undo|redo ROOT STOP_AT before|after

STOP_AT is "r<n>": the n-th rename (``os.replace`` call, from 1), the journal's own
files and the project's alike; or "f<n>": the n-th rename of a file in the project.
The helper stops there, before or after the rename happens, prints "paused" and waits
to be killed; "-" runs to the end. os.replace is only watched: every rename still
really happens.
Imports nothing but rung, so it starts fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rung.engine.edits.writes import FileWrite

CHANGED = 380  # existing files the big edit changes
CREATED = 20  # files it creates, in directories that do not exist yet
FILES = CHANGED + CREATED


def old_bytes(n: int) -> bytes:
    return f"def f{n}():\n    return {n}\n".encode()


def new_bytes(n: int) -> bytes:
    return f"def f{n}():\n    return {n} * 2  # changed\n".encode()


def big_writes() -> list[FileWrite]:
    """The 400-file edit: 380 files changed, 20 created under gen/deep/."""
    changed = [FileWrite(f"src/m{n:03d}.py", old_bytes(n), new_bytes(n)) for n in range(CHANGED)]
    created = [
        FileWrite(f"gen/deep/g{n:02d}.py", None, new_bytes(1000 + n)) for n in range(CREATED)
    ]
    return changed + created


def main() -> None:
    from rung.engine.workspace import edits_journal

    operation, root = sys.argv[1], Path(sys.argv[2])
    stop, when = sys.argv[3], sys.argv[4]
    files_only, stop_at = stop[:1] == "f", int(stop[1:]) if stop != "-" else 0
    real_replace = os.replace
    count = 0

    def pause() -> None:
        print("paused", flush=True)
        sys.stdin.readline()  # never answered: the test kills this process now
        os._exit(3)

    def watched(src: str, dst: str) -> None:
        nonlocal count
        count += not files_only or root in Path(dst).parents
        if count == stop_at and when == "before":
            pause()
        real_replace(src, dst)
        if count == stop_at and when == "after":
            pause()

    os.replace = watched  # type: ignore[assignment]
    journal = edits_journal(root)
    print("ready", flush=True)
    if operation == "apply":
        journal.record(big_writes(), "Big change")
    elif operation == "undo":
        assert journal.undo().ok
    else:
        assert journal.redo().ok
    print("done", flush=True)


if __name__ == "__main__":
    main()
