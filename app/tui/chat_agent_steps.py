"""The agent's steps as the chat screen shows them: each step a reply headed with its rung,
kind, tokens and cost (and why it went there); each tool call a line; a compaction or
how the turn ended a line of its own; the status line naming the rung of the step in
flight. A mixin of ChatScreen (under AgentGlue, chat_agent.py), fed the agent loop's
events (engine/agent/events.py): messages up, nothing called down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rung.engine.cost_label import header_money
from rung.engine.safe_text import for_terminal, one_line
from rung.tui.agent_view import ToolCallLine
from rung.tui.chat_agent_switch import tool_rung
from rung.tui.chat_text import budget_words, compaction_line, priced_figures, step_kind_label
from rung.tui.widgets.messages import MessageItem, MessageList

if TYPE_CHECKING:
    from rung.engine.agent.events import AgentDone, Compacted, StepPriced, StepStarted
    from rung.engine.agent.loop import Agent


# How a turn that did not answer is said under its last step.
def context_meter(tokens: int, window: int | None) -> str:
    """ "context 12k/200k" for the status line ("" when the window is unknown)."""
    from rung.tiers.route_cost import tokens_text

    if not window or not tokens:
        return ""
    return f"context {tokens_text(tokens)}/{tokens_text(window)}"


ENDINGS = {
    "cancelled": ("cancelled", "Stopped (Esc) — what the steps did so far stays; /undo rewinds "
                  "the turn's file changes."),
    "max_steps": ("done", "Stopped at the step limit: ask it to go on, or raise [agent] "
                  "max_steps."),
    "budget": ("failed", "Stopped: the budget blocks the next paid step."),
    "failed": ("failed", "Failed"),
}  # fmt: skip


def step_header(
    event: StepStarted | StepPriced, figures: str = "", why: str = "", called_tools: bool = False
) -> str:
    """A step's header: ``deepseek · model · 1,200 in / 40 out · $0.0004 — agent step 3
    · act — cheapest rung that calls tools well``; the kind and the reason only when the
    loop routed the step (per-step routing fills them). The reason is the router's whole
    sentence (the header wraps): cut at 100 it lost the part that says why."""
    head = " · ".join(p for p in (event.rung, event.model, figures) if p)
    text = f"{head} — agent step {event.step}"
    if event.kind:
        text += f" · {step_kind_label(one_line(event.kind, 20), called_tools)}"
    why = getattr(event, "reason", "") or why
    if why:
        text += f" — {one_line(why, REASON_CHARS)}"
    return text


def free_tool_rung(ladder: Any) -> bool:
    """A rung on the ladder that costs nothing, can be used and can call tools: with the
    budget spent, the agent's steps can still go there (and "use the local rung" helps)."""
    from rung.tiers.budget import PAID_KINDS

    for name in ladder.names:
        tier = ladder.tier(name)
        if tier.kind not in PAID_KINDS and tool_rung(tier) and not tier.unusable_reason:
            return True
    return False


REASON_CHARS = 400  # a router's reason is a sentence or two; the bound keeps a header sane


