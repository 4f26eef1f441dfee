"""``[agent] commit = "turn"``: each finished agent turn that changed files is committed,
in a git project, with a one-line message a cheap rung writes.

What is committed is exactly the files the turn changed through the edits journal (a
command's side effects are not the agent's edits), as they are on disk, on top of
HEAD; nothing else. It never amends, never pushes, and never touches other staged or
unstaged changes: the commit is built on a private index (``GIT_INDEX_FILE``) with
git's plumbing (``write-tree``, ``commit-tree``, ``update-ref`` compare-and-swap), so
no hook runs (hooks are files that run code), and afterwards only the committed paths'
entries of the user's index are reset to the new HEAD.

It is skipped, with a word, when the project is not in a git repository, when a file
the turn changed had changes of the user's before the turn (staged, unstaged or
untracked: committing it would commit the user's work under the agent's message), or
when git cannot (no identity, a locked ref).

The message comes from the lowest healthy remote rung on the ladder (priced, recorded
as an aside: paid for, not part of the conversation read back), or, with none, offline
or failing, "rung: <the turn's tool lines>". It is untrusted text: one line, made safe,
bounded.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rung.engine.safe_text import one_line

GIT_TIMEOUT_S = 15.0
MESSAGE_TIMEOUT_S = 20.0
MESSAGE_CHARS = 72
MESSAGE_PROMPT = """\
Write the one-line git commit message (imperative mood, at most 72 characters, no
quotes, no trailing period) for these changes an agent made. Answer with the line only.

