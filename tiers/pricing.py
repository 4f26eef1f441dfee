"""Usage -> money, as Decimal, priced the way each provider bills.

Where prices come from, in order:
1. the user's override for that model (config ``[prices."model"]``, $ per million tokens);
2. genai-prices' bundled snapshot (cache reads and writes, 1-hour cache writes,
   long-context tiers, time-of-day prices such as DeepSeek's off-peak window);
3. otherwise the price is *unknown*, shown as such — never silently $0.

The self-hosted rung is priced as GPU time (busy seconds x $/hour) or at a configured
effective $/Mtok; the local rung is free, or costs its energy when configured.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from .price_rates import linear_price, resolved_price
from .providers import PROVIDERS

if TYPE_CHECKING:  # the chat screen draws its first frame without the tiers' types
    from .base import Usage

MILLION = Decimal(1_000_000)
SECONDS_PER_HOUR = Decimal(3600)
# Money from a rate times a measured time (GPU hours, energy) is not exact: $2.50/h x
# 0.041756 s divides by 3600 into a 28-digit fraction. Such amounts are rounded here, once,
# to a ten-billionth of a dollar (far below any figure shown); per-token prices stay exact.
TIME_PRICED_QUANTUM = Decimal("1e-10")


def time_priced(usd: Decimal) -> Decimal:
    """An amount computed from a rate and a measured time, rounded to the money quantum."""
    rounded = usd.quantize(TIME_PRICED_QUANTUM, ROUND_HALF_UP)
    return rounded if rounded else Decimal(0)  # "0", not "0E-10"


def usd_text(amount: Decimal) -> str:
    """An exact decimal string for JSON: plain digits, never "1E-7"."""
    return format(amount, "f")


@dataclass(frozen=True)
class Cost:
    """What one message cost. ``usd`` is None when the price is unknown."""

    usd: Decimal | None
    exact: bool  # False when the token counts were estimated
    basis: str  # "override", "genai-prices", "gpu-time", "gpu-mtok", "local", "energy", "unknown"
    note: str = ""

    @property
    def known(self) -> bool:
        return self.usd is not None


@dataclass(frozen=True)
class PriceOverride:
    """$ per million tokens. Missing cache prices fall back to the input price."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal:
        cached = usage.cached_input_tokens
        written = usage.cache_write_tokens
        fresh = max(0, usage.input_tokens - cached - written)
        read_price = self.cache_read if self.cache_read is not None else self.input
        write_price = self.cache_write if self.cache_write is not None else self.input
        return (
            fresh * self.input
            + cached * read_price
            + written * write_price
            + usage.output_tokens * self.output
        ) / MILLION


