"""A program in a pseudo-terminal, read as a terminal would: for the benchmarks that
time what reaches the screen (bench/stream_render.py, bench/memory.py).

A reader thread timestamps every chunk the program writes; ``wait_for`` finds the
first chunk after a given moment whose text (escape sequences removed) contains a
string. CPU time and memory come from /proc.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

# CSI, OSC, DCS and two-byte escapes: what remains is the text drawn on screen.
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP[^\x1b]*\x1b\\|\x1b[@-Z\\-_=>]"
)
TICKS = os.sysconf("SC_CLK_TCK")


def isolated_env(root: Path, rows: int, cols: int) -> dict[str, str]:
    """The caller's environment with its own XDG directories under ``root`` and no
    Textual, Rung or provider key variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEXTUAL", "RUNG_"))}
    for key in [k for k in env if k.endswith("_API_KEY")]:
        del env[key]
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        path = root / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = str(path)
    env.update(TERM="xterm-256color", COLORTERM="truecolor", LINES=str(rows), COLUMNS=str(cols))
    return env


class Term:
    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        rows: int = 40,
        cols: int = 120,
        cwd: str | None = None,
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.bytes_read = 0
        self._lock = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.05)
            except (OSError, ValueError):
                break
            if not ready:
                continue
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                break
            if not data:
                break
            at = time.perf_counter()
            with self._lock:
                self.chunks.append((at, data))
                self.bytes_read += len(data)
                self._lock.notify_all()
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def write(self, data: str | bytes) -> float:
        """Send keys; returns the moment they were written."""
        raw = data.encode() if isinstance(data, str) else data
        at = time.perf_counter()
        os.write(self.master, raw)
        return at

    def forget(self) -> None:
        """Drop what was read so far (long runs keep only what they still search)."""
        with self._lock:
            self.chunks.clear()

    def wait_for(self, needle: str, since: float, timeout: float) -> float | None:
        """The arrival time of the first chunk written after ``since`` whose text (with
        the end of the chunk before it, for strings split across writes) has ``needle``."""
        deadline = time.perf_counter() + timeout
        index = 0
        tail = b""
        while True:
            with self._lock:
                while index >= len(self.chunks) and not self._closed:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        return None
                    self._lock.wait(min(left, 0.05))
                if index >= len(self.chunks):
                    return None
                batch = self.chunks[index:]
                index = len(self.chunks)
            for at, data in batch:
                if at < since:
                    continue
                window = tail + data
                text = ANSI.sub("", window.decode("utf-8", "replace"))
                if needle in text:
                    return at
                tail = window[-512:]
            if time.perf_counter() > deadline:
                return None

    def quiet(self, seconds: float, timeout: float = 10.0) -> None:
        """Wait until nothing has been written for ``seconds`` (or ``timeout`` passed)."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            with self._lock:
                last = self.chunks[-1][0] if self.chunks else self.started
            if time.perf_counter() - last >= seconds:
                return
            time.sleep(min(seconds / 4, 0.05))

    # -- /proc ---------------------------------------------------------------------
    def cpu_s(self) -> float:
        """User + system CPU seconds of the whole process so far (every thread)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def memory_kb(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak) in kB."""
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out

    def close(self, keys: bytes = b"\x11", timeout: float = 20.0) -> float | None:
        """Quit with ``keys`` (Ctrl+Q); kill the process group if it does not exit.
        Returns the seconds it took to exit, or None when it had to be killed."""
        took = None
        if self.proc.poll() is None:
            at = self.write(keys)
            try:
                self.proc.wait(timeout=timeout)
                took = time.perf_counter() - at
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._closed = True
        self._reader.join(1)
        os.close(self.master)
        return took


def tail_text(term: Term, chars: int = 2000) -> str:
    """The end of what was drawn, escape sequences removed (for error messages)."""
    data = b"".join(chunk for _, chunk in term.chunks[-20:])
    return ANSI.sub("", data.decode("utf-8", "replace"))[-chars:]
