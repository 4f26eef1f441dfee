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


def stored_meta(m: StoredMessage) -> str:
    meta = f"{m.tier} · {m.model}"
    if m.input_tokens or m.output_tokens:
        meta += f" · {m.input_tokens:,} in / {m.output_tokens:,} out"
        if m.cached_input_tokens:
            meta += f" ({m.cached_input_tokens:,} cached)"
    meta += f" · {header_money(m.cost_usd, not m.estimated, m.price_basis)}"
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
