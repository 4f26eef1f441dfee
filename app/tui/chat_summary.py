"""/compact and /init, the minimal honest versions (no Textual here).

/compact: the conversation so far goes, with a request for a summary, to the rung Auto
would choose for it (the cheapest that fits it); that reply is recorded and priced like
any other, then the conversation starts anew with the summary in its system prompt.

/init: one request with the project's file list and README asks for a first AGENTS.md;
the reply becomes a proposal to create that file, shown in the review screen: nothing
is written until the user applies it (and /undo takes it back).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rung.engine.conversation import ChatOptions, Conversation, Plan, Refusal
    from rung.engine.edits import ParseResult
    from rung.tiers.base import Message

SUMMARY_ASK = (
    "Summarise our conversation so far for a fresh start: the goal, what was decided, "
    "facts, names, code and file paths that matter, and what is still open. Be complete "
    "but brief; plain text, no preamble."
)
SUMMARY_HEAD = "A summary of the earlier part of this conversation (it was compacted):"
AGENTS_FILE = "AGENTS.md"
LISTED_FILES = 300
README_CHARS = 4000
FENCE = re.compile(r"```[\w-]*\n(.*?)```", re.DOTALL)


def compact_plan(conversation: Conversation, extra: list[Message] | None = None) -> Plan | Refusal:
    """The summary request on the cheapest rung that fits, committed (the conversation is
    busy until it has run); ``extra``: the agent's text messages, when the agent
    answered in this chat."""
    from rung.engine.conversation import Plan, Refusal  # the engine: after the first frame
    from rung.tiers.base import Message
    from rung.tiers.route_cost import RouteContext

    if conversation.busy:
        return Refusal("Wait for the reply to finish, or cancel it.", "busy")
    history = [*conversation.history, *(extra or [])]
    if len(history) < 2:
        return Refusal("Nothing to compact yet: the conversation is empty.", "nothing")
    session, ladder = conversation.session, conversation.ladder
    session.refresh_today()
    request = conversation.request([*history, Message("user", SUMMARY_ASK)])
    allows_paid = not session.budget_state().blocks_paid
    decision = ladder.auto_choice(request, allows_paid, RouteContext(prices=session.meter.book))
    problem = ladder.key_problem(decision.tier)
    if problem:
        return Refusal(problem, "key")
    verdict = session.allows(ladder.tier(decision.tier))
    if verdict.blocks_paid:
        return Refusal(verdict.message, "budget")
    conversation.busy = True
    reason = f"/compact: summary on the cheapest rung that fits ({decision.reason})"
    return Plan(request, SUMMARY_ASK, decision.tier, reason)


def with_summary(options: ChatOptions, summary: str) -> ChatOptions:
    """The new conversation's options: its system prompt carries the summary."""
    own = (options.system or "").split(SUMMARY_HEAD)[0].strip()  # an earlier summary goes
    system = f"{own}\n\n" if own else ""
    return dataclasses.replace(options, system=f"{system}{SUMMARY_HEAD}\n{summary.strip()}")


def init_question(root: Path, files: list[str]) -> str:
    """The one request /init sends: the file list and the README."""
    listed = "\n".join(files[:LISTED_FILES])
    more = f"\n… and {len(files) - LISTED_FILES} more" if len(files) > LISTED_FILES else ""
    readme = ""
    for name in ("README.md", "README.rst", "README.txt", "README"):
        path = root / name
        if path.is_file():
            readme = path.read_text(encoding="utf-8", errors="replace")[:README_CHARS]
            readme = f"\n\nIts {name} begins:\n<<<\n{readme}\n>>>"
            break
    return (
        f"Write a first {AGENTS_FILE} for this project: short instructions for a coding "
        "agent (what the project is, how to build and run the tests, the layout, the "
        "conventions you can infer). Say only what the files show; no invention. Answer "
        f"with the whole file in one ```markdown fence.\n\nThe project's files:\n{listed}"
        f"{more}{readme}"
    )


def agents_proposal(reply: str) -> ParseResult | None:
    """The reply as a proposal to create AGENTS.md: a SEARCH/REPLACE block if it wrote
    one, else its first fenced block; None when there is nothing usable."""
    from rung.engine.edits import Edit, ParseResult, parse_reply  # on first use: startup

    parsed = parse_reply(reply, attached=[AGENTS_FILE])
    edits = [e for e in parsed.edits if e.path == AGENTS_FILE and not e.search]
    if edits:
        return ParseResult(edits=(edits[0],), problems=(), attached=(AGENTS_FILE,))
    fenced = FENCE.search(reply)
    text = (fenced.group(1) if fenced else "").strip()
    if not text:
        return None
    edit = Edit(path=AGENTS_FILE, search="", replace=text + "\n", origin="search-replace",
                line=1)  # fmt: skip
    return ParseResult(edits=(edit,), problems=(), attached=(AGENTS_FILE,))
