"""One question asked on several rungs at once (the compare screen), and keeping one of
the answers in the conversation. No Textual here.

Every answer was paid for, kept or not, so ``adopt`` records them all in the history
and the session's meter (budgets count them); only the kept one joins the conversation
the model sees next. Without a kept answer the whole exchange is recorded but marked
superseded: counted, never shown to the model or replayed by a resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rung.engine.conversation import Conversation
from rung.engine.ladder import Ladder
from rung.engine.recorder import Handle
from rung.tiers.base import Message, Reply, Tier
from rung.tiers.meter import MessageCost

KEPT_REASON = "compared side by side: kept"
NOT_KEPT_REASON = "compared side by side: not kept"
# More columns than this do not fit side by side in a terminal.
MAX_DEFAULT_COLUMNS = 3


@dataclass
class Column:
    """One rung's answer, priced (the same figures the chat shows for a reply)."""

    tier: Tier
    reply: Reply
    record: MessageCost

    @property
    def rung(self) -> str:
        return self.tier.name


@dataclass
class SideBySide:
    """What the compare screen dismisses with: the question, every answer it got (all
    paid for), and which one the user kept (None: none)."""

    question: str
    columns: list[Column] = field(default_factory=list)
    kept: int | None = None

    @property
    def kept_column(self) -> Column | None:
        return None if self.kept is None else self.columns[self.kept]


def default_rungs(ladder: Ladder, budget_allows_paid: bool = True) -> list[str]:
    """The rungs to compare when none are named: every usable rung, or when there are
    more than fit side by side, the cheapest and the two at the top."""
    usable = [r.name for r in ladder.rungs(budget_allows_paid) if r.usable]
    if len(usable) <= MAX_DEFAULT_COLUMNS:
        return usable
    return [usable[0], *usable[-(MAX_DEFAULT_COLUMNS - 1) :]]


def adopt(conversation: Conversation, result: SideBySide) -> Handle | None:
    """Record every answer of a side-by-side question, and continue the conversation
    from the kept one. Call it when the conversation is not busy (the compare screen
    refuses to start while a reply streams). Returns the question's row handle (the
    conversation's edit-last needs it to supersede this exchange later), or None when
    nothing was asked."""
    if not result.columns:
        return None
    session = conversation.session
    question_row = session.record_question(result.question)
    # The kept answer is written last: a resumed conversation continues from the last
    # answer to a question, as it does after a fallback.
    order = [i for i in range(len(result.columns)) if i != result.kept]
    if result.kept is not None:
        order.append(result.kept)
    for index in order:
        column = result.columns[index]
        reason = KEPT_REASON if index == result.kept else NOT_KEPT_REASON
        handle = session.begin_reply(column.tier, reason)
        error = column.reply.failed.message if column.reply.failed else None
        session.finish_reply(handle, column.reply.text, column.record, error)
    kept = result.kept_column
    if kept is None:
        session.supersede(question_row)
        return question_row
    conversation.history.append(Message("user", result.question))
    conversation.history.append(Message("assistant", kept.reply.text))
    conversation.last_question, conversation.last_tier = result.question, kept.rung
    return question_row