Files changed: {files}
What the agent did:
{lines}"""
ZERO = "0" * 40


@dataclass(frozen=True)
class Before:
    """The repository before the turn: its top-level directory, the project's prefix in
    it, and the paths (top-relative) that had changes of the user's. ``top`` None: the
    project is not in a git repository (``problem`` says why)."""

    top: Path | None
    prefix: str = ""
    dirty: frozenset[str] = frozenset()
    problem: str = ""


@dataclass(frozen=True)
class CommitOutcome:
    committed: bool
    message: str  # what to tell the user (one line)
    sha: str = ""
    subject: str = ""  # the commit's message


class GitError(Exception):
    pass


def _git(top: Path, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> str:
    """Run git (bounded); its stdout; GitError with its first stderr line on failure."""
    full = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LITERAL_PATHSPECS": "1",
            "LC_ALL": "C", **(env or {})}  # fmt: skip
    try:
        done = subprocess.run(
            ["git", *args], cwd=top, capture_output=True, text=True, input=stdin,
            timeout=GIT_TIMEOUT_S, env=full,
        )  # fmt: skip
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    except OSError as exc:  # git cannot be run here (permissions, resources)
        raise GitError(f"git cannot run: {exc}") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took over {GIT_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise GitError(one_line(lines[0] if lines else f"git {args[0]} failed", 200))
    return done.stdout


def before_turn(root: Path) -> Before:
    """What the repository holds before a turn (run on a thread: it runs git)."""
    try:
        top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
        prefix = _git(root, "rev-parse", "--show-prefix").strip()
        status = _git(top, "status", "--porcelain=v1", "-z", "--untracked-files=all",
                      env={"GIT_OPTIONAL_LOCKS": "0"})  # fmt: skip
    except GitError as exc:
        return Before(None, problem=str(exc))
    return Before(top, prefix, frozenset(_status_paths(status)))


def _status_paths(status: str) -> list[str]:
    """Paths in ``git status --porcelain -z`` (a rename's both names)."""
    paths: list[str] = []
    fields = status.split("\0")
    index = 0
    while index < len(fields):
        entry = fields[index]
        index += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":  # the rename's source follows
            if index < len(fields):
                paths.append(fields[index])
            index += 1
    return paths


def turn_files(journal: Any, turn: str | None) -> list[str]:
    """The files (project-relative) the turn changed through the journal, in order."""
    if journal is None or not turn:
        return []
    seen: dict[str, None] = {}
    for entry in reversed(journal.history()):  # oldest first
        if entry.turn == turn and not entry.undone and entry.pending is None:
            for path in entry.paths:
                seen[path] = None
    return list(seen)


# An escape sequence (CSI, OSC) and any other control character: dropped from a commit
# message, which `git log` prints to terminals as it is (shown as ␛ it would be noise).
_CONTROLS = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def clean_message(text: str) -> str:
    """A model's commit message as one safe, bounded line ("" when nothing is left)."""
    for line in _CONTROLS.sub("", text.replace("\r\n", "\n")).splitlines():
        line = one_line(line).strip().strip("`\"'*#>-• ").strip()
        line = re.sub(r"^(commit message|message|subject)\s*:\s*", "", line, flags=re.I)
        line = line.strip("`\"' ").rstrip(".")
        if line:
            return line[:MESSAGE_CHARS].rstrip()
    return ""


def fallback_message(summaries: Sequence[str], files: Sequence[str]) -> str:
    """``rung: <the turn's tool lines>``, bounded, for when no rung writes one."""
    said = "; ".join(one_line(s) for s in summaries if s.strip()) or ", ".join(files)
    text = f"rung: {said}"
    if len(text) > MESSAGE_CHARS:
        text = text[: MESSAGE_CHARS - 1].rstrip() + "…"
    return text


def message_rung(ladder: Any, session: Any) -> Any:
    """The lowest healthy remote rung on the ladder the budget allows, or None."""
    for name in ladder.names:
        try:
            tier = ladder.tier(name)
        except ValueError:
            continue
        if tier.kind == "local" or ladder.key_problem(name) or tier.unusable_reason:
            continue
        if session.allows(tier).blocks_paid:
            continue
        return tier
    return None


async def write_message(
    ladder: Any, session: Any, summaries: Sequence[str], files: Sequence[str]
) -> str:
    """The commit message: a cheap rung's line, or the fallback (no rung, offline, a
    failed or empty reply, a timeout)."""
    from rung.tiers.base import ChatRequest, Message
    from rung.tiers.turn import Turn

    fallback = fallback_message(summaries, files)
    tier = message_rung(ladder, session)
    if tier is None:
        return fallback
    lines = "\n".join(f"- {one_line(s, 200)}" for s in list(summaries)[:30])
    prompt = MESSAGE_PROMPT.format(files=", ".join(files)[:2000], lines=lines or "- (edits)")
    request = ChatRequest(messages=(Message("user", prompt),), max_tokens=60)
    handle = session.begin_reply(tier, "commit message", aside=True)
    turn = Turn(tier, request, [])
    try:
        reply = await asyncio.wait_for(turn.run(), MESSAGE_TIMEOUT_S)
    except Exception:  # a timeout, a broken rung: the message is a nicety, the
        session.keep_interrupted(tier, handle, turn)  # fallback stands in; what arrived
        return fallback  # is priced and kept
    record = session.price(tier, reply)
    error = reply.failed.message if reply.failed else None
    session.finish_reply(handle, reply.text, record, error)
    if reply.failed is not None:
        return fallback
    return clean_message(reply.text) or fallback


def commit_files(before: Before, files: Sequence[str], message: str) -> CommitOutcome:
    """Commit ``files`` (project-relative) as they are on disk, alone, on top of HEAD
    (run on a thread: it runs git)."""
    if before.top is None:
        return CommitOutcome(False, f"Not committed: not a git repository ({before.problem}).")
    top = before.top
    paths = [f"{before.prefix}{f}" for f in files]
    mixed = [p for p in paths if p in before.dirty]
    if mixed:
        return CommitOutcome(False, f"Not committed: {', '.join(mixed[:3])} had changes of "
                                    "yours before the turn.")  # fmt: skip
    subject = clean_message(message) or fallback_message([], files)
    try:
        paths = _not_ignored(top, paths)
        if not paths:
            return CommitOutcome(False, "Not committed: the files are ignored by git.")
        head = _head(top)
        with tempfile.TemporaryDirectory(prefix="rung-commit-") as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            _git(top, "read-tree", *([head] if head else ["--empty"]), env=env)
            # A file the turn made and then deleted is in neither: nothing to add.
            tracked = set(_git(top, "ls-files", "-z", "--", *paths, env=env).split("\0"))
            present = [p for p in paths if p in tracked or (top / p).exists()]
            if present:
                _git(top, "add", "-A", "--", *present, env=env)
            tree = _git(top, "write-tree", env=env).strip()
        if head and tree == _git(top, "rev-parse", f"{head}^{{tree}}").strip():
            return CommitOutcome(False, "Not committed: the turn left no change.")
        parents = ["-p", head] if head else []
        sha = _git(top, "commit-tree", tree, *parents, "-F", "-", stdin=subject + "\n").strip()
        _git(top, "update-ref", "-m", "rung: agent turn", "HEAD", sha, head or ZERO)
        _git(top, "reset", "-q", "--", *paths)  # the user's index agrees with the commit
    except GitError as exc:
        return CommitOutcome(False, f"Not committed: {exc}")
    return CommitOutcome(True, f"Committed {sha[:8]}: {subject}", sha, subject)


def _head(top: Path) -> str:
    try:
        return _git(top, "rev-parse", "--verify", "-q", "HEAD").strip()
    except GitError:
        return ""  # a repository without a commit yet


def _not_ignored(top: Path, paths: list[str]) -> list[str]:
    try:
        out = _git(top, "check-ignore", "-z", "--stdin", stdin="\0".join(paths) + "\0")
    except GitError:
        return paths  # exit 1: none is ignored
    ignored = set(out.split("\0"))
    return [p for p in paths if p not in ignored]


async def commit_turn(
    before: Before, journal: Any, turn: str | None, summaries: Sequence[str],
    ladder: Any, session: Any,
) -> CommitOutcome | None:  # fmt: skip
    """After a finished turn: commit what it changed; None when it changed no file.
    Never raises: the turn is done either way, and what went wrong is said."""
    try:
        files = turn_files(journal, turn)
        if not files:
            return None
        if before.top is None:
            return CommitOutcome(False, f"Not committed: not a git repository ({before.problem}).")
        message = await write_message(ladder, session, summaries, files)
        return await asyncio.to_thread(commit_files, before, files, message)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the journal unreadable, anything unexpected
        return CommitOutcome(False, f"Not committed: {one_line(str(exc), 200)}")
