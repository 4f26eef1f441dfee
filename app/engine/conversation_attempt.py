"""One attempt at a reply, on one rung: streamed to the listeners, priced as it streams
and saved as it goes, so what arrived survives a stall, a cancel or a kill.

The token path does no pricing and never waits for the history: a timer re-prices the
reply in flight (``LiveCost``, at most every ``LIVE_COST_INTERVAL_S``) and saves it
(every ``DURABLE_INTERVAL_S``). Which rung to try, and what follows a failure, is the
conversation's (conversation.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rung.engine.conversation_events import EngineEvent, LiveCost
from rung.engine.session import DURABLE_INTERVAL_S, Session
from rung.tiers.base import ChatRequest, Event, Reply, TextDelta, Tier, Usage
from rung.tiers.meter import MessageCost

if TYPE_CHECKING:
    # One streamed attempt loads with the first message (the chat screen warms it after
    # its first frame), not with the screen.
    from rung.tiers.turn import Turn

# The running cost is re-priced at most this often while a reply streams.
LIVE_COST_INTERVAL_S = 0.15


@dataclass
class Attempt:
    tier: str
    model: str
    reply: Reply
    record: MessageCost


async def stream_attempt(
    session: Session,
    tier: Tier,
    request: ChatRequest,
    reason: str,
    emit: Callable[[EngineEvent], Awaitable[None]],
    on_turn: Callable[[Turn | None], None],
) -> Attempt:
    """Answer ``request`` on ``tier``, recorded as it streams with its routing
    ``reason``. ``on_turn`` is given the turn in flight (to cancel it), then None."""
    handle = session.begin_reply(tier, reason)
    started = time.monotonic()
    reported: Usage | None = None
    chars = deltas = 0

    def live() -> MessageCost:
        return session.live_cost(tier, request, chars, deltas, time.monotonic() - started, reported)

    async def on_event(event: Event) -> None:
        nonlocal reported, chars, deltas
        if isinstance(event, TextDelta):
            chars += len(event.text)
            deltas += 1
        elif isinstance(event, Usage):
            reported = event
        await emit(event)
        if isinstance(event, Usage):  # the provider's figures: re-price at once
            await emit(LiveCost(live()))

    async def keep_up() -> None:
        # On a timer, not per token: the token path does no pricing and never waits
        # for the history, and a stalled stream is priced and saved up to its last
        # piece all the same.
        priced = saved = 0
        next_save = time.monotonic() + DURABLE_INTERVAL_S
        while True:
            await asyncio.sleep(LIVE_COST_INTERVAL_S)
            if chars == priced and time.monotonic() < next_save:
                continue
            record = live()
            if chars != priced:
                priced = chars
                await emit(LiveCost(record))
            if time.monotonic() >= next_save:
                next_save = time.monotonic() + DURABLE_INTERVAL_S
                if chars != saved:
                    saved = chars
                    session.update_reply(handle, turn.reply.text, record)

    from rung.tiers.turn import Turn

    turn = Turn(tier, request, [on_event])
    on_turn(turn)
    saver = asyncio.create_task(keep_up())
    try:
        reply = await turn.run()
    except asyncio.CancelledError:
        # The process or the view is going away mid-reply (Ctrl-C, quit): keep what
        # arrived and what it used, marked interrupted, then let the cancel go on.
        session.keep_interrupted(tier, handle, turn)
        raise
    finally:
        saver.cancel()
        on_turn(None)
    record = session.price(tier, reply)
    error = reply.failed.message if reply.failed else None
    session.finish_reply(handle, reply.text, record, error)
    model = reply.finished.model if reply.finished and reply.finished.model else tier.model
    return Attempt(tier.name, model, reply, record)
