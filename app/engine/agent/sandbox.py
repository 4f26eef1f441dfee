"""Running a shell command for the agent: under bubblewrap where it works, in its own
process group, with a timeout and an output bound; cancelling kills the whole group.

Under the sandbox the whole file system is read-only but the project (``--tmpfs /tmp``
gives a private, empty ``/tmp``), the network is off unless allowed, the command cannot
inject keystrokes into the terminal (``--new-session``) and lives in its own PID
namespace, so when it ends or is killed every process it started dies with it. The
project's ``.git/hooks`` and ``.git/config`` stay read-only too: either could make the
user's next ``git`` run code. Whether bubblewrap works is found once, with a real
``bwrap ... true``; where it does not, ``probe`` says why, the agent reports "commands
not sandboxed" and every command is asked.

Provider keys in the environment (``*_API_KEY``) are not passed to commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rung.engine.agent.capture import HeadTail

PROBE_TIMEOUT = 10.0
KILL_GRACE = 1.0  # seconds between SIGTERM and SIGKILL
READ_CHUNK = 64 * 1024
_KEY_VARIABLE = re.compile(r"(?i)(_API_KEY|_APIKEY)$|^RUNG_.*KEY")


@dataclass(frozen=True)
class Sandbox:
    """bubblewrap, checked to work here."""

    bwrap: str

    def wrap(self, argv: list[str], project: Path, network: bool = False) -> list[str]:
        wrapped = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                   "--tmpfs", "/tmp"]  # fmt: skip
        for kept in tools_under_tmp(project):
            wrapped += ["--ro-bind", kept, kept]
        wrapped += ["--bind", str(project), str(project)]
        git = project / ".git"
        for protected in (git / "hooks", git / "config"):
            if protected.exists() and not protected.is_symlink():
                wrapped += ["--ro-bind", str(protected), str(protected)]
        if not network:
            wrapped.append("--unshare-net")
        wrapped += ["--unshare-pid", "--die-with-parent", "--new-session", "--chdir",
                    str(project), "--", *argv]  # fmt: skip
        return wrapped


def tools_under_tmp(project: Path) -> list[str]:
    """Folders under /tmp that commands need to stay visible (read-only) although the
    sandbox's /tmp is private: the Python environment Rung runs from and the PATH entries
    there (a virtual environment or a checkout in /tmp, as on some CI machines), unless
    they are inside the project, which is bound whole."""
    tmp, project = Path("/tmp").resolve(), project.resolve()
    found: list[str] = []
    for entry in (sys.prefix, *os.environ.get("PATH", "").split(os.pathsep)):
        if not entry:
            continue
        path = Path(entry).resolve()
        if (
            path.is_dir()
            and path.is_relative_to(tmp)
            and path != tmp
            and not path.is_relative_to(project)
            and str(path) not in found
        ):
            found.append(str(path))
    return found


@dataclass(frozen=True)
class Probe:
    sandbox: Sandbox | None
    reason: str  # why not, when sandbox is None; "" otherwise

    @property
    def status(self) -> str:
        """What the status line shows."""
        return "commands sandboxed" if self.sandbox else "commands not sandboxed"


_probed: Probe | None = None


def probe(refresh: bool = False) -> Probe:
    """Whether bubblewrap works here (a real ``bwrap ... true``), found once per process."""
    global _probed
    if _probed is not None and not refresh:
        return _probed
    _probed = _probe()
    return _probed


def _probe() -> Probe:
    if os.environ.get("RUNG_NO_SANDBOX"):
        return Probe(None, "RUNG_NO_SANDBOX is set")
    found = shutil.which("bwrap")
    if found is None:
        return Probe(None, "bubblewrap (bwrap) is not installed")
    candidate = Sandbox(found)
    try:
        with tempfile.TemporaryDirectory(prefix="rung-probe-") as here:
            argv = candidate.wrap(["true"], Path(here).resolve())
            done = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(None, f"bubblewrap does not start ({exc})")
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return Probe(None, f"bubblewrap cannot run here: {said[-1] if said else 'no reason'}")
    return Probe(candidate, "")


@dataclass(frozen=True)
class Finished:
    exit_code: int | None  # None: killed (timeout or cancel)
    output: str  # stdout and stderr as they interleaved, head and tail kept
    total_bytes: int
    timed_out: bool
    seconds: float
    sandboxed: bool


# Under the sandbox the home directory is read-only: caches go to the private /tmp, so
# pip, uv, npm and pre-commit still work (and nothing of theirs outlives the command).
SANDBOX_CACHES = {
    "XDG_CACHE_HOME": "/tmp/.cache",
    "npm_config_cache": "/tmp/.cache/npm",
    "PRE_COMMIT_HOME": "/tmp/.cache/pre-commit",
}


def command_env(sandboxed: bool = False) -> dict[str, str]:
    """The environment for a command: Rung's own, without provider keys."""
    env = {k: v for k, v in os.environ.items() if not _KEY_VARIABLE.search(k)}
    if sandboxed:
        env.update(SANDBOX_CACHES)
    return env


def shell_argv(command: str) -> list[str]:
    shell = shutil.which("bash") or "/bin/sh"
    return [shell, "-c", command]


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def run_command(
    command: str,
    project: Path,
    *,
    timeout: float,
    cap: int,
    sandbox: Sandbox | None,
    network: bool = False,
) -> Finished:
    """Run ``command`` with ``bash -c`` in ``project``; output bounded to ``cap`` bytes.

    On timeout or cancellation the process group gets SIGTERM, then SIGKILL after
    ``KILL_GRACE``; a cancelled call re-raises ``CancelledError`` after the kill."""
    argv = shell_argv(command)
    if sandbox is not None:
        argv = sandbox.wrap(argv, project, network=network)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=project,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, away from the terminal
        env=command_env(sandboxed=sandbox is not None),
    )
    kept = HeadTail(cap)

    async def read_all() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(READ_CHUNK):
            kept.feed(chunk)

    async def stop() -> None:
        _kill_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), KILL_GRACE)
        _kill_group(process.pid, signal.SIGKILL)  # also children that ignored SIGTERM
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), KILL_GRACE)

    reader = asyncio.ensure_future(read_all())
    timed_out = False
    try:
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            timed_out = True
            await stop()
        # Whatever the command left running in its group (`server &`) ends with it, so
        # the pipe closes; a short wait for the last output.
        _kill_group(process.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), KILL_GRACE)
    except asyncio.CancelledError:
        await asyncio.shield(stop())
        raise
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
    return Finished(
        None if timed_out else process.returncode,
        kept.text(),
        kept.total,
        timed_out,
        time.monotonic() - started,
        sandbox is not None,
    )
