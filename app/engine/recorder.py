"""Writes the history on a thread of its own.

A database locked by another Rung process (SQLite waits up to 10 s) or a slow disk must
never freeze the chat screen, so every write goes through this one thread with its own
connection, in order. Writes a reply makes while it streams are coalesced: at most one
is queued per reply, and it writes the newest state when its turn comes.

Failures never raise into the caller: they are kept and handed out by ``problems()``,
so the chat screen can show one warning and ``rung ask`` can print it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rung.engine.store import Store, StoreError, describe_sqlite_error, open_store

Operation = Callable[[Store], Any]


@dataclass
class Handle:
    """A row id that exists once the writer thread has inserted the row."""

    row_id: int | None = None
    # The newest state of a streaming reply, written by the next coalesced update.
    pending: tuple[Any, ...] | None = None
    queued: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class Recorder:
    def __init__(self, data_dir: Path) -> None:
        self._ops: queue.Queue[tuple[Operation, threading.Event | None] | None] = queue.Queue()
        self._problems: list[str] = []
        self._lock = threading.Lock()
        self._opened = threading.Event()
        self._data_dir = data_dir
        self._thread = threading.Thread(target=self._run, name="rung-history", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        store: Store | None = None
        try:
            store = open_store(self._data_dir)
        except StoreError as exc:
            self._problem(f"History is off: {exc}")
        finally:
            self._opened.set()
        while True:
            item = self._ops.get()
            if item is None:
                break
            op, done = item
            if store is not None:
                try:
                    op(store)
                except StoreError as exc:
                    self._problem(f"Could not save to history: {exc}")
                except Exception as exc:  # sqlite3.Error and anything unexpected
                    self._problem(f"Could not save to history: {describe_sqlite_error(exc)}")
            if done is not None:
                done.set()
        if store is not None:
            store.close()

    def _problem(self, message: str) -> None:
        with self._lock:
            # The same failure on every token would be noise: keep each message once.
            if message not in self._problems:
                self._problems.append(message)

    # -- the caller's side ---------------------------------------------------------
    def submit(self, op: Operation) -> None:
        self._ops.put((op, None))

    def update(self, handle: Handle, op: Callable[[Store, int, tuple[Any, ...]], Any],
               state: tuple[Any, ...]) -> None:  # fmt: skip
        """Write ``state`` for a streaming row; only the newest queued state is written."""
        with handle.lock:
            handle.pending = state
            if handle.queued:
                return
            handle.queued = True

        def write(store: Store) -> None:
            with handle.lock:
                latest, handle.pending, handle.queued = handle.pending, None, False
            if handle.row_id is not None and latest is not None:
                op(store, handle.row_id, latest)

        self.submit(write)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is written (False on timeout)."""
        done = threading.Event()
        self._ops.put((lambda store: None, done))
        return done.wait(timeout)

    def problems(self) -> list[str]:
        """Failures since the last call (each said once)."""
        with self._lock:
            taken, self._problems = self._problems, []
        return taken

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop. Safe to call twice."""
        if self._thread.is_alive():
            self._ops.put(None)
            self._thread.join(timeout)
