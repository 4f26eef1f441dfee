"""How a remote reply ends: a notice if it was cut at the output limit, its usage (the
provider's, or Rung's estimate keeping what the provider did report, checked against
the request's limits), then exactly one Finished or Failed."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from .base import ChatRequest, Event, Failed, Finished, Notice, Usage, estimate_usage
from .usage_check import check_usage

if TYPE_CHECKING:
    from .reply import ReplyClock, StreamState


class ReplyEnding:
    """The closing events of RemoteTier's replies."""

    label: str
    model: str

    def _ending(
        self,
        request: ChatRequest,
        state: StreamState,
        clock: ReplyClock,
        failed: Failed | None,
        over_limit: bool,
    ) -> list[Event]:
        """The events that close a reply: a notice if it was cut at the output limit,
        its usage, then exactly one Finished or Failed."""
        clock.end_attempt()
        end = time.monotonic()
        duration = end - clock.started
        events: list[Event] = []
        if over_limit:
            events.append(
                Notice(
                    f"{self.label} kept sending past the {request.max_tokens}-token limit; "
                    "Rung stopped reading."
                )
            )
        usage = self._final_usage(request, state, complete=failed is None and not over_limit)
        usage, problems = check_usage(usage, request)
        if problems:
            events.append(
                Notice(
                    f"{self.label} reported impossible usage ({'; '.join(problems)}); Rung "
                    "charged no more than this request's limits."
                )
            )
        events.append(usage)
        if failed is not None:
            return [*events, replace(failed, duration_s=duration, busy_s=clock.busy_s)]
        first = clock.first_text_at
        gen = end - first if first else 0.0
        usage_out = usage.output_tokens if state.usage else state.deltas
        finished = Finished(
            finish_reason="length" if over_limit else state.finish_reason or "stop",
            model=state.model or self.model,
            time_to_first_token_s=(first - clock.started) if first else None,
            duration_s=duration,
            output_tokens_per_s=(usage_out / gen) if gen > 0 and usage_out else None,
            busy_s=clock.busy_s,
        )
        return [*events, finished]

    def _final_usage(self, request: ChatRequest, state: StreamState, complete: bool) -> Usage:
        """The provider's usage when it arrived whole; otherwise Rung's estimate, keeping
        any exact part the provider did send (Anthropic reports input at the start).

        A request the provider never took (an error status, a redirect, no connection)
        used nothing. An estimated output never exceeds what was asked for: a runaway
        stream is not billed beyond max_tokens by any real provider.
        """
        reported = state.usage
        if not state.accepted:
            return reported or Usage()
        if reported is not None and (complete or not state.extra.get("usage_partial")):
            return reported
        guess = estimate_usage(request, state.chars + state.hidden_chars, state.deltas)
        guessed_out = min(guess.output_tokens, request.max_tokens)
        if reported is None:
            return replace(guess, output_tokens=guessed_out)
        return Usage(
            input_tokens=reported.input_tokens or guess.input_tokens,
            # A running count (Gemini's) past max_tokens is a server gone wrong, not use.
            output_tokens=min(max(reported.output_tokens, guessed_out), request.max_tokens),
            cached_input_tokens=reported.cached_input_tokens,
            cache_write_tokens=reported.cache_write_tokens,
            cache_write_1h_tokens=reported.cache_write_1h_tokens,
            estimated=True,
        )
