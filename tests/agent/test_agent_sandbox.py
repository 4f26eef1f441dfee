"""Commands under the real bubblewrap (and without it): the network is off, only the
project is writable, a timeout or a cancel kills every process, output is bounded,
sanitised and masked before the model sees it."""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
from pathlib import Path

import pytest

from rung.engine.agent import Answer
from rung.engine.agent.sandbox import probe, run_command
from tests.agent.helpers import Asker, dispatcher, git_project

SANDBOX = probe().sandbox
needs_bwrap = pytest.mark.skipif(SANDBOX is None, reason=f"no sandbox here: {probe().reason}")
BOTH = pytest.mark.parametrize("sandboxed", [
    pytest.param(True, marks=needs_bwrap, id="bwrap"), pytest.param(False, id="no-sandbox"),
])  # fmt: skip
HEARTBEAT = "(trap '' TERM; while true; do date +%s%N > beat; sleep 0.05; done) & wait"


def _listener() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    return server


def _connect(port: int) -> str:
    return (f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), "
            "timeout=3); print('CONNECTED')\"")  # fmt: skip


@needs_bwrap
async def test_the_network_is_off_in_the_sandbox_and_on_without_it(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    server = _listener()
    try:
        port = server.getsockname()[1]
        boxed = await run_command(_connect(port), root, timeout=20, cap=65536, sandbox=SANDBOX)
        assert boxed.exit_code != 0 and "CONNECTED" not in boxed.output
        allowed = await run_command(_connect(port), root, timeout=20, cap=65536,
                                    sandbox=SANDBOX, network=True)  # fmt: skip
        assert "CONNECTED" in allowed.output
    finally:
        server.close()


@needs_bwrap
async def test_only_the_project_is_writable_in_the_sandbox(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    (root / ".git" / "hooks").mkdir(exist_ok=True)
    home_probe = Path.home() / "rung-sandbox-probe"
    command = (f"touch inside.txt; touch {tmp_path}/outside.txt; touch {home_probe}; "
               "echo x > .git/hooks/pre-commit; echo done")  # fmt: skip
    try:
        done = await run_command(command, root, timeout=20, cap=65536, sandbox=SANDBOX)
        assert (root / "inside.txt").exists()
        assert not (tmp_path / "outside.txt").exists()
        assert not home_probe.exists()
        assert not (root / ".git" / "hooks" / "pre-commit").exists()
        assert "done" in done.output
    finally:
        home_probe.unlink(missing_ok=True)


@needs_bwrap
async def test_tools_installed_under_tmp_still_run_in_the_private_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox's /tmp is private; a virtual environment or checkout under /tmp (as on
    some CI machines) stays visible read-only, or every command from it was "not found"."""
    assert tmp_path.resolve().is_relative_to(Path("/tmp").resolve())  # pytest's own tmp
    tools = tmp_path / "env" / "bin"
    tools.mkdir(parents=True)
    (tools / "mytool").write_text("#!/bin/sh\necho tool-ran\n")
    (tools / "mytool").chmod(0o755)
    (tmp_path / "env" / "secret.txt").write_text("x")
    monkeypatch.setenv("PATH", f"{tools}:{Path('/usr/bin')}:{Path('/bin')}")
    root = git_project(tmp_path)
    done = await run_command(f"mytool; {tools}/mytool; touch {tools}/new; ls /tmp", root,
                             timeout=20, cap=65536, sandbox=SANDBOX)  # fmt: skip
    assert done.output.count("tool-ran") == 2, done.output
    assert not (tools / "new").exists()  # visible, not writable


def _beating(path: Path) -> bool:
    if not path.exists():
        return False
    before = path.read_text()
    time.sleep(0.4)
    return path.read_text() != before


@BOTH
async def test_a_timeout_kills_the_group_even_a_child_ignoring_sigterm(
    tmp_path: Path, sandboxed: bool
) -> None:
    root = git_project(tmp_path)
    started = time.monotonic()
    agent = dispatcher(root, sandbox=SANDBOX if sandboxed else None, ask=Asker(Answer.ONCE),
                       max_run_timeout=2.0)  # fmt: skip
    result = await agent.call("run", {"command": HEARTBEAT, "timeout": 3600})
    took = time.monotonic() - started
    assert result.summary.endswith("→ timed out") and result.is_error
    assert "timed out after 2 s (the 3600 s asked for is above the limit)" in result.text
    assert took < 8
    assert (root / "beat").exists()
    assert not _beating(root / "beat")


@BOTH
async def test_cancelling_a_call_kills_the_running_command(tmp_path: Path, sandboxed: bool) -> None:
    root = git_project(tmp_path)
    agent = dispatcher(root, sandbox=SANDBOX if sandboxed else None, ask=Asker(Answer.ONCE))
    task = asyncio.ensure_future(agent.call("run", {"command": HEARTBEAT}))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if (root / "beat").exists():
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _beating(root / "beat")


@BOTH
async def test_fifty_megabytes_of_output_keep_head_and_tail_in_bounded_memory(
    tmp_path: Path, sandboxed: bool
) -> None:
    root = git_project(tmp_path)
    command = "echo START; head -c 52428800 /dev/zero | tr '\\0' x; echo; echo END"
    agent = dispatcher(root, sandbox=SANDBOX if sandboxed else None, ask=Asker(Answer.ONCE))
    tracemalloc.start()
    try:
        result = await agent.call("run", {"command": command})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak
    assert result.text.startswith("[exit code 0; 52428811 bytes of output]\nSTART")
    assert result.text.rstrip().endswith("END")
    assert "bytes cut" in result.text
    assert len(result.text) < 70 * 1024


@BOTH
async def test_escape_sequences_and_keys_in_output_never_reach_the_model(
    tmp_path: Path, sandboxed: bool
) -> None:
    root = git_project(tmp_path)
    key = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zB9" * 2
    command = f"printf '\\033]52;c;ZXZpbA==\\007\\033[2Jtitle\\n'; echo OPENAI_API_KEY={key}"
    agent = dispatcher(root, sandbox=SANDBOX if sandboxed else None, ask=Asker(Answer.ONCE))
    result = await agent.call("run", {"command": command})
    assert "\x1b" not in result.text and "\x07" not in result.text
    assert "␛]52" in result.text  # made visible, not silently dropped
    assert key not in result.text and key[-4:] in result.text


async def test_provider_keys_are_not_in_a_commands_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = git_project(tmp_path)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + "x" * 40)
    done = await run_command("env", root, timeout=20, cap=1 << 20, sandbox=SANDBOX)
    assert "ANTHROPIC_API_KEY" not in done.output


async def test_without_a_sandbox_the_status_says_so_and_every_command_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNG_NO_SANDBOX", "1")
    found = probe(refresh=True)
    try:
        assert found.sandbox is None and found.status == "commands not sandboxed"
        root = git_project(tmp_path)
        asker = Asker(Answer.ONCE)
        agent = dispatcher(root, sandbox=None, allow=("run:git status",), ask=asker)
        result = await agent.call("run", {"command": "git status"})
        assert "exit 0" in result.summary
        assert asker.asked and "not sandboxed" in asker.asked[0].reason
        assert asker.asked[0].detail == "git status"
    finally:
        monkeypatch.delenv("RUNG_NO_SANDBOX")
        probe(refresh=True)


@needs_bwrap
async def test_caches_go_to_the_private_tmp_in_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = git_project(tmp_path)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)  # pip would use ~/.cache
    real = Path.home() / ".cache" / "rung-sandbox-cache-probe"
    command = 'mkdir -p "${XDG_CACHE_HOME:-$HOME/.cache}/rung-sandbox-cache-probe" && echo made'
    try:
        done = await run_command(command, root, timeout=20, cap=65536, sandbox=SANDBOX)
        assert done.exit_code == 0 and "made" in done.output, done.output
        assert not real.exists()  # written to the sandbox's private /tmp, not the home
    finally:
        if real.exists():
            real.rmdir()
