"""A model's genai-prices price computed from its per-million prices, for the prices
that are plain numbers.

genai-prices' ``calc_price`` decomposes the usage and validates the price units on
every call: 0.2-0.6 ms a call on a 2-core machine, paid by every agent step at least
twice (its own price, the reference model's "saved" figure) — 2-4% of a local model
server's round trip. For a model whose prices are plain input, output, cache-read and
cache-write prices, the price is summed here as genai-prices sums it; that it is the
same is CHECKED once per model and price window against ``calc_price`` at six points,
value and digits ("0.30012", not "0.30012000": a cost's text is shown and exported),
or the model keeps the slow path. Tiered (long-context) prices, 1-hour cache writes
and inconsistent counts take the slow path too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

# 1-hour cache writes (rare) take the slow path: many models have no such price.
FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
PRICES = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
MILLION = Decimal(1_000_000)
# Points where the computed price must equal genai-prices' own, value AND digits (a
# cost's text, "0.30012", is shown and exported as computed).
CHECKS = (
    (40_000, 4_000, 8_000, 4_000), (3_123_457, 98_765, 1_234_567, 654_321),
    (1_000, 0, 0, 0), (17, 3, 0, 0), (999, 1, 500, 0), (12_345, 678, 0, 9_000),
)  # fmt: skip

# genai-prices' price per million, by PRICES; and the zero the model's other units add
# (web searches, audio: not in a chat's usage), which sets the result's last digit.
Rates = tuple[tuple[Decimal | None, ...], Decimal]
Price = Callable[[dict[str, int]], Decimal]  # genai-prices' own, for a usage

_lock = threading.Lock()
# Keyed by the price object genai-prices resolved (which the entry holds: ids stay
# unique); None: this price takes the slow path.
_rates: dict[int, tuple[Any, Rates | None]] = {}


def resolved_price(price_id: str | None, model: str, when: datetime) -> Any:
    """The model price genai-prices would use (its snapshot, the price window of
    ``when``), or None when it does not know the model."""
    from genai_prices import data_snapshot

    try:
        _, found = data_snapshot.get_snapshot().find_provider_model(model, None, price_id, None)
        return found.get_prices(when)
    except Exception:  # LookupError for unknown models: the slow path says so
        return None


def linear_price(model_price: Any, values: dict[str, int], slow: Price) -> Decimal | None:
    """The price of ``values`` from the model's rates, or None (use ``slow``)."""
    counts = tuple(values.get(f, 0) for f in FIELDS)
    inp, _, read, write = counts
    if min(counts) < 0 or read + write > inp or values.get("cache_write_1h_tokens"):
        return None  # outside what the rates were checked for
    key = id(model_price)
    with _lock:
        known = _rates.get(key)
    if known is None or known[0] is not model_price:
        rates = _checked_rates(model_price, slow)
        with _lock:
            _rates[key] = (model_price, rates)
    else:
        rates = known[1]
    return None if rates is None else _price(rates, counts)


def _price(rates: Rates, counts: tuple[int, ...]) -> Decimal:
    """As genai-prices sums it: each priced unit's price x count / a million (cache
    reads and writes without a price of their own are billed as input)."""
    inp, out, read, write = counts
    (p_in, p_out, p_read, p_write), zero = rates
    uncached = inp - (read if p_read is not None else 0) - (write if p_write is not None else 0)
    total = zero
    for price, count in ((p_in, uncached), (p_out, out), (p_read, read), (p_write, write)):
        if price is not None:
            total += price * count / MILLION
    return total


def _checked_rates(model_price: Any, slow: Price) -> Rates | None:
    from genai_prices.types import TieredPrices

    # Other units (web searches, audio) are not in a chat's usage: they add a zero, which
    # the checks below confirm digit for digit.
    priced = {k: v for k, v in vars(model_price).items() if v is not None}
    if any(isinstance(v, TieredPrices) for v in priced.values()):
        return None  # long-context tiers: genai-prices' own calculation
    per_million = tuple(priced.get(name) for name in PRICES)
    if not all(r is None or isinstance(r, Decimal) for r in per_million):
        return None
    others = [v for k, v in priced.items() if k not in PRICES and isinstance(v, Decimal)]
    zero = sum((v * 0 for v in others), Decimal(0))  # 0 with the finest of their digits
    rates = (per_million, zero)
    try:
        for point in CHECKS:
            mine, theirs = _price(rates, point), slow(dict(zip(FIELDS, point, strict=True)))
            if mine != theirs or str(mine) != str(theirs):
                return None
    except Exception:  # a price genai-prices cannot compute here: the slow path
        return None
    return rates
