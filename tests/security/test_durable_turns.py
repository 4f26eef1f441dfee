"""Finding 4 (medium): an interrupted turn is not lost. The question, the partial reply
and what it used are in the history however Rung stops: kill -9 of the chat screen,
Ctrl-C in `rung ask`. Real `rung` processes, a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from rung.engine.store import open_store
from tests.conftest import subprocess_env
from tests.fakes import Send, Sleep, openai_head, openai_piece

PARTIAL = ["partial ", "reply ", "so far "]


def stalling(request):  # type: ignore[no-untyped-def]
    """Three pieces, then silence: the reply is mid-stream when Rung is stopped."""
    return [*openai_head(), *(Send(openai_piece(p)) for p in PARTIAL), Sleep(60)]


def wait_until(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def rows(tmp_path: Path) -> list:  # type: ignore[type-arg]
    store = open_store(tmp_path / "data" / "rung")
    try:
        return store.transcript(1)
    except Exception:
        return []
    finally:
        store.close()


def streaming_row_has_partial_text(tmp_path: Path) -> bool:
    found = rows(tmp_path)
    return len(found) == 2 and found[1].content == "".join(PARTIAL)


@pytest.mark.parametrize("in_chat", ["off", "auto"])
def test_kill_9_of_the_chat_screen_keeps_the_turn(tmp_path: Path, servers, in_chat: str) -> None:
    """Chat only, and the default (a remote tool rung: the agent answers, step by step)."""
    config = tmp_path / "config" / "rung" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[agent]\nin_chat = "{in_chat}"\n')
    api = servers(stalling)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = subprocess_env(tmp_path, TERM="xterm-256color")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rung", "--tier", "custom", "--base-url", api.url + "/v1",
         "--model", "m"],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    screen = bytearray()

    def drain() -> None:  # the terminal must be read, or the app blocks writing to it
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    threading.Thread(target=drain, daemon=True).start()
    try:
        wait_until(lambda: b"Ask anything" in screen, 30)
        os.write(master, b"What is durable?\r")
        wait_until(lambda: streaming_row_has_partial_text(tmp_path), 30)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    found = rows(tmp_path)  # this open notices the writer is gone
    assert [r.role for r in found] == ["user", "assistant"]
    assert found[0].content == "What is durable?"
    reply = found[1]
    assert reply.finish_reason == "interrupted" and reply.content == "".join(PARTIAL)
    assert reply.estimated and reply.input_tokens > 0 and reply.output_tokens >= 3
    assert reply.cost_usd is None or reply.cost_usd >= 0  # custom model: price unknown


def test_ctrl_c_in_rung_ask_records_before_exiting(tmp_path: Path, servers) -> None:
    api = servers(stalling)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rung", "ask", "--tier", "deepseek", "--base-url",
         api.url + "/v1", "What is durable?"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=subprocess_env(tmp_path, DEEPSEEK_API_KEY="sk-ds-test-0000000000"),
    )  # fmt: skip
    assert proc.stdout is not None
    seen = b""
    while b"so far" not in seen:
        chunk = proc.stdout.read1(4096)  # type: ignore[attr-defined]
        assert chunk, "the stream ended early"
        seen += chunk
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    found = rows(tmp_path)
    assert found[1].finish_reason == "interrupted"
    assert found[1].content == "".join(PARTIAL)
    # Priced (DeepSeek has a price), marked as an estimate, and counted by `rung cost`.
    assert found[1].cost_usd is not None and found[1].cost_usd > 0 and found[1].estimated
