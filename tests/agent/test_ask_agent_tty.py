"""`rung ask --agent` on a terminal: a call that needs permission is asked on stderr and
the answer read from the terminal (a real pty), while stdout stays clean for --json."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import env, needs_sandbox, project
from tests.conftest import subprocess_env


def run_on_a_tty(tmp_path: Path, url: str, root: Path, answer: bytes) -> tuple[int, str, str]:
    """The agent with its stdin and stderr on a pty; ``answer`` typed at the question."""
    master, slave = os.openpty()
    argv = [sys.executable, "-m", "rung", "ask", "--agent", "--tier", "custom", "--base-url",
            url + "/v1", "--model", "m", "--json", "make ran.txt"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=root, stdin=slave, stdout=subprocess.PIPE, stderr=slave,
                            env=subprocess_env(tmp_path, **env()))  # fmt: skip
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
            if not answered and b"[n]o: " in seen:
                os.write(master, answer)
                answered = True
        out = proc.stdout.read().decode() if proc.stdout else ""
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.returncode, out, seen.decode("utf-8", "replace")


@needs_sandbox
@pytest.mark.parametrize(("answer", "runs"), [(b"y\n", True), (b"n\n", False)])
def test_a_command_is_asked_on_the_terminal_and_the_answer_decides(
    tmp_path: Path, servers, answer: bytes, runs: bool
) -> None:
    root = project(tmp_path)
    told = "exit code 0" if runs else "The user denied"
    model = ScriptedModel([
        Turn(calls=[("run", {"command": "touch ran.txt"})]),
        Turn(text="Done.", expect=(told,)),
    ])  # fmt: skip
    status, out, terminal = run_on_a_tty(tmp_path, servers(model).url, root, answer)
    assert status == 0, terminal
    assert "allow run touch ran.txt?" in terminal and "[a]lways" in terminal
    assert (root / "ran.txt").exists() is runs
    assert model.problems == []
    data = json.loads(out)  # the question went to the terminal, not into the JSON
    assert data["tools"][0]["is_error"] is (not runs)
