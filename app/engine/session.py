"""One conversation's bookkeeping, shared by the chat screen and `rung ask`: price each
reply, add it to the meter, persist it, and check the budget before a paid rung."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from rung.engine.config import Config, data_dir
from rung.engine.store import Store, StoredMessage, open_store, start_of_today
from rung.tiers.base import Reply, Tier
from rung.tiers.budget import PAID_KINDS, Budget, BudgetState
from rung.tiers.meter import CostMeter, MessageCost
from rung.tiers.pricing import PriceBook


def price_book(config: Config) -> PriceBook:
    return PriceBook.from_tables(
        config.prices,
        gpu_usd_per_hour=config.get("selfhosted", "gpu_usd_per_hour"),
        selfhosted_usd_per_mtok=config.get("selfhosted", "usd_per_mtok"),
        energy_watts=config.get("local", "energy_watts"),
        energy_usd_per_kwh=config.get("local", "energy_usd_per_kwh"),
    )


def tier_provider(tier: Tier) -> str:
    return getattr(tier, "provider", "") or tier.name


class Session:
    def __init__(self, config: Config, source: str, store: Store | None = None) -> None:
        self.config = config
        self.source = source
        self.meter = CostMeter(
            price_book(config),
            config.get("reference", "provider"),
            config.get("reference", "model"),
        )
        self.store_error: str | None = None
        self.store: Store | None = store
        if store is None:
            try:
                self.store = open_store(data_dir())
            except (sqlite3.Error, OSError) as exc:
                # History is worth a warning, not a crash: the chat still works.
                self.store_error = f"History is off: cannot open the database ({exc})."
        self._session_id: int | None = None

    def reload_config(self, config: Config) -> None:
        self.config = config
        self.meter.book = price_book(config)
        self.meter.reference_provider = config.get("reference", "provider")
        self.meter.reference_model = config.get("reference", "model")

    @property
    def budget(self) -> Budget:
        return Budget(
            self.config.get("budget", "session_usd"), self.config.get("budget", "daily_usd")
        )

    def spent_today(self) -> Decimal:
        if self.store is None:
            return self.meter.totals().spent
        try:
            return self.store.spent_since(start_of_today())
        except sqlite3.Error:
            return self.meter.totals().spent

    def budget_state(self) -> BudgetState:
        return self.budget.check(self.meter.totals().spent, self.spent_today())

    def allows(self, tier: Tier) -> BudgetState:
        """The budget's say on calling this rung now (free rungs are always allowed)."""
        if tier.kind not in PAID_KINDS:
            return BudgetState("ok")
        return self.budget_state()

    def resume(self, session_id: int) -> list[StoredMessage]:
        """Continue an earlier session: its messages, and new ones join it."""
        if self.store is None:
            raise LookupError(self.store_error or "history is off")
        messages = self.store.transcript(session_id)
        if not messages:
            raise LookupError(f"No session #{session_id} with messages in the history.")
        self._session_id = session_id
        return messages

    def _session(self) -> int | None:
        if self.store is not None and self._session_id is None:
            self._session_id = self.store.start_session(self.source)
        return self._session_id

    def record(self, tier: Tier, question: str, reply: Reply) -> MessageCost:
        """Price a finished (or failed, or cancelled) reply, count it, and persist it."""
        provider = tier_provider(tier)
        reported = reply.finished.model if reply.finished and reply.finished.model else ""
        # The user's name for the model first (their price overrides use it), then the
        # provider's exact one (e.g. a dated snapshot) if the first has no price.
        candidates = list(dict.fromkeys(m for m in (tier.model, reported) if m))
        record = None
        for model in candidates or [tier.model]:
            record = self.meter.price(
                tier=tier.name,
                kind=tier.kind,
                provider=provider,
                model=model,
                usage=reply.usage,
                busy_s=reply.duration_s,
                finish_reason=reply.finish_reason,
            )
            if record.cost.known:
                break
        assert record is not None
        self.meter.add(record)
        try:
            session_id = self._session()
            if self.store is not None and session_id is not None:
                self.store.add_user_message(session_id, question)
                self.store.add_reply(
                    session_id,
                    reply.text,
                    record,
                    reply.failed.message if reply.failed else None,
                )
        except sqlite3.Error as exc:
            self.store_error = f"Could not save to history: {exc}"
        return record

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
