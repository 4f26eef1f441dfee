"""Fallback: where a question goes when the rung answering it fails, and the event
that says so. No Textual here.

Up first, as ever: the next usable rung above the highest one tried. When nothing
above can answer (the top rung failed, or every rung above it), down: the nearest
usable rung below the lowest one tried that the conversation fits (its context
window, when known). Down only

- for a failure a lower rung would not share (``FALLS_DOWN_ON``: the provider's side);
- never for an escalation or a regeneration (the user asked for that rung or a better
  one: the rung below is the answer they turned down);
- from a pinned rung only when the user allows it (``[ladder] fallback_below_pinned``,
  off by default): a pinned model is not swapped for a weaker one unasked.

A cancel (Ctrl-C, Esc) is not a failure: nothing falls back. ``[ladder] fallback =
false`` turns fallback off both ways.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rung.engine.ladder import AUTO, Ladder
from rung.tiers.base import ChatRequest, Failed

# The failures a lower rung would not share: the provider's side (an outage, an
# overload, a cut connection, a garbled stream). Not "auth" or "model" (the user must
# fix a key or a model name), "request"/"context" (the same request would be refused
# below too, with a smaller context window), "budget", or a cancel (not a failure).
FALLS_DOWN_ON = frozenset({"server", "network", "rate_limit", "protocol"})


@dataclass(frozen=True)
class FallingBack:
    """``from_tier`` failed; the same question goes to ``to_tier`` next (``down``: a
    lower, cheaper rung, because nothing above it could answer)."""

    from_tier: str
    to_tier: str
    failed: Failed
    down: bool = False

    @property
    def notice(self) -> str:
        """One line for the user: which rung failed, how, and who answers instead."""
        status = re.search(r"\bHTTP (\d{3})\b", self.failed.message)
        why = f"HTTP {status[1]}" if status else self.failed.kind
        if self.down:
            return f"{self.from_tier} failed ({why}): answering on {self.to_tier} instead"
        return f"{self.from_tier} failed ({why}): falling back to {self.to_tier}"


def next_rung(
    ladder: Ladder,
    tried: list[str],
    failed: Failed,
    request: ChatRequest,
    *,
    allows_paid: bool,
    escalation: bool,
) -> tuple[str, bool] | None:
    """The rung to try after ``failed`` (``tried``: the rungs tried so far, in order):
    (its name, whether it is below), or None (see the module doc)."""
    names = ladder.names
    on_ladder = [n for n in tried if n in names]
    if not on_ladder:
        return None
    above = ladder.above(max(on_ladder, key=names.index), allows_paid)
    if above is not None:
        return above, False
    if failed.kind not in FALLS_DOWN_ON or escalation:
        return None
    if ladder.mode != AUTO and not ladder.pinned_falls_below():
        return None
    below = ladder.below(min(on_ladder, key=names.index), allows_paid, request)
    return None if below is None else (below, True)