class AgentSteps:
    """Mixed into ChatScreen (through AgentGlue): the agent's events on screen."""

    _step_item: MessageItem | None
    _last_step: MessageItem | None
    _answer_item: MessageItem | None
    _tool_lines: dict[str, ToolCallLine]
    _step_why: str
    _driving: Agent | None
    # The step in flight: its rung and model (the status line names them, not the chat's),
    # its priced event and figures (its header is redrawn when it turns out to call
    # tools), the calls it made so far. A digest priced whose line comes with Compacted,
    # and the digests of this turn (not steps: the turn's summary counts them apart).
    _step_rung: tuple[str, str] | None = None
    _step_priced: tuple[StepPriced, str] | None = None
    _step_calls = 0
    _digest: StepPriced | None = None
    _digests = 0

    async def _end_step(self, status: str, note: str) -> None:
        item, self._step_item = self._step_item, None
        # While the app is torn down (quit with an approval dialog open) the step's views
        # may already be gone: there is nothing left to write to.
        if item is not None and item.status == "streaming" and item.is_attached and item.views():
            await item.finish(status, note)

    async def _on_agent_event(self, event: object) -> None:
        from rung.engine.agent.events import (
            AgentDone,
            Compacted,
            StepPriced,
            StepStarted,
            ToolCallFinished,
            ToolCallStarted,
        )
        from rung.tiers.base import Notice, TextDelta

        screen: Any = self
        messages = screen.query_one(MessageList)
        if isinstance(event, TextDelta):
            if self._step_item is not None:
                await self._step_item.append(event.text)
            return
        match event:
            case StepStarted(step=step):
                await self._end_step("done", "")
                self._step_why = event.reason
                self._step_rung, self._step_priced, self._step_calls = (
                    (event.rung, event.model), None, 0)  # fmt: skip
                self._step_item = self._last_step = await messages.add(
                    MessageItem("assistant", meta=step_header(event))
                )
                # The context meter: this request's size against the rung's window.
                meter = context_meter(event.context_tokens, event.context_window)
                self._step_status(f"agent step {step}" + (f" · {meter}" if meter else ""))
            case Compacted():
                await self._compacted(event)
            case ToolCallStarted(call_id=call_id, tool=tool, summary=summary):
                line = ToolCallLine(call_id, tool, summary)
                self._tool_lines[call_id] = line
                self._step_calls += 1
                if self._step_calls == 1:
                    self._redraw_header()  # a step routed as the answer calls tools
                await messages.mount(line)
                self._step_status(f"running {tool}")
            case ToolCallFinished(call_id=call_id, summary=summary, is_error=error, text=text):
                line = self._tool_lines.get(call_id)
                if line is not None:
                    line.finish(summary, error, text)
                driving = self._driving
                notices = driving.tools.dispatcher.notices if driving else []
                while notices:
                    screen.notify(for_terminal(notices.pop(0)), markup=False, severity="warning")
            case StepPriced():
                self._priced(event)
            case Notice(text=text):
                screen.notify(for_terminal(text), markup=False)
            case AgentDone():
                await self._done(event)

    def _step_status(self, state: str) -> None:
        """The status line during a step names the step's rung (per-step routing may send
        it elsewhere than the chat's)."""
        screen: Any = self
        app = screen.app
        if self._step_rung is None:
            app.show_status(state)
        else:
            app.show_status(state, tier=self._step_rung[0], model=self._step_rung[1])

    async def _done(self, event: AgentDone) -> None:
        """The turn's end: how it ended and the what-if, under its last step when that
        step answered, else as a line after its tool calls (below them, not above)."""
        from rung.engine.agent.run_cost import whatif_line

        screen: Any = self
        reason, cost = event.reason, event.cost
        status, note = ENDINGS.get(reason, ("done", ""))
        if reason == "failed":
            note = f"Failed: {for_terminal(event.message)}" if event.message else "Failed"
        elif reason == "budget" and event.message:
            # Which budget, how much, how to raise it: the budget's own words.
            words = budget_words(for_terminal(event.message), self.free_rung())
            note = f"Stopped: {words[:1].lower()}{words[1:]}"
        money = header_money(cost, True, None) if cost is not None else "price unknown"
        steps = event.steps - self._digests  # the digests are priced, but not steps
        summary = f"{steps} step{'s' if steps != 1 else ''}"
        if self._digests:
            summary += f" + {self._digests} compaction{'s' if self._digests != 1 else ''}"
        summary += f" · {money}"
        # The what-if under the last step: the same run all on the premium rung.
        whatif = whatif_line(cost, event.premium_usd, event.premium_model)
        self._answer_item = self._step_item if reason == "answered" else None
        end = " · ".join(p for p in (f"{note} ({summary})" if note else "", whatif) if p)
        below = self._step_calls > 0 and self._step_item is not None
        self._step_rung, self._step_priced, self._step_calls, self._digests = None, None, 0, 0
        await self._end_step(status, "" if below else end)
        for line in self._tool_lines.values():  # a call Esc stopped: no result came
            if line.output is None:
                line.finish(f"{line.summary} → stopped", True,
                            "Stopped (Esc) before it finished.")  # fmt: skip
        self._tool_lines.clear()
        if below and end:
            await self._say(end)
        if reason not in ("answered", "budget"):  # the budget's line is the note itself
            level = "information" if reason == "cancelled" else "warning"
            screen.notify(f"Agent: {note or reason} ({summary})", markup=False,
                          severity=level)  # fmt: skip

    async def _say(self, text: str) -> None:
        """A line of the agent's own in the conversation (a compaction, how a turn ended)."""
        screen: Any = self
        await screen.query_one(MessageList).add(MessageItem("notice", text))

    async def _compacted(self, event: Compacted) -> None:
        """Compaction leaves a line: what was condensed, the tokens before → after and
        the digest's rung, tokens and cost (the step before keeps its own header)."""
        digest, self._digest = self._digest, None
        figures = None
        if digest is not None:
            u = digest.usage
            money = header_money(digest.cost, not digest.estimated, None)
            # The summary's rung; a failed summary is paid for all the same, and said.
            failed = f"a list of the calls made (the summary failed on {digest.rung})"
            who = f"summary by {digest.rung}" if event.rung else failed
            figures = (who, digest.model,
                       priced_figures(u.input_tokens, u.output_tokens, money,
                                      u.cached_input_tokens))  # fmt: skip
        await self._say(compaction_line(event.step, event.before_tokens, event.after_tokens,
                                        event.condensed, figures))  # fmt: skip

    def _redraw_header(self) -> None:
        item, priced = self._step_item, self._step_priced
        if item is not None and priced is not None:
            item.set_meta(step_header(priced[0], priced[1], self._step_why, self._step_calls > 0))

    def _priced(self, event: StepPriced) -> None:
        """Each step's own rung, tokens and cost on its reply; the cost line redraws. A
        digest (compaction's summary) has no reply of its own: its figures go on the
        compaction's line, and the step on screen keeps its header."""
        screen: Any = self
        if event.kind == "digest":
            self._digest = event
            self._digests += 1
        elif self._step_item is not None:
            u = event.usage
            money = header_money(event.cost, not event.estimated, None)
            self._step_priced = (
                event,
                priced_figures(u.input_tokens, u.output_tokens, money, u.cached_input_tokens),
            )
            self._redraw_header()
        screen.app.show_cost()

    def free_rung(self) -> bool:
        screen: Any = self
        return free_tool_rung(screen.app.ladder)
