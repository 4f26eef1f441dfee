"""Slash commands typed in the prompt: what they are, how a line is read, and what Tab
can complete. Pure text, no widgets: the chat screen runs the commands.

A line is a command when its first word is ``/name`` (letters, digits, ``-``) followed by
a space or the end. ``//text`` sends ``/text`` literally; a first word with another
slash in it (``/etc/hosts``) is a path, sent as typed. An unknown ``/word`` is never
sent to a model: a question meant as a command would cost money and answer nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODES = ("ask", "accept-edits", "plan", "auto")


@dataclass(frozen=True)
class SlashCommand:
    name: str
    argument: str  # how the argument is written in help ("" when none)
    does: str


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("help", "", "The keys and these commands (as F1)"),
    SlashCommand("clear", "", "New conversation, the old one kept (as Ctrl+N)"),
    SlashCommand("compact", "", "Summarise the conversation (an agent's: its older steps), go on"),
    SlashCommand("model", "<rung>", "Pin a rung by name (Tab completes), or auto"),
    SlashCommand(
        "mode", "<mode>", "The agent's permission mode for this chat: " + ", ".join(MODES)
    ),
    SlashCommand("undo", "", "Undo the last applied edit or agent turn"),
    SlashCommand("cost", "", "Every reply's tokens and cost (as F7)"),
    SlashCommand("init", "", "Propose an AGENTS.md for this project, reviewed before writing"),
)
BY_NAME = {c.name: c for c in COMMANDS}

COMMAND_WORD = re.compile(r"/([A-Za-z][\w-]*)(?:\s+(.*))?", re.DOTALL)


@dataclass(frozen=True)
class Parsed:
    """``kind``: "text" (send ``text``), "command" (run ``name`` with ``argument``),
    "unknown" (say so; nothing sent)."""

    kind: str
    text: str = ""
    name: str = ""
    argument: str = ""


def parse(line: str) -> Parsed:
    stripped = line.strip()
    if stripped.startswith("//"):
        return Parsed("text", stripped[1:])
    match = COMMAND_WORD.fullmatch(stripped)
    if match is None:
        return Parsed("text", line)
    name = match.group(1).lower()
    argument = (match.group(2) or "").strip()
    if name not in BY_NAME:
        return Parsed("unknown", name=name, argument=argument)
    return Parsed("command", name=name, argument=argument)


def unknown_message(name: str) -> str:
    return f"unknown command /{name} — /help lists them (// sends a literal /)"


def choices(typed: str, rungs: list[str], limit: int = 8) -> list[tuple[str, str]]:
    """What Tab can complete the prompt's text to, as (replacement, label): command
    names while the first word is typed, then rung names after ``/model ``, modes after
    ``/mode ``. Empty when the text is not a command being typed."""
    if not typed.startswith("/") or typed.startswith("//") or "\n" in typed:
        return []
    word, space, rest = typed.partition(" ")
    if not space:
        needle = word[1:].lower()
        return [
            (f"/{c.name}" + (" " if c.argument else ""), f"/{c.name} {c.argument}".rstrip()
             + f"  {c.does}")
            for c in COMMANDS
            if c.name.startswith(needle)
        ][:limit]  # fmt: skip
    name = word[1:].lower()
    if name == "model":
        options = [*rungs, "auto"]
    elif name == "mode":
        options = list(MODES)
    else:
        return []
    needle = rest.strip().casefold()
    found = [o for o in options if o.casefold().startswith(needle)]
    if len(found) == 1 and found[0].casefold() == needle:
        return []  # typed in full: nothing left to offer
    return [(f"/{name} {o}", o) for o in found][:limit]
