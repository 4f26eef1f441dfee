"""What your own history would have cost elsewhere: `rung cost --what-if`.

The stored token counts of every reply in a period are priced again on every rung of
the ladder and on the reference model, each at the price in force when the reply was
made (off-peak windows follow the timestamp). Counts from the same model price exactly;
counts from another model are an estimate, since tokenizers differ, and are labelled so.
Cached input is discounted where the target prices a cache read, and charged at the
full input price where it does not (genai-prices and overrides both work that way).

The self-hosted rung is GPU time: the output tokens divided by the speed Rung measured
on it (output tokens per busy second, from the history) gives the hours; renting that
GPU full-time breaks even with an API at some daily volume, which is said in words.
No Textual and no network here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rung.engine.config import Config
from rung.engine.session import price_book
from rung.engine.store import Store, StoredMessage
from rung.tiers.base import Usage
from rung.tiers.local import EMBEDDED_MODEL_NAME, model_display_name
from rung.tiers.pricing import PriceBook
from rung.tiers.providers import PROVIDERS

DEFAULT_DAYS = 30
HOURS_PER_DAY = Decimal(24)
SECONDS_PER_DAY = 86_400
# How a reply may have ended and still tell the server's speed (a failed or cancelled
# one spent time on nothing that counts).
SPEED_ENDINGS = ("stop", "length")


@dataclass(frozen=True)
class Speed:
    """Output tokens per second a rung kept its server busy, measured on stored replies."""

    tokens_per_s: float
    replies: int
    output_tokens: int
    busy_s: float


def measured_speeds(rows: list[StoredMessage]) -> dict[str, Speed]:
    """Per rung (local and self-hosted): output tokens over busy seconds. Prompt
    processing is in the busy time too, so this is the speed at the user's own mix."""
    totals: dict[str, list[float]] = {}
    for m in rows:
        if m.kind not in ("local", "selfhosted") or m.finish_reason not in SPEED_ENDINGS:
            continue
        if m.busy_s <= 0 or m.output_tokens <= 0 or not m.tier:
            continue
        t = totals.setdefault(m.tier, [0, 0, 0.0])
        t[0] += 1
        t[1] += m.output_tokens
        t[2] += m.busy_s
    return {
        tier: Speed(out / busy, int(n), int(out), busy)
        for tier, (n, out, busy) in totals.items()
        if busy > 0
    }


def measured_throughput(store: Store) -> dict[str, float]:
    """Output tokens/s per local and self-hosted rung, over the whole history."""
    try:
        return {t: s.tokens_per_s for t, s in measured_speeds(store.replies_since()).items()}
    except Exception:  # a damaged history: the estimate assumes a speed instead
        return {}


@dataclass(frozen=True)
class Target:
    """Where the history is priced again: a rung of the ladder, or the reference."""

    name: str
    kind: str
    provider: str
    model: str


def configured_model(config: Config, name: str) -> str:
    """The model a rung uses by the config, without building the rung (as build_tier
    picks it; a self-hosted server's model is only known once asked)."""
    if name == "local":
        path = config.get("local", "model_path")
        return model_display_name(Path(path).expanduser()) if path else EMBEDDED_MODEL_NAME
    if name == "selfhosted":
        return config.get("selfhosted", "model")
    preset = PROVIDERS[name]
    return config.provider(name).get("model") or preset.default_model


def targets(config: Config) -> list[Target]:
    out = []
    for name in dict.fromkeys(config.get("ladder", "rungs")):
        preset = PROVIDERS.get(name)
        if preset is None:
            continue
        model = configured_model(config, name) or "(the server's model)"
        out.append(Target(name, preset.kind, name, model))
    provider = config.get("reference", "provider")
    out.append(Target("reference", "api", provider, config.get("reference", "model")))
    return out


@functools.lru_cache(maxsize=256)
def _canonical(provider: str, model: str) -> str:
    """One name per model, whatever alias or dated id a provider reported, so "the same
    model" is told right (genai-prices knows the aliases)."""
    price_id = PROVIDERS[provider].price_id if provider in PROVIDERS else None
    try:
        from genai_prices import data_snapshot

        found = data_snapshot.get_snapshot().find_provider_model(model, None, price_id, None)
        return found[1].id.lower()
    except Exception:  # unknown to the price table: its own name, without a vendor path
        return model.lower().rsplit("/", 1)[-1]


