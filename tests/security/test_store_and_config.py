"""Findings 5-7: history failures are said, never silent; broken stores and configs give
one clear line, never a traceback; the history is readable only by its owner."""

from __future__ import annotations

import resource
import stat
import subprocess
import sys
from pathlib import Path

from rung.engine.store import SCHEMA_VERSION, Store
from tests.conftest import subprocess_env
from tests.fakes import openai_stream
from tests.test_cli import rung


def data(tmp_path: Path) -> Path:
    return tmp_path / "data" / "rung"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_history_files_are_user_only(tmp_path: Path) -> None:
    assert rung(tmp_path, "ask", "--max-tokens", "2", "hi").returncode == 0
    folder = data(tmp_path)
    assert mode(folder) == 0o700
    for name in ("rung.db", "rung.db-wal", "rung.db-shm"):
        if (folder / name).exists():
            assert mode(folder / name) == 0o600, name
    assert (folder / "rung.db").exists()


def test_an_older_world_readable_history_is_tightened(tmp_path: Path) -> None:
    folder = data(tmp_path)
    folder.mkdir(parents=True)
    Store(folder / "rung.db").close()
    (folder / "rung.db").chmod(0o644)
    assert rung(tmp_path, "sessions").returncode == 0
    assert mode(folder / "rung.db") == 0o600


def test_a_full_disk_is_reported_by_rung_ask(tmp_path: Path, servers) -> None:
    """The answer still arrives (exit 0), and the lost history is said, once."""
    api = servers(lambda r: openai_stream(["the answer"]))
    ask = ["ask", "--tier", "custom", "--base-url", api.url + "/v1", "--model", "m"]
    assert rung(tmp_path, *ask, "first").returncode == 0
    # Room for the files as they are, not for a long question: writes fail as on a full
    # disk (Python ignores SIGXFSZ, so the write returns EFBIG to SQLite).
    limit = max(40_000, (data(tmp_path) / "rung.db").stat().st_size)

    def no_room() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "rung", *ask, "word " * 8000],
        capture_output=True, text=True, timeout=120, env=subprocess_env(tmp_path),
        preexec_fn=no_room, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()  # the answer
    said = [line for line in result.stderr.splitlines() if "history" in line.lower()]
    assert said and ("disk is full" in said[0] or "disk I/O" in said[0]), result.stderr
    assert "Traceback" not in result.stderr


def test_a_newer_history_is_left_alone_and_said(tmp_path: Path) -> None:
    folder = data(tmp_path)
    folder.mkdir(parents=True)
    store = Store(folder / "rung.db")
    store.db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    store.close()
    result = rung(tmp_path, "ask", "--max-tokens", "2", "hi")
    assert result.returncode == 0, result.stderr
    assert "newer Rung" in result.stderr and "History is off" in result.stderr
    listing = rung(tmp_path, "sessions")
    assert listing.returncode == 1 and "newer Rung" in listing.stderr


def test_a_corrupt_history_gives_one_clear_line(tmp_path: Path) -> None:
    folder = data(tmp_path)
    folder.mkdir(parents=True)
    (folder / "rung.db").write_bytes(b"this is not a database at all " * 200)
    for args in (["--continue"], ["sessions"], ["cost"], ["export"], ["--resume", "3"]):
        result = rung(tmp_path, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert "damaged" in result.stderr or "not a database" in result.stderr, result.stderr
    asked = rung(tmp_path, "ask", "--max-tokens", "2", "hi")  # the chat still works
    assert asked.returncode == 0 and "History is off" in asked.stderr


def test_resume_of_a_missing_session_is_an_error(tmp_path: Path) -> None:
    assert rung(tmp_path, "ask", "--max-tokens", "2", "hi").returncode == 0
    result = rung(tmp_path, "--resume", "99")
    assert result.returncode == 1 and "no conversation #99" in result.stderr


def test_wrong_types_at_the_top_of_the_config_are_reported_not_fatal(tmp_path: Path) -> None:
    config = tmp_path / "config" / "rung"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        'providers = "oops"\nprices = 5\nkeymap = ["f2"]\n[ui]\nmax_tokens = 3\n'
    )
    result = rung(tmp_path, "ask", "hi")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for line, name in ((1, "[providers]"), (2, "[prices]"), (3, "[keymap]")):
        assert f"config.toml, line {line}: {name} must be a table" in result.stderr
