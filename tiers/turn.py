"""One reply from one tier, with its listeners, and a clean end however it stops.

``Turn`` pumps a tier's event stream to listeners (the view, the cost meter, the
store). Cancelling a turn stops the tier, then still delivers a final ``Usage`` (an
estimate if the tier never reported one) and ``Finished("cancelled")``, so what
arrived stays and what was used is counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from .base import (
    ChatRequest,
    Event,
    Failed,
    Finished,
    Reply,
    TextDelta,
    Tier,
    Usage,
    estimate_usage,
)

# How long a tier that stops itself gets before its stream is cut anyway (llama.cpp
# cannot interrupt prompt processing, only generation).
GRACE_S = 2.0

Listener = Callable[[Event], Awaitable[None] | None]


class Turn:
    def __init__(self, tier: Tier, request: ChatRequest, listeners: list[Listener]) -> None:
        self.tier = tier
        self.request = request
        self.listeners = listeners
        self.reply = Reply()
        self.deltas = 0
        self._usage_seen = False
        self._partial: Usage | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._cancel_requested = False
        self._started = time.monotonic()

    async def _emit(self, event: Event) -> None:
        self.reply.observe(event)
        for listener in self.listeners:
            result = listener(event)
            if result is not None:
                await result

    async def _pump(self) -> None:
        async for event in self.tier.stream(self.request):
            if isinstance(event, TextDelta):
                self.deltas += 1
            elif isinstance(event, Usage):
                # A running figure is not the reply's usage: an estimate still follows
                # if the stream ends without a final one.
                self._usage_seen = not event.partial
                self._partial = event if event.partial else None
            await self._emit(event)

    async def run(self) -> Reply:
        self._pump_task = asyncio.create_task(self._pump())
        try:
            await self._pump_task
        except asyncio.CancelledError:
            if not self._cancel_requested:
                self._pump_task.cancel()
                raise
            await self._finish_cancelled()
        except Exception as exc:  # a tier bug must not lose the reply
            if not self._usage_seen:
                await self._emit(self.estimate())
            # Keys never reach the screen, even inside an unexpected error.
            message = self.tier.scrub(str(exc))
            await self._emit(Failed(f"{self.tier.name} failed unexpectedly: {message}"))
        if self.reply.finished is None and self.reply.failed is None:
            # The stream ended without saying how: treat as cut.
            if not self._usage_seen:
                await self._emit(self.estimate())
            await self._emit(
                Failed(
                    f"{self.tier.name} ended the reply without finishing it.",
                    retryable=True,
                    kind="protocol",
                    duration_s=time.monotonic() - self._started,
                )
            )
        return self.reply

    @property
    def usage_reported(self) -> bool:
        """Whether the tier has sent a Usage for this reply yet."""
        return self._usage_seen

    def estimate(self) -> Usage:
        """What this reply has used so far, as well as can be told without the tier's
        final figure: its running counts where it sent some, guesses for the rest."""
        guess = estimate_usage(self.request, len(self.reply.text), self.deltas)
        partial = self._partial
        if partial is None:
            return guess
        # Keep what the provider already said (its exact input) and guess the rest.
        return Usage(
            input_tokens=partial.input_tokens or guess.input_tokens,
            output_tokens=max(partial.output_tokens, guess.output_tokens),
            cached_input_tokens=partial.cached_input_tokens,
            cache_write_tokens=partial.cache_write_tokens,
            cache_write_1h_tokens=partial.cache_write_1h_tokens,
            estimated=True,
        )

    async def _finish_cancelled(self) -> None:
        if not self._usage_seen:
            await self._emit(self.estimate())
        await self._emit(
            Finished(
                "cancelled",
                model=self.tier.model,
                duration_s=time.monotonic() - self._started,
            )
        )

    def cancel(self) -> None:
        """Stop the reply now; ``run`` returns with what arrived, marked cancelled.

        A tier that can stop itself (the local one) is asked to, so its own exact usage
        still arrives; if it has not ended within ``GRACE_S``, or the tier cannot stop
        itself (remote streams: closing the connection is the stop), the stream is cut.
        """
        if self._pump_task is None or self._pump_task.done():
            return
        self._cancel_requested = True
        if not self.tier.can_stop:
            self._pump_task.cancel()
            return
        self.tier.stop()
        asyncio.get_running_loop().call_later(GRACE_S, self._pump_task.cancel)


async def collect(tier: Tier, request: ChatRequest) -> Reply:
    """Run one reply to the end with no listeners (tests, scripts)."""
    return await Turn(tier, request, []).run()