@dataclass
class Repriced:
    """The period's replies on one target."""

    target: Target
    usd: Decimal = Decimal(0)  # the known part
    unknown: int = 0  # replies whose price on this target is unknown (not in ``usd``)
    same_model: int = 0  # priced from the model's own counts: exact
    other_model: int = 0  # priced from another model's counts: an estimate
    estimated_counts: int = 0  # the stored counts were themselves estimates
    basis: str = "tokens"  # "tokens", "free", "energy", "gpu-time", "gpu-mtok"
    gpu_hours: float | None = None
    speed: Speed | None = None
    note: str = ""

    @property
    def replies(self) -> int:
        return self.same_model + self.other_model

    @property
    def known(self) -> bool:
        return self.unknown == 0

    @property
    def exact(self) -> bool:
        return self.other_model == 0 and self.estimated_counts == 0 and self.unknown == 0

    @property
    def label(self) -> str:
        if self.unknown and self.unknown == self.replies:
            return "price unknown" + (f": {self.note}" if self.note else "")
        if self.basis == "free":
            return "free"
        if self.exact:
            return "exact (same model)"
        if self.same_model and self.other_model:
            label = (
                f"exact for {self.same_model}, estimate for {self.other_model} (tokenizers differ)"
            )
        elif self.other_model:
            label = "estimate (other models' token counts; tokenizers differ)"
        else:
            label = "estimate (counted tokens)"
        return label + (f"; {self.unknown} unknown" if self.unknown else "")


@dataclass(frozen=True)
class BreakEven:
    """Renting the self-hosted GPU full-time against paying one API per token."""

    api: Target
    usd_per_output_token: Decimal  # the API's cost per output token at the user's mix
    gpu_usd_per_hour: Decimal
    tokens_per_day: Decimal  # the daily output volume where the two cost the same
    your_tokens_per_day: Decimal
    capacity_per_day: float | None  # what the GPU produces at the measured speed

    @property
    def gpu_usd_per_day(self) -> Decimal:
        return self.gpu_usd_per_hour * HOURS_PER_DAY

    @property
    def reachable(self) -> bool | None:
        """Whether the GPU can produce the break-even volume at the speed measured
        (one request at a time); None when its speed is unknown."""
        if self.capacity_per_day is None:
            return None
        return Decimal(str(self.capacity_per_day)) >= self.tokens_per_day


@dataclass
class WhatIf:
    days: int
    since: datetime
    span_days: float  # the days the period's history actually covers (at least 1)
    replies: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    paid: Decimal
    paid_unknown: int
    paid_estimated: bool
    targets: list[Repriced] = field(default_factory=list)
    break_even: list[BreakEven] = field(default_factory=list)


def _when(m: StoredMessage) -> datetime:
    try:
        when = datetime.fromisoformat(m.created_at)
    except ValueError:
        return datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _usage(m: StoredMessage) -> Usage:
    return Usage(
        input_tokens=m.input_tokens,
        output_tokens=m.output_tokens,
        cached_input_tokens=m.cached_input_tokens,
        cache_write_tokens=m.cache_write_tokens,
        reasoning_tokens=m.reasoning_tokens,
        estimated=m.estimated,
    )


def _reprice(
    target: Target, rows: list[StoredMessage], book: PriceBook, speeds: dict[str, Speed]
) -> Repriced:
    out = Repriced(target)
    canonical = _canonical(target.provider, target.model)
    speed = speeds.get(target.name) if target.kind in ("local", "selfhosted") else None
    out.speed = speed
    if target.kind == "local" and not (book.energy_watts and book.energy_usd_per_kwh):
        out.basis = "free"
    elif target.kind == "local":
        out.basis = "energy"
    elif target.kind == "selfhosted":
        out.basis = "gpu-mtok" if book.selfhosted_usd_per_mtok is not None else "gpu-time"
    busy_total = 0.0
    for m in rows:
        usage = _usage(m)
        # A reply made on this very rung (or on the same model elsewhere) keeps its counts.
        same = (target.kind != "api" and m.tier == target.name) or (
            _canonical(m.provider or "", m.model or "") == canonical
        )
        if same:
            out.same_model += 1
        else:
            out.other_model += 1
        out.estimated_counts += int(m.estimated)
        busy: float = 0.0
        if target.kind in ("local", "selfhosted"):
            if m.tier == target.name:
                busy = m.busy_s  # measured on that server: its own busy time
            elif speed is not None:
                busy = m.output_tokens / speed.tokens_per_s
            elif out.basis in ("energy", "gpu-time"):
                out.unknown += 1
                out.note = f"no {target.name} replies in the history to measure its speed"
                continue
        busy_total += busy
        cost = book.cost(
            kind=target.kind,
            provider=target.provider,
            model=target.model,
            usage=usage,
            when=_when(m),
            busy_s=busy,
        )
        if cost.usd is None:
            out.unknown += 1
            out.note = cost.note
        else:
            out.usd += cost.usd
    if target.kind == "selfhosted" and out.basis == "gpu-time":
        out.gpu_hours = busy_total / 3600
    return out