@dataclass
class PriceBook:
    overrides: dict[str, PriceOverride] = field(default_factory=dict)
    gpu_usd_per_hour: Decimal | None = Decimal("2.50")
    selfhosted_usd_per_mtok: Decimal | None = None
    energy_watts: Decimal | None = None
    energy_usd_per_kwh: Decimal | None = None

    @classmethod
    def from_tables(cls, prices: dict[str, dict[str, Decimal]], **kwargs: object) -> PriceBook:
        """Build from the config's ``[prices]`` tables (input/output required)."""
        overrides = {
            model: PriceOverride(
                input=p["input"],
                output=p["output"],
                cache_read=p.get("cache_read"),
                cache_write=p.get("cache_write"),
            )
            for model, p in prices.items()
            if "input" in p and "output" in p
        }
        return cls(overrides=overrides, **kwargs)  # type: ignore[arg-type]

    def has_override(self, model: str, provider: str = "") -> bool:
        """Whether the user set a price for this model (by name or provider/name)."""
        return model in self.overrides or f"{provider}/{model}" in self.overrides

    def cost(
        self,
        *,
        kind: str,
        provider: str,
        model: str,
        usage: Usage,
        when: datetime,
        busy_s: float = 0.0,
    ) -> Cost:
        exact = not usage.estimated
        if kind == "local":
            return self._local(busy_s, exact)
        if kind == "selfhosted":
            return self._selfhosted(usage, busy_s, exact)
        return self.api_cost(provider, model, usage, when, exact)

    def api_cost(
        self, provider: str, model: str, usage: Usage, when: datetime, exact: bool = True
    ) -> Cost:
        override = self.overrides.get(model) or self.overrides.get(f"{provider}/{model}")
        if override is not None:
            return Cost(override.cost(usage), exact, "override")
        price_id = PROVIDERS[provider].price_id if provider in PROVIDERS else None
        usd = genai_price(price_id, model, usage, when)
        if usd is None:
            return Cost(None, exact, "unknown", f"no price known for {model}")
        return Cost(usd, exact, "genai-prices")

    def _local(self, busy_s: float, exact: bool) -> Cost:
        if self.energy_watts and self.energy_usd_per_kwh:
            kwh = self.energy_watts * Decimal(str(busy_s)) / SECONDS_PER_HOUR / 1000
            return Cost(time_priced(kwh * self.energy_usd_per_kwh), exact, "energy")
        return Cost(Decimal(0), exact, "local")

    def _selfhosted(self, usage: Usage, busy_s: float, exact: bool) -> Cost:
        tokens = usage.input_tokens + usage.output_tokens
        if self.selfhosted_usd_per_mtok is not None:
            usd = tokens * self.selfhosted_usd_per_mtok / MILLION
            return Cost(usd, exact, "gpu-mtok", f"${self.selfhosted_usd_per_mtok}/Mtok")
        if self.gpu_usd_per_hour is None:
            return Cost(None, exact, "unknown", "no GPU price per hour set")
        usd = time_priced(self.gpu_usd_per_hour * Decimal(str(busy_s)) / SECONDS_PER_HOUR)
        # Busy time is measured by Rung, so it is exact even when tokens were counted.
        note = ""
        if tokens:
            note = f"effective ${(usd / tokens * MILLION).quantize(Decimal('0.01'))}/Mtok"
        return Cost(usd, True, "gpu-time", note)


def load_price_tables() -> None:
    """Import genai-prices and its bundled tables now (~140 ms), ahead of the first reply
    the live meter prices; callers do it off the event loop."""
    import genai_prices  # noqa: F401


def genai_price(price_id: str | None, model: str, usage: Usage, when: datetime) -> Decimal | None:
    """Price from genai-prices' bundled snapshot (no network), or None if unknown."""
    if not model:
        return None
    from genai_prices import Usage as GUsage
    from genai_prices import calc_price

    write_1h = usage.cache_write_1h_tokens
    values: dict[str, int] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cached_input_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
    }
    if write_1h:
        values["cache_write_1h_tokens"] = write_1h

    def slow(counts: dict[str, int]) -> Decimal:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = calc_price(
                GUsage(**counts), model, provider_id=price_id, genai_request_timestamp=when
            )
        return Decimal(result.total_price)

    # The same price from rates read once per model (tiers/price_rates.py): an agent
    # step paid ~0.5 ms for each price genai-prices computed.
    model_price = resolved_price(price_id, model, when)
    if model_price is not None:
        fast = linear_price(model_price, values, slow)
        if fast is not None:
            return fast
    try:
        return slow(values)
    except Exception:  # LookupError for unknown models; anything else is unknown too
        return None


def savings_text(saved: Decimal, reference_model: str) -> str:
    """ "saved $x vs ref", or, when the reply cost more than the reference would have,
    "cost $x more than ref" (a saving must never hide a loss)."""
    if saved < 0:
        return f"cost {format_usd(-saved)} more than {reference_model}"
    return f"saved {format_usd(saved)} vs {reference_model}"


def format_usd(amount: Decimal | None, estimated: bool = False) -> str:
    """$0.0123 below a dollar, $12.34 above; "~" marks an estimate; None is "price unknown"."""
    if amount is None:
        return "price unknown"
    if amount < 0:
        return "-" + format_usd(-amount, estimated)
    sign = "~" if estimated else ""
    if amount == 0:
        return f"{sign}$0"
    if amount < Decimal("0.0001"):
        return f"{sign}<$0.0001"
    if amount < 1:
        digits = f"{amount.quantize(Decimal('0.0001'), ROUND_HALF_UP):f}".rstrip("0")
        whole, _, cents = digits.partition(".")
        return f"{sign}${whole}.{cents.ljust(2, '0')}"
    return f"{sign}${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,f}"
