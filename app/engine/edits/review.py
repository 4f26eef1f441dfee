"""One reply's edits as something to review: per file, the current text, the proposed
text and the hunks between them, each accepted or rejected.

The proposal remembers the exact bytes each file had when it was made. "Changed on
disk since the proposal" means those bytes differ from the bytes now (or the file
appeared or disappeared); a timestamp is never trusted, and any byte counts, since a
review of old text must not be written over new text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rung.engine.edits.errors import EditError, NotTextError, UnsafePathError
from rung.engine.edits.gitdiff import file_diff
from rung.engine.edits.hunks import Hunk, combine, compute_hunks
from rung.engine.edits.match import Replaced, replace_once
from rung.engine.edits.parse import Edit, parse_reply
from rung.engine.edits.paths import normalize, read_current, real_root, resolve_inside
from rung.engine.edits.policy import (
    Allowance,
    Verdict,
    attached_files,
    classify,
    headless_refusal,
)
from rung.engine.edits.textio import BOM, decode, encode


@dataclass
class FileProposal:
    path: str  # relative to the root, normalized ("app/x.py")
    base: bytes | None  # the bytes on disk when the proposal was made; None: no such file
    current_text: str  # ``base`` decoded ("" for a new file), without a BOM
    proposed_text: str  # every matched edit applied
    hunks: list[Hunk]
    edits: tuple[Edit, ...]  # the edits that matched and are part of ``proposed_text``
    problems: list[str] = field(default_factory=list)  # edits that could not be used, and why
    bom: bool = False
    # What edits.policy says of this file: attached by the user, runs code by itself.
    verdict: Verdict | None = None
    # The user's explicit yes for this file (needed when it runs code by itself):
    # accepting its hunks is not enough.
    confirmed: bool = False
    _empty_accepted: bool = field(default=True, repr=False)  # creating an empty file

    @property
    def attached(self) -> bool:
        return self.verdict is not None and self.verdict.attached

    @property
    def runs_code(self) -> str | None:
        """Why writing this file could run code by itself (None: it could not)."""
        return self.verdict.runs_code if self.verdict else None

    @property
    def needs_yes(self) -> bool:
        """Accepted, but it runs code and the user has not said yes to this file."""
        return self.runs_code is not None and not self.confirmed and self.accepted

    @property
    def is_new(self) -> bool:
        return self.base is None

    @property
    def creates(self) -> bool:
        """An edit creates this file (it did not exist)."""
        return self.base is None and bool(self.edits)

    @property
    def accepted(self) -> bool:
        """Something of this file is accepted."""
        if self.hunks:
            return any(hunk.accepted for hunk in self.hunks)
        return self.creates and self._empty_accepted

    def accept(self) -> None:
        self._set(True)

    def reject(self) -> None:
        self._set(False)

    def _set(self, accepted: bool) -> None:
        for hunk in self.hunks:
            hunk.accepted = accepted
        self._empty_accepted = accepted

    def result_text(self) -> str:
        """The current text with only the accepted hunks applied."""
        return combine(self.current_text, self.proposed_text, self.hunks)

    def result_bytes(self) -> bytes:
        return encode(self.result_text(), self.bom)

    @property
    def will_write(self) -> bool:
        """Applying would write this file: a new file accepted, or accepted changes (and,
        for a file that runs code, the user's yes to it)."""
        if self.runs_code is not None and not self.confirmed:
            return False
        if self.base is None:
            return self.accepted
        return self.accepted and self.result_bytes() != self.base


@dataclass(frozen=True)
class DiskState:
    changed: bool  # differs from the bytes the proposal was made against
    exists: bool
    text: str | None  # what is there now, for a UI to show; None if absent or not text
    problem: str | None = None  # why it cannot be compared or shown


@dataclass(frozen=True)
class Refused:
    """A file the reply wants to change that edits.policy keeps it from."""

    path: str
    reason: str  # "it is in an .ssh directory (keys and logins)"
    edits: int  # how many of the reply's edits were for it

    def describe(self) -> str:
        count = f"{self.edits} edit{'' if self.edits == 1 else 's'}"
        return f"{self.path}: refused, {self.reason} ({count} not used)"


@dataclass
class Proposal:
    root: Path
    files: list[FileProposal]
    # Problems not tied to one file that could be read: malformed blocks, unreadable files.
    problems: list[str] = field(default_factory=list)
    # Files the reply may not change at all (edits.policy, unsafe names and paths).
    refused: list[Refused] = field(default_factory=list)
    # What Rung decided for the reader, e.g. which file a bare name was taken to mean.
    notes: list[str] = field(default_factory=list)

    def file(self, path: str) -> FileProposal:
        name = normalize(path)
        for proposed in self.files:
            if proposed.path == name:
                return proposed
        raise KeyError(f"{name} is not part of this proposal")

    def result_text(self, path: str) -> str:
        return self.file(path).result_text()

    def accept_all(self) -> None:
        for proposed in self.files:
            proposed.accept()

    def reject_all(self) -> None:
        for proposed in self.files:
            proposed.reject()

    def limit(self, allowance: Allowance) -> list[Refused]:
        """Keep only what `rung ask --apply`/`--diff` may write without asking: attached
        files, and others as ``allowance`` allows; a file that runs code only when an
        ``--allow-path`` names it (that is its yes). Returns the files left out."""
        kept: list[FileProposal] = []
        left_out: list[Refused] = []
        for f in self.files:
            verdict = f.verdict or Verdict(f.path)
            reason = headless_refusal(verdict, not f.is_new, allowance)
            if reason is not None:
                # Its unusable blocks do not matter any more: it is left out anyway.
                left_out.append(Refused(f.path, reason, len(f.edits) + len(f.problems)))
                continue
            f.confirmed = f.confirmed or f.runs_code is not None
            kept.append(f)
        self.files = kept
        self.refused.extend(left_out)
        return left_out

    @property
    def all_problems(self) -> list[str]:
        return self.problems + [problem for f in self.files for problem in f.problems]

    @property
    def to_write(self) -> list[FileProposal]:
        return [proposed for proposed in self.files if proposed.will_write]

    def summary(self) -> str:
        """``"3 hunks in 2 files (1 rejected)"``, for a header above the review."""
        hunks = [hunk for proposed in self.files for hunk in proposed.hunks]
        files = sum(1 for proposed in self.files if proposed.hunks or proposed.creates)
        rejected = sum(1 for hunk in hunks if not hunk.accepted)
        text = (
            f"{len(hunks)} hunk{'' if len(hunks) == 1 else 's'} in "
            f"{files} file{'' if files == 1 else 's'}"
        )
        return text + (f" ({rejected} rejected)" if rejected else "")

    def disk_state(self, path: str) -> DiskState:
        """How ``path`` is on disk now, against the bytes the proposal was made from."""
        proposed = self.file(path)
        try:
            raw = read_current(resolve_inside(self.root, proposed.path), proposed.path)
        except EditError as exc:
            return DiskState(True, True, None, str(exc))
        if raw is None:
            return DiskState(proposed.base is not None, False, None)
        changed = raw != proposed.base
        try:
            text = decode(raw, proposed.path).text
        except NotTextError as exc:
            return DiskState(changed, True, None, str(exc))
        return DiskState(changed, True, text)

    def changed_on_disk(self) -> list[str]:
        """The files whose bytes on disk are no longer those the proposal was made from."""
        return [f.path for f in self.files if f.edits and self.disk_state(f.path).changed]

    def as_unified_diff(self) -> str:
        """The accepted changes as one diff that ``git apply`` accepts at the root."""
        parts: list[str] = []
        for f in self.to_write:
            bom = BOM if f.bom else ""  # the BOM is part of line 1 for git
            old = None if f.base is None else bom + f.current_text
            parts.append(file_diff(f.path, old, bom + f.result_text()))
        return "".join(parts)


def _source(edit: Edit) -> str:
    kind = "diff hunk" if edit.origin == "unified-diff" else "block"
    return f"The {kind} at reply line {edit.line}"


def _what(edit: Edit) -> str:
    """The subject of a matching problem."""
    if edit.origin == "unified-diff":
        return _source(edit)
    return f"The SEARCH text of the block at reply line {edit.line}"


def _propose_file(
    real: Path, name: str, edits: Sequence[Edit], verdict: Verdict
) -> FileProposal | str:
    """The file's proposal, or why none can be made for it."""
    try:
        raw = read_current(real, name)
        decoded = decode(raw, name) if raw is not None else None
    except EditError as exc:
        count = len(edits)
        return f"{exc}; {count} edit{'' if count == 1 else 's'} to it not used."
    text = decoded.text if decoded else ""
    applied: list[Edit] = []
    problems: list[str] = []
    for edit in edits:
        what = _what(edit)
        try:
            edit.replace.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(f"{what} has text that cannot be written as UTF-8; not used.")
            continue
        if not edit.search.strip():
            if text.strip():
                problems.append(
                    f"{what} is empty, but {name} already has content; nothing was changed "
                    "for it (an empty SEARCH only creates a new file)."
                )
            else:
                text = edit.replace
                applied.append(edit)
            continue
        if raw is None and not applied:
            problems.append(
                f"{name} does not exist, so {what[0].lower() + what[1:]} cannot match "
                "(an empty SEARCH creates a new file)."
            )
            continue
        found = replace_once(text, edit.search, edit.replace)
        if isinstance(found, Replaced):
            text = found.text
            applied.append(edit)
        else:
            problems.append(found.describe(name, what))
    current = decoded.text if decoded else ""
    return FileProposal(
        path=name,
        base=raw,
        current_text=current,
        proposed_text=text,
        hunks=compute_hunks(current, text) if applied else [],
        edits=tuple(applied),
        problems=problems,
        bom=decoded.bom if decoded else False,
        verdict=verdict,
    )


Listing = Callable[[], Iterable[str]]


def _same_name(
    name: str, top: Path, attached: frozenset[Path], listing: Listing | None
) -> tuple[str, str] | None:
    """A bare name (``file3.py``) that is not in the root, but is the base name of exactly
    one attached file or, failing that, one project file: (that file, where found)."""
    if "/" in name or (top / name).exists():
        return None
    mine = sorted(
        {p.relative_to(top).as_posix() for p in attached if p.name == name and top in p.parents}
    )
    if len(mine) == 1:
        return mine[0], "attached"
    if mine or listing is None:
        return None
    found = sorted({f for f in listing() if PurePosixPath(f).name == name})
    return (found[0], "in the project") if len(found) == 1 else None


def build_proposal(
    root: Path,
    edits: Sequence[Edit],
    problems: Sequence[str] = (),
    attached: Sequence[str] = (),
    listing: Listing | None = None,
) -> Proposal:
    """Match ``edits`` to the files under ``root``. Edits to one file apply in order, each
    to the text the previous ones left; one that does not match is reported, not fatal.

    ``attached``: the files the user attached, as named (relative to ``root``); they
    decide what edits.policy allows. ``listing``: the project's files, to find the one
    a bare base name means. A file the policy refuses is in ``Proposal.refused``.
    """
    notes = list(problems)
    proposal = Proposal(root, [], notes)
    try:
        top = real_root(root)
    except EditError as exc:
        notes.append(f"No edit can be used: {exc}.")
        return proposal
    chosen = attached_files(attached, top)
    grouped: dict[str, list[Edit]] = {}
    for edit in edits:
        try:
            name = normalize(edit.path)
        except UnsafePathError as exc:
            proposal.refused.append(Refused(ascii_safe(edit.path), _reason(exc), 1))
            continue
        except EditError as exc:
            notes.append(f"{_source(edit)} is not used: {exc}.")
            continue
        if any(e.search.strip() for e in [edit, *grouped.get(name, [])]):
            same = _same_name(name, top, chosen, listing)
            if same is not None:
                meant, where = same
                note = f"{name} was taken to mean {meant}, the only file of that name {where}."
                if note not in proposal.notes:
                    proposal.notes.append(note)
                name = meant
        grouped.setdefault(name, []).append(edit)
    for name, group in grouped.items():
        try:
            real = resolve_inside(top, name)
        except UnsafePathError as exc:
            proposal.refused.append(Refused(name, _reason(exc), len(group)))
            continue
        except EditError as exc:
            count = f"{len(group)} edit{'' if len(group) == 1 else 's'}"
            notes.append(f"{exc}; {count} to it not used.")
            continue
        verdict = classify(name, real, top, chosen)
        if verdict.refused:
            proposal.refused.append(Refused(name, verdict.refused, len(group)))
            continue
        made = _propose_file(real, name, group, verdict)
        if isinstance(made, str):
            notes.append(made)
        else:
            proposal.files.append(made)
    return proposal


def _reason(exc: EditError) -> str:
    """``"app/x: '..' is refused"`` → ``"'..' is refused"``: Refused names the file itself."""
    text = str(exc).removesuffix("; refused")
    head, sep, tail = text.partition(": ")
    return tail if sep and " " not in head.strip("'") else text


def ascii_safe(name: str) -> str:
    """A name from a reply as it may be shown even when it is refused for its characters."""
    return ascii(name)[1:-1] if not name.isprintable() else name


def propose(root: Path, reply: str, attached: Sequence[str] = ()) -> Proposal:
    """Parse a finished reply and match its edits to the files under ``root``."""
    parsed = parse_reply(reply, attached=attached)
    problems = [problem.message for problem in parsed.problems]
    return build_proposal(root, parsed.edits, problems, attached)
