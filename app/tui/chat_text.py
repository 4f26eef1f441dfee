"""How the chat screen words a reply's header and the note under it: pure text, no widgets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rung.engine.cost_label import header_money

if TYPE_CHECKING:  # the history store is the engine's: built after the first frame
    from rung.engine.store import StoredMessage
    from rung.tiers.base import Reply
    from rung.tiers.meter import MessageCost


def reply_meta(tier: str, reply: Reply, record: MessageCost) -> str:
    u = reply.usage
    meta = f"{tier} · {record.model} · {u.input_tokens:,} in / {u.output_tokens:,} out"
    if u.cached_input_tokens:
        meta += f" ({u.cached_input_tokens:,} cached)"
    cost = record.cost
    return meta + f" · {header_money(cost.usd, cost.exact and not u.estimated, cost.basis)}"


def stored_meta(m: StoredMessage, step: int = 0, called_tools: bool = False) -> str:
    """A stored reply's header; an agent step's (``step``: its number in the turn, from
    ``step_numbers``) says "agent step N · kind" as it did live."""
    meta = f"{m.tier} · {m.model}"
    if m.input_tokens or m.output_tokens:
        meta += f" · {m.input_tokens:,} in / {m.output_tokens:,} out"
        if m.cached_input_tokens:
            meta += f" ({m.cached_input_tokens:,} cached)"
    meta += f" · {header_money(m.cost_usd, not m.estimated, m.price_basis)}"
    if m.step_kind == "digest":
        meta += " — compaction summary"
    elif m.step_kind:
        meta += f" — agent step {step}" if step else " — agent step"
        meta += f" · {step_kind_label(m.step_kind, called_tools)}"
    return meta + (f" — {m.reason}" if m.reason else "")


def closing_note(
    reply: Reply, fallback_to: str | None = None, limit: int | None = None, down: bool = False
) -> tuple[str, str]:
    """(status word, the note under the reply) for how an attempt ended; ``limit``: the
    output token limit the request carried; ``down``: the fallback is to a lower rung."""
    if reply.failed is not None:
        if fallback_to and down:
            return "failed", f"Failed: {reply.failed.message} — answering on {fallback_to} instead."
        if fallback_to:
            return "failed", f"Failed: {reply.failed.message} — falling back to {fallback_to}."
        return "failed", f"Failed: {reply.failed.message}"
    if reply.finish_reason == "cancelled":
        return "cancelled", "Cancelled — the text above is what arrived."
    if reply.finish_reason == "length":
        out = reply.usage.output_tokens
        # The rung may have a lower limit of its own (the local rung's, which says so).
        at = f"the {limit:,}-token limit" if limit and out >= limit else "the output token limit"
        return "done", f"Cut at {at}: Ctrl+B raises it for this chat ([ui] max_tokens for all)."
    return "done", ""


# -- the agent's steps ------------------------------------------------------------------
# The budget's own advice (tiers/budget.py) names the local rung; on a ladder where no
# free rung can take an agent step that advice leads nowhere.
LOCAL_ADVICE = "use the local rung, or raise the limit in Settings."


def budget_words(message: str, free_rung: bool) -> str:
    """The budget's message as the chat says it: which budget, how much, how to raise it;
    the local rung is offered only when a free rung could take the step."""
    if free_rung:
        return message.replace(LOCAL_ADVICE, "use the local rung, or raise the limit in "
                               "Settings (F6).")  # fmt: skip
    return message.replace(LOCAL_ADVICE, "raise the limit in Settings (F6) or [budget] in "
                           "the config file.")  # fmt: skip


def step_kind_label(kind: str, called_tools: bool) -> str:
    """A step's kind as its header says it: the kind is chosen before the step is sent,
    so a step routed as the answer that called tools after all says so."""
    if kind == "answer" and called_tools:
        return "routed as answer, called tools"
    return kind


def priced_figures(input_tokens: int, output_tokens: int, money: str, cached: int = 0) -> str:
    """``1,200 in / 40 out (900 cached) · $0.0004``."""
    text = f"{input_tokens:,} in / {output_tokens:,} out"
    if cached:
        text += f" ({cached:,} cached)"
    return f"{text} · {money}"


def compaction_line(
    step: int, before: int, after: int, condensed: int, digest: tuple[str, str, str] | None
) -> str:
    """The line a compaction leaves in the conversation: when, what was condensed, the
    tokens before → after, and the digest's rung, model, tokens and cost (``digest``:
    who wrote it, model, figures; None: no summary was paid for, a list of the calls
    stood in)."""
    from rung.tiers.route_cost import tokens_text

    when = f"before step {step}" if step else "(/compact)"
    text = (f"Compacted {when}: {condensed} older message{'s' if condensed != 1 else ''} "
            f"condensed, {tokens_text(before)} → {tokens_text(after)} tokens")  # fmt: skip
    if digest is None:
        return text + " · a list of the calls made stands in for them (no summary, free)"
    return text + " · " + " · ".join(p for p in digest if p)


def step_numbers(stored: list[StoredMessage]) -> dict[int, int]:
    """Each stored agent step's number in its turn (row id → 1, 2, …), as the live header
    said it; a compaction's digest is not a step."""
    numbers: dict[int, int] = {}
    step = 0
    for m in stored:
        if m.role == "user":
            step = 0
        elif m.step_kind and m.step_kind != "digest":
            step += 1
            numbers[m.row_id] = step
    return numbers
