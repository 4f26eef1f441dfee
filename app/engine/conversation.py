"""One conversation engine for the chat screen and `rung ask`. No Textual here.

``Conversation`` holds the history and the last question. Sending a message is two
steps, so a view can react at the moment the engine commits to it:

- ``prepare(question)`` decides the rung and applies the budget gate, synchronously:
  it returns a ``Plan`` (the view clears its prompt, shows the question) or a
  ``Refusal`` (nothing is sent, nothing is lost);
- ``await run(plan)`` streams the reply on that rung (an attempt:
  conversation_attempt.py), falls back when a rung fails (out loud; engine/fallback.py),
  prices every attempt and records it as it streams.

Listeners receive the tier events and the engine's own (conversation_events.py); plans,
refusals and outcomes are conversation_plan.py's; a stored session is read back for the
model by conversation_history.py.

The router learns from what the user does here (tiers/lessons.py): F9 on an answer is
a lesson "too hard for that rung"; an answer from a pinned rung cheaper than Auto's
choice, followed by another question (not an escalation), is a lesson "that rung was
enough". It also gets the conversation's state (``route_context``): the rung that
answered last, that answer's usage (cached and written tokens) and how long ago it
ended, so it can weigh a warm prompt cache and the local model's context window.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from rung.engine.conversation_attempt import LIVE_COST_INTERVAL_S as LIVE_COST_INTERVAL_S
from rung.engine.conversation_attempt import Attempt, stream_attempt
from rung.engine.conversation_events import EditsProposed as EditsProposed
from rung.engine.conversation_events import EngineEvent as EngineEvent
from rung.engine.conversation_events import FallingBack as FallingBack
from rung.engine.conversation_events import Listener as Listener
from rung.engine.conversation_events import LiveCost as LiveCost
from rung.engine.conversation_events import Recorded as Recorded
from rung.engine.conversation_events import Routed as Routed
from rung.engine.conversation_events import StoreProblem as StoreProblem
from rung.engine.conversation_history import attached_paths as attached_paths
from rung.engine.conversation_history import history_from_store as history_from_store
from rung.engine.conversation_history import stored_timestamp
from rung.engine.conversation_plan import ChatOptions as ChatOptions
from rung.engine.conversation_plan import Outcome as Outcome
from rung.engine.conversation_plan import Plan as Plan
from rung.engine.conversation_plan import Refusal as Refusal
from rung.engine.conversation_plan import build_request
from rung.engine.fallback import next_rung
from rung.engine.ladder import AUTO as AUTO_MODE
from rung.engine.ladder import Ladder, rung_kind
from rung.engine.recorder import Handle
from rung.engine.session import Session
from rung.engine.store_history import StoredMessage
from rung.tiers.base import ChatRequest, Failed, Message, Tier, Usage

if TYPE_CHECKING:
    # The coding assistant's parser loads with the first reply about attached files;
    # the router's context and one streamed attempt with the first message (the chat
    # screen warms them after its first frame), not with the screen.
    from rung.engine.edits import ParseResult
    from rung.tiers.route_cost import RouteContext
    from rung.tiers.turn import Turn


class Conversation:
    def __init__(
        self,
        ladder: Ladder,
        session: Session,
        options: ChatOptions,
        listeners: list[Listener] | None = None,
    ) -> None:
        self.ladder = ladder
        self.session = session
        self.options = options
        self.listeners: list[Listener] = list(listeners or [])
        self.history: list[Message] = []
        # The last question and the rung that answered it, for escalation.
        self.last_question: str | None = None
        self.last_tier: str | None = None
        # What the last answer used and when it ended (wall clock): a provider's prompt
        # cache holds the conversation for minutes, then forgets it.
        self.last_usage: Usage | None = None
        self.last_answered_at: float | None = None
        # The local model's speed as measured on its last reply (tokens/s out, and prompt
        # tokens read per second before the first token): the router weighs the wait a
        # move to it would cost with these, never with a guess.
        self.local_tokens_per_s: float | None = None
        self.local_prefill_tokens_per_s: float | None = None
        # A question sent to a pinned rung cheaper than Auto's choice (the plan, and the
        # rung), and, once answered there, the answer waiting to be kept: the next
        # question confirms it (a lesson), an escalation or an edit drops it.
        self._probe: tuple[Plan, str] | None = None
        self._unconfirmed: tuple[str, str] | None = None
        self.busy = False
        self._turn: Turn | None = None
        self._last_question_row: Handle | None = None
        # The changes the last reply proposed to attached files, if any.
        self.last_edits: ParseResult | None = None
        # Ctrl+N while a reply streamed: the new chat's meter length then. The reply is
        # priced when it stops, and it is the old conversation's (the store has it there).
        self._abandoned: int | None = None

    # -- listeners -----------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def note_question(self, question: Handle) -> None:
        """A question recorded outside ``run`` (a side-by-side comparison that was kept)
        is now the last one: editing the last question replaces it."""
        self._last_question_row = question

    def remove_listener(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    async def _emit(self, event: EngineEvent) -> None:
        for listener in self.listeners:
            result = listener(event)
            if result is not None:
                await result

    # -- deciding ------------------------------------------------------------------------
    def route_context(self) -> RouteContext:
        """What the router should know about this conversation (it does no I/O itself)."""
        from rung.tiers.route_cost import RouteContext

        idle = None
        if self.last_answered_at is not None:
            idle = max(0.0, time.time() - self.last_answered_at)
        return RouteContext(
            last_tier=self.last_tier,
            last_usage=self.last_usage,
            idle_s=idle,
            prices=self.session.meter.book,
            min_saving_usd=self.ladder.config.get("ladder", "min_saving_usd"),
            local_tokens_per_s=self.local_tokens_per_s,
            local_prefill_tokens_per_s=self.local_prefill_tokens_per_s,
        )

    def request(self, messages: list[Message]) -> ChatRequest:
        return build_request(self.options, messages)

    def prepare(self, question: str, *, replace_last: bool = False) -> Plan | Refusal:
        """Decide the rung for ``question`` and check the budget. Commits (marks the
        conversation busy) only when it returns a Plan. ``replace_last``: the question is
        the last one, edited: it takes the place of the last exchange."""
        if self.busy:
            return Refusal("Wait for the reply to finish, or cancel it.", "busy")
        if replace_last and self.last_question is None:
            return Refusal("There is no question to edit yet.", "nothing")
        self.session.refresh_today()
        before = self.history[: self.last_exchange_start()] if replace_last else self.history
        request = self.request([*before, Message("user", question)])
        allows_paid = not self.session.budget_state().blocks_paid
        context = self.route_context()
        if replace_last:
            # An edited question drops the last exchange: what the cache and the last
            # usage say is about a conversation that is no longer the one sent.
            from rung.tiers.route_cost import RouteContext

            context = RouteContext(prices=context.prices)
        decision = self.ladder.decide(request, allows_paid, context)
        problem = self.ladder.key_problem(decision.tier)
        if problem:
            return Refusal(problem, "key")
        tier = self.ladder.tier(decision.tier)
        verdict = self.session.allows(tier)
        if verdict.blocks_paid:
            return Refusal(verdict.message, "budget")
        self.busy = True
        # The user goes on: the last answer was kept (an edit rewrites its question).
        if self._unconfirmed is not None and not replace_last:
            self.ladder.learn_kept(*self._unconfirmed)
        self._unconfirmed = None
        plan = Plan(request, question, decision.tier, decision.reason, replaces_last=replace_last)
        self._probe = None
        if self.ladder.mode != AUTO_MODE:
            # A lesson is about the question, not the conversation: judged as if no rung
            # were warm (a hold for a warm cache or min_saving_usd is not "too hard").
            cold = dataclasses.replace(context, last_tier=None)
            auto = self.ladder.auto_choice(request, allows_paid, cold)
            if decision.rung < auto.rung:
                self._probe = (plan, decision.tier)
        return plan

    def last_exchange_start(self) -> int:
        """Where the last question begins in the history (0 when there is none)."""
        users = [i for i, m in enumerate(self.history) if m.role == "user"]
        return users[-1] if users else 0

    def prepare_regenerate(self) -> Plan | Refusal:
        """Ask the last question again on the rung that answered it; the new answer
        replaces the old one (both stay on screen and in the history file)."""
        if self.busy:
            return Refusal("Wait for the reply to finish, or cancel it.", "busy")
        if self.last_question is None or self.last_tier is None:
            return Refusal("Nothing to regenerate yet: ask something first.", "nothing")
        if self.last_tier not in self.ladder.names:
            return Refusal(f"{self.last_tier} is no longer on the ladder.", "nothing")
        self.session.refresh_today()
        tier = self.ladder.tier(self.last_tier)
        verdict = self.session.allows(tier)
        if verdict.blocks_paid:
            return Refusal(verdict.message, "budget")
        request = self.request(self.history[: self.last_exchange_start() + 1])
        self.busy = True
        reason = f"regenerated on {self.last_tier}"
        return Plan(request, self.last_question, self.last_tier, reason, escalation=True)

    def prepare_escalation(self) -> Plan | Refusal:
        """Ask the last question again one rung up; its answer will replace the last one."""
        if self.busy:
            return Refusal("Wait for the reply to finish, or cancel it.", "busy")
        if self.last_question is None or self.last_tier is None:
            return Refusal("Nothing to escalate yet: ask something first.", "nothing")
        self.session.refresh_today()
        allows_paid = not self.session.budget_state().blocks_paid
        above = self.ladder.above(self.last_tier, allows_paid)
        if above is None:
            return Refusal(f"{self.last_tier} is the highest usable rung.", "top")
        # The question, with the conversation before it, but not the answer it replaces.
        user_turns = [i for i, m in enumerate(self.history) if m.role == "user"]
        cut = user_turns[-1] if user_turns else len(self.history)
        request = self.request(self.history[: cut + 1])
        self.busy = True
        # The user's verdict on that answer: too hard for the rung that gave it.
        self._unconfirmed = None
        self.ladder.learn_escalation(self.last_question, self.last_tier, above)
        reason = f"escalated by you from {self.last_tier}; learned for similar questions"
        return Plan(request, self.last_question, above, reason, escalation=True)

    # -- sending -------------------------------------------------------------------------
    async def run(self, plan: Plan) -> Outcome:
        """Answer ``plan`` on its rung, falling back up the ladder when a rung fails, and
        down when nothing above can answer (engine/fallback.py)."""
        outcome = Outcome()
        try:
            if plan.replaces_last:
                del self.history[self.last_exchange_start() :]
                if self._last_question_row is not None:
                    self.session.supersede(self._last_question_row)
            if not plan.escalation:
                self.history.append(Message("user", plan.question))
                self._last_question_row = self.session.record_question(plan.question)
            tier_name, reason = plan.tier, plan.reason
            tried: list[str] = []
            while True:
                tier = self.ladder.tier(tier_name)
                tried.append(tier_name)
                await self._emit(Routed(tier_name, tier.model, reason, len(outcome.attempts),
                                        plan.escalation))  # fmt: skip
                attempt = await self._attempt(tier, plan, reason)
                outcome.attempts.append(attempt)
                if self._abandoned is not None:  # not the new chat's, nor its history
                    del self.session.meter.records[self._abandoned :]
                    await self._emit(Recorded(tier_name, attempt.reply, attempt.record, reason,
                                              last=True))  # fmt: skip
                    return outcome
                failed = attempt.reply.failed
                target: tuple[str, bool] | None = None
                if failed is not None and self.options.fallback:
                    target = self.fallback_target(plan, tried, failed)
                await self._emit(Recorded(tier_name, attempt.reply, attempt.record, reason,
                                          last=target is None))  # fmt: skip
                await self._report_store_problems()
                if failed is None or target is None:
                    break
                to, down = target
                await self._emit(FallingBack(tier_name, to, failed, down))
                reason = f"fallback {'down ' if down else ''}from {tier_name} ({failed.kind})"
                tier_name = to
            self._remember(plan, outcome.final)
            self.last_edits = None
            attached = attached_paths(list(plan.request.messages))
            if outcome.final.reply.text and attached:
                from rung.engine.edits import parse_reply

                found = parse_reply(outcome.final.reply.text, attached=attached)
                if found.edits or found.problems:
                    self.last_edits = found
                    await self._emit(EditsProposed(found))
            return outcome
        finally:
            self.busy, self._abandoned = False, None

    def fallback_target(
        self, plan: Plan, tried: list[str], failed: Failed
    ) -> tuple[str, bool] | None:
        """Where the question goes after ``failed``: (rung, down), or None (see
        engine/fallback.py for the rules)."""
        allows_paid = not self.session.budget_state().blocks_paid
        return next_rung(self.ladder, tried, failed, plan.request, allows_paid=allows_paid,
                         escalation=plan.escalation)  # fmt: skip

    def _measure_local(self, final: Attempt) -> None:
        done = final.reply.finished
        if done is None or rung_kind(final.tier) != "local":
            return
        if done.output_tokens_per_s:
            self.local_tokens_per_s = done.output_tokens_per_s
        usage, first = final.reply.usage, done.time_to_first_token_s
        read = usage.input_tokens - usage.cached_input_tokens if usage is not None else 0
        if read > 0 and first:  # cached tokens were not read again: not in the speed
            self.local_prefill_tokens_per_s = read / first

    def _remember(self, plan: Plan, final: Attempt) -> None:
        # A partial reply stays in the conversation, so the next question sees it; an
        # escalated answer takes the place of the one it improves on.
        if final.reply.text:
            replaces = plan.escalation and self.history and self.history[-1].role == "assistant"
            if replaces:
                self.history[-1] = Message("assistant", final.reply.text)
            else:
                self.history.append(Message("assistant", final.reply.text))
        self.last_question, self.last_tier = plan.question, final.tier
        self.last_usage, self.last_answered_at = final.reply.usage, time.time()
        self._measure_local(final)
        probe, self._probe = self._probe, None
        if probe is not None and probe[0] is plan:
            answered = final.reply.failed is None and final.reply.finish_reason != "cancelled"
            if answered and final.tier == probe[1] and final.reply.text:
                self._unconfirmed = (plan.question, final.tier)

    async def _attempt(self, tier: Tier, plan: Plan, reason: str) -> Attempt:
        return await stream_attempt(
            self.session, tier, plan.request, reason, self._emit, self._follow_turn
        )

    def _follow_turn(self, turn: Turn | None) -> None:
        self._turn = turn  # the turn in flight, for cancel()

    async def _report_store_problems(self) -> None:
        for problem in [*self.session.problems(), *self.ladder.lessons.take_problems()]:
            await self._emit(StoreProblem(problem))

    def cancel(self) -> None:
        """Stop the reply in flight; what arrived stays, marked cancelled."""
        if self._turn is not None:
            self._turn.cancel()

    # -- whole conversations -------------------------------------------------------------
    def start_new(self) -> None:
        """Forget this conversation; the next message starts a new stored session."""
        self.cancel()
        self.history.clear()
        self.last_question = self.last_tier = None
        self.last_usage = self.last_answered_at = None
        self._probe = self._unconfirmed = None
        self._last_question_row = None
        self.last_edits = None
        self.session.new_session()
        self._abandoned = len(self.session.meter.records) if self.busy else None

    def resume(self, session_id: int) -> list[StoredMessage]:
        """Continue a stored conversation: the model sees it all again. Raises
        LookupError when there is no such session."""
        return self._adopt(self.session.resume(session_id))

    def reload(self) -> bool:
        """The history again from this session's stored messages, as a resume reads it:
        another engine (the agent) answered in this conversation, and the store, not the
        history in memory, holds what was said. False: nothing stored to read."""
        session, store = self.session, self.session.store
        if store is None or self.busy:
            return False
        if session.recorder is not None:
            session.recorder.flush(0.5)  # the agent's last step is in the file
        session_id = session.session_id
        if session_id is None:
            return False
        self._adopt([m for m in store.transcript(session_id) if not m.superseded])
        return True

    def _adopt(self, stored: list[StoredMessage]) -> list[StoredMessage]:
        """``stored`` (superseded rows left out) becomes the history and the last
        exchange (what an edit, F9 and the prompt cache's clock go by)."""
        self.history = history_from_store(stored)
        last_user = next((m for m in reversed(stored) if m.role == "user"), None)
        last_reply = next((m for m in reversed(stored) if m.role == "assistant"), None)
        self.last_question = last_user.content if last_user else None
        self.last_tier = last_reply.tier if last_reply else None
        self.last_usage = self.last_answered_at = None
        self._probe = self._unconfirmed = None
        if last_reply is not None:
            self.last_usage = Usage(
                last_reply.input_tokens,
                last_reply.output_tokens,
                cached_input_tokens=last_reply.cached_input_tokens,
                cache_write_tokens=last_reply.cache_write_tokens,
            )
            self.last_answered_at = stored_timestamp(last_reply.created_at)
        self._last_question_row = Handle(row_id=last_user.row_id) if last_user else None
        return stored
