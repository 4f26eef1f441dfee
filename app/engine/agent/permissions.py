"""Who decides whether a tool call runs: the mode, the rules, and the user.

Modes:

- ``ask`` (the default): reads inside the project run freely; an edit or a command runs
  when an allow rule covers it, else the user is asked;
- ``accept-edits``: edits of ordinary project files run too; commands as in ``ask``;
- ``plan``: read-only; edits and commands are denied (the model proposes a plan);
- ``auto``: for unattended runs: rules decide; a call no rule covers is asked where
  someone can answer, else denied (as in every mode without a terminal).

Rules are ``KIND:PATTERN`` with KIND ``read``, ``edit``, ``run`` or ``mcp``:
``run:git status`` (that command exactly), ``run:pytest *`` (``pytest`` with any
arguments), ``edit:src/**``, ``read:secrets/**``, ``mcp:github/*`` (every tool of the MCP
server ``github``; an MCP call no rule allows is asked, and plan mode runs only tools the
server marks read-only, asked too: the mark is the server's word). They come from the
config (``[permissions] allow``/``deny``), from
the command line, and from "always allow" answers, saved per project in a 0600 file in
Rung's data directory (never in the project, which the model can write). A deny rule
beats any allow rule. A command is judged simple command by simple command
(``shellsplit``): every part must be allowed, any denied part denies the whole line, and
a line that cannot be read with confidence is asked.

Never by a rule, only by a yes for that one call: a file that runs code by itself
(``edits.policy``), anything in ``.git``, and every command when commands are not
sandboxed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rung.engine.agent.base import Need, Plan
from rung.engine.agent.files import glob_regex
from rung.engine.agent.shellsplit import Part, split_command


class Mode(StrEnum):
    ASK = "ask"
    ACCEPT_EDITS = "accept-edits"
    PLAN = "plan"
    AUTO = "auto"


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    ASK = "ask"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str  # why: shown when asking, told to the model when denied
    # What "always allow" would save (empty: only a yes for this call is possible).
    always: tuple[str, ...] = ()


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    kind: Need
    pattern: str

    @classmethod
    def parse(cls, text: str) -> Rule:
        """``run:git status`` → Rule(RUN, "git status"). Raises ``RuleError``."""
        kind, sep, pattern = text.partition(":")
        pattern = " ".join(pattern.split()) if kind.strip() == "run" else pattern.strip()
        try:
            need = Need(kind.strip().lower())
        except ValueError:
            need = None
        if not sep or need is None or not pattern:
            raise RuleError(
                f"{text!r} is not a rule; write KIND:PATTERN with KIND read, edit, run or "
                "mcp (run:git status, run:pytest *, edit:src/**, mcp:github/*)"
            )
        return cls(need, pattern)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.pattern}"

    def matches_path(self, relative: str) -> bool:
        pattern = self.pattern.removeprefix("./")
        if pattern.endswith("/"):
            pattern += "**"
        return relative == pattern or bool(glob_regex(pattern).match(relative))

    def matches_part(self, part: Part) -> bool:
        text = part.text
        if self.pattern.endswith(" *"):
            prefix = self.pattern[:-2]
            return text == prefix or text.startswith(prefix + " ")
        if part.dynamic and "*" not in self.pattern:
            return False  # its arguments are not known: only a rule allowing any may
        return fnmatch.fnmatchcase(text, self.pattern)


def parse_rules(texts: Iterable[str]) -> tuple[list[Rule], list[str]]:
    """The rules, and a message for each that is not one."""
    rules: list[Rule] = []
    problems: list[str] = []
    for text in texts:
        try:
            rules.append(Rule.parse(text))
        except RuleError as exc:
            problems.append(str(exc))
    return rules, problems


class SavedRules:
    """ "Always allow" answers, per project, in ``<data dir>/agent_allow.json`` (0600)."""

    def __init__(self, data_dir: Path, root: Path) -> None:
        self.path = Path(data_dir) / "agent_allow.json"
        self.key = str(Path(root).resolve())

    def _all(self, strict: bool = False) -> dict[str, list[str]]:
        """Every project's rules; ``strict``: a damaged file raises ``ValueError`` (so
        saving never overwrites the other projects' rules)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            if strict:
                raise ValueError(f"{self.path} cannot be read ({exc}); move it away") from exc
            return {}
        if not isinstance(data, dict):
            if strict:
                raise ValueError(f"{self.path} is not a table of projects; move it away")
            return {}
        return data

    def load(self) -> list[Rule]:
        texts = self._all().get(self.key, [])
        rules, _ = parse_rules(t for t in texts if isinstance(t, str))
        return rules

    def add(self, texts: Sequence[str]) -> None:
        from rung.engine.edits.writes import write_atomic

        data = self._all(strict=True)
        kept = [t for t in data.get(self.key, []) if isinstance(t, str)]
        data[self.key] = kept + [t for t in texts if t not in kept]
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        raw = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
        write_atomic(self.path, raw, None, private=True)
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)


