"""The project's own instructions for agents (AGENTS.md, and CLAUDE.md or GEMINI.md when
present) at the project root, as one bounded section of the system prompt.

Read once per session: the system prompt is the start of every request's cached prefix,
so it must not change between steps.
"""

from __future__ import annotations

from pathlib import Path

from rung.engine.agent.paths import OutsideError, confine

FILES = ("AGENTS.md", "CLAUDE.md", "GEMINI.md")
MAX_CHARS = 16_000  # all files together


def project_instructions(root: Path, limit: int = MAX_CHARS) -> str:
    """The section for the system prompt, or "" when the project has none."""
    root = Path(root).resolve()
    sections: list[str] = []
    left = limit
    for name in FILES:
        try:
            real, _ = confine(root, name)  # a link out of the project is not followed
        except OutsideError:
            continue
        if not real.is_file():
            continue
        try:
            with real.open("rb") as handle:
                raw = handle.read(left + 1)
        except OSError:
            continue
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            continue
        if len(text) > left:
            text = text[:left] + f"\n… ({name} cut at {limit} characters)"
        sections.append(f"## {name}\n{text}")
        left -= len(text)
        if left <= 0:
            break
    if not sections:
        return ""
    head = "# Project instructions (from files in the project; the user's requests come first)"
    return head + "\n\n" + "\n\n".join(sections)
