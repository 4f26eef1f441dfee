"""kill -9 in the middle of an agent turn's second edit: no half-written file, and
`rung undo` puts the whole turn back (the interrupted edit first, then the rest)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.agent.helpers import git_project
from tests.test_cli import rung

HELPER = Path(__file__).with_name("agent_kill_helper.py")


def test_a_turn_killed_mid_edit_is_whole_and_undone_by_rung_undo(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    calc, readme = root / "src" / "calc.py", root / "README.md"
    calc_before, readme_before = calc.read_bytes(), readme.read_bytes()
    helper = subprocess.Popen(
        [sys.executable, str(HELPER), str(root)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert helper.stdout is not None
        line = helper.stdout.readline()
        assert line.strip() == b"paused", helper.stderr.read() if helper.stderr else b""
        helper.send_signal(signal.SIGKILL)
        helper.wait(timeout=30)
    finally:
        if helper.poll() is None:
            helper.kill()
    assert readme.read_bytes() == readme_before  # never half written
    assert calc.read_bytes() != calc_before  # the first edit of the turn was done
    recovered = rung(tmp_path, "undo", cwd=root)
    assert recovered.returncode == 0, recovered.stderr
    assert "was interrupted; restored the original files" in recovered.stderr
    rest = rung(tmp_path, "undo", cwd=root)
    assert rest.returncode == 0, rest.stderr
    assert calc.read_bytes() == calc_before and readme.read_bytes() == readme_before
    assert not list(root.rglob("*.rung-*.tmp"))
