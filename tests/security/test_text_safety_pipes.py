"""Issue 24: a reader that closes stdout early (`rung cost | head -1`) ends every
command quietly: no traceback, no "Exception ignored", no "Broken pipe", status 141
(what a shell shows for a writer whose reader left), and `rung ask` still saves the
turn it was answering, marked cancelled, instead of calling it a tier failure.

The pipe is a real one, closed by the reader: at once (deterministic: the first write
finds it closed) or after the first byte (`| head -c 1`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from rung.engine.config import data_dir
from rung.engine.store import open_store
from rung.tiers.base import Usage
from rung.tiers.meter import MessageCost
from rung.tiers.pricing import Cost
from tests.conftest import subprocess_env
from tests.test_cli import rung

NOISE = ("Traceback", "Exception ignored", "Broken pipe", "BrokenPipeError", "Errno 32")


def into_closed_pipe(
    tmp_path: Path, *args: str, after_bytes: int = 0, buffered: bool = False
) -> tuple[int, str]:
    """Run `rung ARGS` with stdout into a pipe whose reader reads ``after_bytes`` bytes
    and leaves. (exit status, stderr)."""
    read_end, write_end = os.pipe()
    if not after_bytes:
        os.close(read_end)
    env = subprocess_env(tmp_path)
    if buffered:
        env.pop("PYTHONUNBUFFERED", None)  # block-buffered: the last flush meets the pipe
    proc = subprocess.Popen(
        [sys.executable, "-m", "rung", *args],
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    os.close(write_end)
    if after_bytes:
        got = b""
        while len(got) < after_bytes:
            chunk = os.read(read_end, after_bytes - len(got))
            if not chunk:
                break
            got += chunk
        os.close(read_end)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode("utf-8", "replace")


def a_stored_conversation() -> None:
    store = open_store(data_dir())
    try:
        session = store.start_session("tui", "a stored chat")
        store.add_user_message(session, "What is a pipe?\n" * 5000)
        free = Cost(Decimal(0), True, "local")
        record = MessageCost(
            "local", "local", "local", "m", Usage(5, 7), free, free, datetime.now(UTC)
        )
        store.add_reply(session, "A pipe connects two processes.\n" * 5000, record)
    finally:
        store.close()


COMMANDS = {
    "route": ["route", "--ladder", "local,api", "fix the bug"],
    "route --explain": ["route", "--ladder", "local,api", "--explain", "fix the bug"],
    "cost": ["cost"],
    "cost --json": ["cost", "--json"],
    "cost --what-if": ["cost", "--what-if"],
    "sessions": ["sessions"],
    "sessions --json": ["sessions", "--json"],
    "export": ["export"],
    "compare --list": ["compare", "--list"],
    "undo --list": ["undo", "--list"],
    "--version": ["--version"],
    "--help": ["--help"],
    "ask --help": ["ask", "--help"],
}


def expected_status(name: str) -> set[int]:
    # argparse itself ignores a failed write of --help/--version and exits 0; when the
    # text was still buffered, Rung's last flush finds the reader gone (141).
    return {0, 141} if name.endswith(("--help", "--version")) else {141}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_stops_quietly_when_the_reader_leaves(tmp_path: Path, name: str) -> None:
    a_stored_conversation()
    status, err = into_closed_pipe(tmp_path, *COMMANDS[name])
    for noise in NOISE:
        assert noise not in err, f"{name}: {err}"
    assert status in expected_status(name), f"{name}: {status} {err}"


@pytest.mark.parametrize(
    "name", ["cost", "sessions", "export", "route --explain", "--help", "--version"]
)
def test_a_buffered_stdout_meets_the_closed_pipe_quietly_at_the_end(
    tmp_path: Path, name: str
) -> None:
    a_stored_conversation()
    status, err = into_closed_pipe(tmp_path, *COMMANDS[name], buffered=True)
    for noise in NOISE:
        assert noise not in err, f"{name}: {err}"
    assert status in expected_status(name), f"{name}: {status} {err}"


def test_a_long_listing_into_head_c_1(tmp_path: Path) -> None:
    a_stored_conversation()
    status, err = into_closed_pipe(tmp_path, "export", after_bytes=1, buffered=True)
    assert not any(noise in err for noise in NOISE), err
    assert status == 141


def test_rung_ask_into_head_stops_and_keeps_the_answer_so_far(tmp_path: Path) -> None:
    question = "Count from 1 to 100, one number a line."
    status, err = into_closed_pipe(tmp_path, "ask", "--max-tokens", "200", question, after_bytes=1)
    assert not any(noise in err for noise in NOISE), err
    assert "failed" not in err, err  # a reader leaving is not a tier failure
    assert status == 141
    sessions = json.loads(rung(tmp_path, "sessions", "--json").stdout)
    question_row, answer = sessions[0]["messages"]
    assert question_row["text"] == question
    # The reader leaves after the first byte. Usually the reply is still streaming: it
    # stops there and is kept as far as it came ("cancelled"). On a loaded machine the
    # reader's close can come after the small model finished its answer: then the reply
    # is whole ("stop") and only the last write meets the closed pipe. Either way the
    # answer is kept, with no error (CI saw both).
    assert answer["status"] in ("cancelled", "stop"), answer
    assert answer["text"] and answer["error"] is None


def test_rung_ask_json_into_a_closed_pipe_still_saves_the_turn(tmp_path: Path) -> None:
    status, err = into_closed_pipe(tmp_path, "ask", "--json", "--max-tokens", "8", "hi")
    assert not any(noise in err for noise in NOISE), err
    assert status == 141
    sessions = json.loads(rung(tmp_path, "sessions", "--json").stdout)
    assert sessions[0]["messages"][1]["status"] in ("stop", "length")
