"""`rung calibrate` as a user runs it: the real embedded model on a small labelled
subset, the profile stored and then used by `rung route`; Ctrl-C stores nothing; a
bad labelled file is named by line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import subprocess_env
from tests.test_cli import rung


def profiles(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "data" / "rung" / "competence").glob("*.json"))


def test_calibrate_measures_the_local_model_and_route_then_uses_it(tmp_path: Path) -> None:
    result = rung(tmp_path, "calibrate", "--limit", "9", "--max-tokens", "24")
    assert result.returncode == 0, result.stderr
    assert "[9/9]" in result.stderr  # progress on stderr, one line per prompt
    assert "Stored" in result.stdout and "P(right)" in result.stdout
    (stored,) = profiles(tmp_path)
    profile = json.loads(stored.read_text())
    assert profile["source"] == "measured" and sum(profile["counts"].values()) == 9
    assert stored.name.startswith("SmolLM2-135M-Instruct.Q4_1.gguf-")
    # Route reads the stored numbers, not the shipped ones.
    routed = rung(tmp_path, "route", "--json", "--explain", "What is 7 + 5?")
    data = json.loads(routed.stdout)
    assert data["task_kind"] == "math"
    assert data["competence"]["local"] == {"p_right": profile["rates"]["math"],
                                           "source": "measured"}  # fmt: skip


def test_ctrl_c_during_calibration_stores_nothing_and_says_so(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rung", "calibrate", "--limit", "40"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=subprocess_env(tmp_path),
    )  # fmt: skip
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 120
    while "[1/40]" not in seen and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    assert "[1/40]" in seen, seen
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + err
    assert "interrupted; nothing stored" in err
    assert "Traceback" not in seen + err
    assert profiles(tmp_path) == []


def test_a_labelled_file_without_kinds_is_named_by_line(tmp_path: Path) -> None:
    bad = tmp_path / "set.jsonl"
    bad.write_text(
        '{"prompt": "What is 2+2?", "kind": "math", "checks": {"regex": "4"}}\n'
        '{"prompt": "Hi", "kind": "smalltalk", "checks": {"contains": "hi"}}\n'
    )
    result = rung(tmp_path, "calibrate", "--set", str(bad))
    assert result.returncode == 2
    assert "line 2: kind must be one of" in result.stderr
    assert "Traceback" not in result.stderr
    assert profiles(tmp_path) == []


def test_a_rung_that_cannot_answer_stores_no_zeros(tmp_path: Path) -> None:
    from tests.conftest import free_port

    no_key = rung(tmp_path, "calibrate", "--rung", "deepseek", "--limit", "2")
    assert no_key.returncode == 1
    assert "rung calibrate: deepseek cannot answer: no API key" in no_key.stderr
    config = tmp_path / "config" / "rung" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[selfhosted]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n')
    down = rung(tmp_path, "calibrate", "--rung", "selfhosted", "--limit", "2")
    assert down.returncode == 1
    assert "rung calibrate: selfhosted failed: " in down.stderr
    assert "nothing stored" in down.stderr and "Traceback" not in down.stderr
    assert profiles(tmp_path) == []  # a rung that never answered is not "0% right"