def what_if(
    config: Config, store: Store, days: int = DEFAULT_DAYS, now: datetime | None = None
) -> WhatIf:
    """Price the last ``days`` of history on every rung and on the reference."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    rows = store.replies_since(since)
    speeds = measured_speeds(store.replies_since())
    book = price_book(config)
    first = min((_when(m) for m in rows), default=now)
    span = max(1.0, min(float(days), (now - first).total_seconds() / SECONDS_PER_DAY))
    result = WhatIf(
        days=days,
        since=since,
        span_days=span,
        replies=len(rows),
        input_tokens=sum(m.input_tokens for m in rows),
        cached_tokens=sum(m.cached_input_tokens for m in rows),
        output_tokens=sum(m.output_tokens for m in rows),
        paid=sum((m.cost_usd for m in rows if m.cost_usd is not None), Decimal(0)),
        paid_unknown=sum(1 for m in rows if m.cost_usd is None),
        paid_estimated=any(m.estimated for m in rows),
    )
    result.targets = [_reprice(t, rows, book, speeds) for t in targets(config)]
    result.break_even = break_even(result, book, speeds)
    return result


def break_even(result: WhatIf, book: PriceBook, speeds: dict[str, Speed]) -> list[BreakEven]:
    """For a self-hosted rung priced by the hour: the daily output volume at which a
    GPU rented full-time costs what each API on the ladder (and the reference) does."""
    hosted = next((r for r in result.targets if r.target.kind == "selfhosted"), None)
    rate = book.gpu_usd_per_hour
    if hosted is None or hosted.basis != "gpu-time" or not rate or not result.output_tokens:
        return []
    speed = speeds.get(hosted.target.name)
    capacity = speed.tokens_per_s * SECONDS_PER_DAY if speed else None
    yours = Decimal(result.output_tokens) / Decimal(str(result.span_days))
    out = []
    for r in result.targets:
        if r.target.kind != "api" or not r.known or r.usd <= 0:
            continue
        per_token = r.usd / result.output_tokens
        out.append(
            BreakEven(r.target, per_token, rate, rate * HOURS_PER_DAY / per_token, yours, capacity)
        )
    return out


def whatif_json(result: WhatIf) -> dict[str, object]:
    def usd(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "days": result.days,
        "since": result.since.isoformat(),
        "span_days": result.span_days,
        "replies": result.replies,
        "input_tokens": result.input_tokens,
        "cached_input_tokens": result.cached_tokens,
        "output_tokens": result.output_tokens,
        "paid_usd": str(result.paid),
        "paid_unknown": result.paid_unknown,
        "targets": [
            {
                "rung": r.target.name,
                "kind": r.target.kind,
                "provider": r.target.provider,
                "model": r.target.model,
                # null only when no reply could be priced on it
                "usd": usd(r.usd) if not (r.unknown and r.unknown == r.replies) else None,
                "unknown": r.unknown,
                "exact": r.exact,
                "same_model_replies": r.same_model,
                "other_model_replies": r.other_model,
                "estimated_count_replies": r.estimated_counts,
                "basis": r.basis,
                "label": r.label,
                "gpu_hours": r.gpu_hours,
                "measured_tokens_per_s": r.speed.tokens_per_s if r.speed else None,
                "measured_replies": r.speed.replies if r.speed else None,
            }
            for r in result.targets
        ],
        "break_even": [
            {
                "api_rung": b.api.name,
                "api_model": b.api.model,
                "gpu_usd_per_hour": str(b.gpu_usd_per_hour),
                "gpu_usd_per_day": str(b.gpu_usd_per_day),
                "api_usd_per_output_token": str(b.usd_per_output_token),
                "break_even_output_tokens_per_day": str(round(b.tokens_per_day)),
                "your_output_tokens_per_day": str(round(b.your_tokens_per_day)),
                "gpu_capacity_output_tokens_per_day": (
                    None if b.capacity_per_day is None else round(b.capacity_per_day)
                ),
            }
            for b in result.break_even
        ],
    }
