"""One conversation's money and memory: price each reply, keep the running totals, check
the budget before a paid rung, and write every turn to the history as it happens.

Reads of the history (today's spend, a transcript to resume) happen when a message is
sent or a session opened, never while a reply streams; writes go through the
``Recorder``'s own thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rung.engine.config import Config, data_dir
from rung.engine.recorder import Handle, Recorder
from rung.engine.store import (
    INTERRUPTED,
    STREAMING,
    Store,
    StoredMessage,
    StoreError,
    describe_sqlite_error,
    open_store,
    start_of_today,
)
from rung.tiers.base import ChatRequest, Reply, Tier, Usage
from rung.tiers.budget import PAID_KINDS, Budget, BudgetState
from rung.tiers.meter import CostMeter, MessageCost
from rung.tiers.pricing import Cost, PriceBook

if TYPE_CHECKING:
    from rung.tiers.turn import Turn  # with asyncio under it: `rung route` needs neither


# A streaming reply (a chat answer, an agent step) is written to the history at most
# this often, so a kill -9 keeps what had arrived.
DURABLE_INTERVAL_S = 1.0


def price_book(config: Config) -> PriceBook:
    return PriceBook.from_tables(
        config.prices,
        gpu_usd_per_hour=config.get("selfhosted", "gpu_usd_per_hour"),
        selfhosted_usd_per_mtok=config.get("selfhosted", "usd_per_mtok"),
        energy_watts=config.get("local", "energy_watts"),
        energy_usd_per_kwh=config.get("local", "energy_usd_per_kwh"),
    )


def busy_seconds(reply: Reply) -> float:
    """Time the endpoint worked on the reply (GPU time), without retry back-off."""
    for end in (reply.finished, reply.failed):
        if end is not None and end.busy_s is not None:
            return end.busy_s
    return reply.duration_s


class Session:
    """Pricing, totals, budget and history for one conversation (chat screen or ask)."""

    def __init__(self, config: Config, source: str, *, history: bool = True) -> None:
        self.config = config
        self.source = source
        self.meter = CostMeter(
            price_book(config),
            config.get("reference", "provider"),
            config.get("reference", "model"),
        )
        self.store_error: str | None = None
        self.store: Store | None = None  # for reads; writes go through the recorder
        self.recorder: Recorder | None = None
        if history:
            try:
                self.store = open_store(data_dir())
                self.recorder = Recorder(data_dir())
            except StoreError as exc:
                # History is worth a warning, not a crash: the chat still works.
                self.store_error = f"History is off: {exc}"
        self._session = Handle()
        self._pin: str | None = None  # the rung pinned (None: Auto), stored with the session
        self._today_at_send = Decimal(0)
        self._spent_at_refresh = Decimal(0)  # this session's spend when today was read
        # Called once before the first reply is priced (`rung ask` waits for fresh
        # prices there when online price updates are on).
        self.before_pricing: Callable[[], None] | None = None

    # -- configuration ---------------------------------------------------------------
    def reload_config(self, config: Config) -> None:
        self.config = config
        self.meter.book = price_book(config)
        self.meter.reference_provider = config.get("reference", "provider")
        self.meter.reference_model = config.get("reference", "model")

    @property
    def session_id(self) -> int | None:
        """The stored session's id, once its first message is written."""
        if self.recorder is not None and self._session.row_id is None:
            self.recorder.flush(2.0)
        return self._session.row_id

    # -- money -------------------------------------------------------------------------
    @property
    def budget(self) -> Budget:
        return Budget(
            self.config.get("budget", "session_usd"), self.config.get("budget", "daily_usd")
        )

    def refresh_today(self) -> None:
        """Re-read today's spend (all processes) once per message, before it is sent.
        While a reply streams, budgets use this figure plus the live estimate."""
        total = self.meter.totals().spent
        self._spent_at_refresh = total
        if self.store is None:
            self._today_at_send = total
            return
        if self.recorder is not None:
            self.recorder.flush(0.5)  # our own last reply, if still queued
        try:
            self._today_at_send = self.store.spent_since(start_of_today())
        except Exception as exc:  # a damaged file must not block sending
            self.store_error = f"Could not read today's spend: {describe_sqlite_error(exc)}"
            self._today_at_send = total

    def budget_state(self, live: MessageCost | None = None) -> BudgetState:
        extra = live.cost.usd if live is not None and live.cost.usd is not None else 0
        return self.budget.check(
            self.meter.totals().spent + extra, self._today_at_send + Decimal(extra)
        )

    def budget_state_since_refresh(self) -> BudgetState:
        """The budget with what was priced since ``refresh_today`` added to today's figure:
        an agent's steps between two reads of the history (a read waits for the history's
        writes, milliseconds a step)."""
        spent = self.meter.totals().spent
        since = spent - self._spent_at_refresh
        return self.budget.check(spent, self._today_at_send + since)

    def allows(self, tier: Tier) -> BudgetState:
        """The budget's say on calling this rung now (free rungs are always allowed)."""
        if tier.kind not in PAID_KINDS:
            return BudgetState("ok")
        return self.budget_state()

    def allows_kind(self, kind: str) -> bool:
        return kind not in PAID_KINDS or not self.budget_state().blocks_paid

    def price(self, tier: Tier, reply: Reply, finish_reason: str | None = None) -> MessageCost:
        """Price a reply (finished, failed, cancelled or interrupted)."""
        if self.before_pricing is not None:
            gate, self.before_pricing = self.before_pricing, None
            gate()
        reported = reply.finished.model if reply.finished and reply.finished.model else ""
        # Priced by the model the provider says it actually used (an alias can point at a
        # newer, differently priced model) — unless the user set a price for the name
        # they configured, which wins. Either falls back to the other if it has no price.
        names = (reported, tier.model)
        if self.meter.book.has_override(tier.model, tier.provider or tier.name):
            names = (tier.model, reported)
        candidates = list(dict.fromkeys(m for m in names if m)) or [tier.model]
        record: MessageCost | None = None
        for model in candidates:
            record = self.meter.price(
                tier=tier.name,
                kind=tier.kind,
                provider=tier.provider or tier.name,
                model=model,
                usage=reply.usage,
                busy_s=busy_seconds(reply),
                finish_reason=finish_reason or reply.finish_reason,
            )
            if record.cost.known:
                break
        assert record is not None
        return record

    def live_cost(
        self, tier: Tier, request: ChatRequest, chars: int, deltas: int, busy_s: float,
        usage: Usage | None,
    ) -> MessageCost:  # fmt: skip
        return self.meter.estimate_live(
            tier=tier.name,
            kind=tier.kind,
            provider=tier.provider or tier.name,
            model=tier.model,
            request=request,
            chars=chars,
            deltas=deltas,
            busy_s=busy_s,
            usage=usage,
        )

    # -- history -----------------------------------------------------------------------
    def _ensure_session(self, store: Store) -> int:
        if self._session.row_id is None:
            self._session.row_id = store.start_session(self.source)
            if self._pin is not None:
                store.set_session_pin(self._session.row_id, self._pin)
        return self._session.row_id

    def note_pin(self, pin: str | None) -> None:
        """The rung this conversation is pinned to (None: Auto), kept with it so that a
        resumed conversation comes back pinned the same way."""
        self._pin = pin
        # The row as it is now: read in the writer thread, it could be a session resumed
        # meanwhile, whose own stored pin this would overwrite before it is read.
        row = self._session.row_id
        if self.recorder is None or row is None:
            return

        def write(store: Store) -> None:
            store.set_session_pin(row, pin)

        self.recorder.submit(write)

    def stored_pin(self, session_id: int) -> str | None:
        """The rung a stored session was pinned to (None: Auto, or unreadable)."""
        if self.store is None:
            return None
        try:
            return self.store.session_pin(session_id)
        except Exception:  # a damaged history: the conversation still resumes, on Auto
            return None

    def record_question(self, question: str) -> Handle:
        handle = Handle()
        if self.recorder is None:
            return handle

        def add(store: Store) -> None:
            handle.row_id = store.add_user_message(self._ensure_session(store), question)

        self.recorder.submit(add)
        return handle

    def supersede(self, question: Handle) -> None:
        """The question (and what answered it) was edited and sent again."""
        if self.recorder is None:
            return

        def mark(store: Store) -> None:
            if question.row_id is not None and self._session.row_id is not None:
                store.supersede(self._session.row_id, question.row_id)

        self.recorder.submit(mark)

    def supersede_reply(self, reply: Handle) -> None:
        """One reply was replaced (an agent's answer escalated with F9): it stays paid
        for in the history, and is no longer read back as part of the conversation."""
        if self.recorder is None:
            return

        def mark(store: Store) -> None:
            if reply.row_id is not None and self._session.row_id is not None:
                store.supersede(self._session.row_id, reply.row_id)

        self.recorder.submit(mark)

    def begin_reply(
        self, tier: Tier, reason: str, *, step_kind: str | None = None, aside: bool = False
    ) -> Handle:
        """``step_kind``: an agent step's kind; ``aside``: paid for, not part of the
        conversation read back (an agent's compaction summary)."""
        handle = Handle()
        if self.recorder is None:
            return handle
        model = tier.model

        def begin(store: Store) -> None:
            session = self._ensure_session(store)
            handle.row_id = store.begin_reply(
                session, tier.name, tier.kind, tier.provider or tier.name, model, reason,
                step_kind, aside,
            )  # fmt: skip

        self.recorder.submit(begin)
        return handle

    def update_reply(self, handle: Handle, text: str, record: MessageCost) -> None:
        """The reply so far: written at most once per call, coalesced while queued."""
        if self.recorder is not None:
            self.recorder.update(handle, _write_streaming, (text, record))

    def keep_interrupted(
        self,
        tier: Tier,
        handle: Handle,
        turn: Turn,
        step_kind: str = "",
        guess: Usage | None = None,
    ) -> MessageCost:
        """A reply cut short by the process or the view going away (Ctrl-C, quit, Esc):
        what arrived and what it used are kept, priced, marked interrupted
        (``step_kind``: an agent step's, for the breakdowns by kind; ``guess``: the
        caller's better estimate when the tier reported no usage)."""
        reply = turn.reply
        if not turn.usage_reported:
            reply.usage = guess or turn.estimate()
        record = dataclasses.replace(self.price(tier, reply, INTERRUPTED), step_kind=step_kind)
        self.finish_reply(handle, reply.text, record, "interrupted")
        return record

    def finish_reply(
        self, handle: Handle, text: str, record: MessageCost, error: str | None
    ) -> None:
        self.meter.add(record)
        if self.recorder is None:
            return

        def finish(store: Store) -> None:
            handle.pending = None  # a queued streaming update must not undo the end
            if handle.row_id is not None:
                store.update_reply(handle.row_id, text, record, error=error, final=True)

        self.recorder.submit(finish)

    def problems(self) -> list[str]:
        found = [self.store_error] if self.store_error else []
        self.store_error = None
        if self.recorder is not None:
            found += self.recorder.problems()
        return found

    def new_session(self) -> None:
        """The next message starts a new stored conversation (Ctrl+N)."""
        self._session = Handle()
        self.meter.records.clear()

    def resume(self, session_id: int) -> list[StoredMessage]:
        """Continue an earlier session: its messages, its costs in the meter, and new
        messages join it."""
        if self.store is None:
            raise LookupError(self.store_error or "history is off")
        try:
            messages = self.store.transcript(session_id)
        except Exception as exc:
            raise LookupError(f"Cannot read the history: {describe_sqlite_error(exc)}") from None
        if not messages:
            raise LookupError(f"No session #{session_id} with messages in the history.")
        self._session = Handle(row_id=session_id)
        self.meter.records.clear()
        for m in messages:
            if m.role == "assistant" and m.finish_reason != STREAMING:
                self.meter.add(stored_cost(m))  # an edited-away reply was paid for too
        return [m for m in messages if not m.superseded]

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        if self.store is not None:
            self.store.close()


def _write_streaming(store: Store, row_id: int, state: tuple[Any, ...]) -> None:
    text, record = state
    store.update_reply(row_id, text, record)


def stored_cost(m: StoredMessage) -> MessageCost:
    """A stored reply as the meter holds it, so a resumed session's totals are right."""
    usage = Usage(
        input_tokens=m.input_tokens,
        output_tokens=m.output_tokens,
        cached_input_tokens=m.cached_input_tokens,
        cache_write_tokens=m.cache_write_tokens,
        reasoning_tokens=m.reasoning_tokens,
        estimated=m.estimated,
    )
    when = datetime.fromisoformat(m.created_at) if m.created_at else datetime.now(UTC)
    basis = m.price_basis or ("unknown" if m.cost_usd is None else "stored")
    return MessageCost(
        tier=m.tier or "?",
        kind=m.kind or "api",
        provider=m.provider or "",
        model=m.model or "?",
        usage=usage,
        cost=Cost(m.cost_usd, not m.estimated, basis),
        reference=Cost(m.reference_usd, not m.estimated, "stored"),
        when=when,
        busy_s=m.busy_s,
        finish_reason=m.finish_reason or "stop",
        step_kind=m.step_kind,
    )