@dataclass
class Permissions:
    mode: Mode = Mode.ASK
    allow: Sequence[Rule] = ()
    deny: Sequence[Rule] = ()
    saved: SavedRules | None = None
    sandboxed: bool = True  # commands run under a working sandbox

    def __post_init__(self) -> None:
        self._saved_rules: list[Rule] = self.saved.load() if self.saved else []

    def remember(self, texts: Sequence[str]) -> str | None:
        """Use "always allow" rules from now on and save them for this project; what went
        wrong saving them (they still hold for this session), or None."""
        rules, _ = parse_rules(texts)
        self._saved_rules.extend(rules)
        if self.saved is None:
            return None
        try:
            self.saved.add([str(r) for r in rules])
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            return (
                f"The rule {', '.join(map(str, rules))} holds for this session but could "
                f"not be saved in {self.saved.path} ({why})."
            )
        return None

    def allows(self) -> list[Rule]:
        """Every allow rule in force: the given ones, then the saved "always" ones."""
        return [*self.allow, *self._saved_rules]

    def read_denied(self, relative: str) -> bool:
        """A ``read:`` deny rule covers this path (listings and searches leave it out)."""
        return any(r.kind is Need.READ and r.matches_path(relative) for r in self.deny)

    def judge(self, plan: Plan) -> Verdict:
        """Allow, deny or ask, and why."""
        if plan.need is Need.RUN:
            return self._judge_command(plan.subject)
        if plan.need is Need.MCP:
            return self._judge_mcp(plan)
        denied = next((r for r in self.deny if r.kind is plan.need
                       and r.matches_path(plan.subject)), None)  # fmt: skip
        if denied is not None:
            return Verdict(Decision.DENY, f"the rule deny {denied} forbids it")
        if plan.need is Need.READ:
            if plan.sensitive:
                return Verdict(Decision.ASK, f"{plan.subject}: {plan.sensitive}")
            return Verdict(Decision.ALLOW, "reads inside the project are free")
        if self.mode is Mode.PLAN:
            return Verdict(Decision.DENY, "plan mode is read-only: propose the change instead")
        if plan.sensitive:
            return Verdict(Decision.ASK, f"{plan.subject}: {plan.sensitive}")
        if self.mode is Mode.ACCEPT_EDITS:
            return Verdict(Decision.ALLOW, "accept-edits mode")
        allowed = next((r for r in self.allows() if r.kind is Need.EDIT
                        and r.matches_path(plan.subject)), None)  # fmt: skip
        if allowed is not None:
            return Verdict(Decision.ALLOW, f"the rule allow {allowed}")
        return Verdict(Decision.ASK, f"edit {plan.subject}", (f"edit:{plan.subject}",))

    def _judge_mcp(self, plan: Plan) -> Verdict:
        """``SERVER/TOOL`` against ``mcp:`` rules (globs); deny beats allow."""
        match = fnmatch.fnmatchcase
        denied = next((r for r in self.deny if r.kind is Need.MCP
                       and match(plan.subject, r.pattern)), None)  # fmt: skip
        if denied is not None:
            return Verdict(Decision.DENY, f"the rule deny {denied} forbids it")
        if self.mode is Mode.PLAN and not plan.read_only:
            return Verdict(Decision.DENY, "plan mode runs only MCP tools marked read-only")
        allowed = next((r for r in self.allows() if r.kind is Need.MCP
                        and match(plan.subject, r.pattern)), None)  # fmt: skip
        if allowed is not None:
            return Verdict(Decision.ALLOW, f"the rule allow {allowed}")
        return Verdict(Decision.ASK, f"MCP tool {plan.subject}", (f"mcp:{plan.subject}",))

    def _judge_command(self, command: str) -> Verdict:
        if self.mode is Mode.PLAN:
            return Verdict(Decision.DENY, "plan mode is read-only: no commands")
        split = split_command(command)
        deny = [r for r in self.deny if r.kind is Need.RUN]
        for part in split.parts:
            denied = next((r for r in deny if r.matches_part(part)), None)
            if denied is not None:
                return Verdict(Decision.DENY, f"the rule deny {denied} forbids {part.text}")
        if not self.sandboxed:
            return Verdict(Decision.ASK, "commands are not sandboxed here: each one is asked")
        if split.unsure:
            return Verdict(Decision.ASK, f"it cannot be judged part by part: {split.unsure}")
        if not split.parts:
            return Verdict(Decision.ASK, "no command found in it")
        allows = [r for r in self.allows() if r.kind is Need.RUN]
        missing = [p for p in split.parts if not any(r.matches_part(p) for r in allows)]
        if not missing:
            return Verdict(Decision.ALLOW, "allowed by the rules, part by part")
        always = tuple(dict.fromkeys(f"run:{p.text}" for p in missing if not p.dynamic))
        if len(always) < len({p.text for p in missing}):
            always = ()  # a part with unknown arguments: only a yes for this call
        shown = "; ".join(p.text for p in missing)
        return Verdict(Decision.ASK, f"no rule allows: {shown}", always)
