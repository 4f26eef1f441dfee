"""A model's genai-prices price as per-token rates, for the prices that are linear.

genai-prices' ``calc_price`` decomposes the usage and validates the price units on
every call: 0.2-0.6 ms a call on a 2-core machine, paid by every agent step at least
twice (its own price, the reference model's "saved" figure) — 2-4% of a local model
server's round trip. A price without long-context tiers is an affine function of the
token counts while they are consistent (cache reads and writes within the input), so
its rates are read once per model and price window from ``calc_price`` itself, at a
base point and one step along each count, and then CHECKED against ``calc_price`` at a
distant point: exactly equal (Decimal), or the model keeps the slow path. Tiered
prices, inconsistent counts and anything unexpected take the slow path too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

# 1-hour cache writes (rare) take the slow path: many models have no such price.
FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
BASE = (40_000, 4_000, 8_000, 4_000)
STEP = 1_000
CHECK = (3_123_457, 98_765, 1_234_567, 654_321)

Rates = tuple[Decimal, tuple[Decimal, ...]]  # (the constant, a rate per count)
Price = Callable[[dict[str, int]], Decimal]  # genai-prices' own, for a usage

_lock = threading.Lock()
# Keyed by the price object genai-prices resolved (which holds it: ids stay unique);
# None: this price takes the slow path.
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
    """The price of ``values`` from cached rates, or None (use ``slow``)."""
    counts = tuple(values.get(f, 0) for f in FIELDS)
    inp, _, read, write = counts
    if min(counts) < 0 or read + write > inp or values.get("cache_write_1h_tokens"):
        return None  # outside the region the rates were read in
    key = id(model_price)
    with _lock:
        known = _rates.get(key)
    if known is None or known[0] is not model_price:
        rates = _read_rates(model_price, slow)
        with _lock:
            _rates[key] = (model_price, rates)
    else:
        rates = known[1]
    if rates is None:
        return None
    constant, per = rates
    return constant + sum((r * n for r, n in zip(per, counts, strict=True)), Decimal(0))


def _read_rates(model_price: Any, slow: Price) -> Rates | None:
    from genai_prices.types import TieredPrices

    if any(isinstance(v, TieredPrices) for v in vars(model_price).values()):
        return None
    try:
        base = slow(dict(zip(FIELDS, BASE, strict=True)))
        per = []
        for index in range(len(FIELDS)):
            moved = list(BASE)
            moved[index] += STEP
            per.append((slow(dict(zip(FIELDS, moved, strict=True))) - base) / STEP)
        constant = base - sum((r * n for r, n in zip(per, BASE, strict=True)), Decimal(0))
        rates = (constant, tuple(per))
        check = dict(zip(FIELDS, CHECK, strict=True))
        linear = constant + sum((r * n for r, n in zip(per, CHECK, strict=True)), Decimal(0))
        if linear != slow(check):
            return None
    except Exception:  # a price genai-prices cannot compute here: the slow path
        return None
    return rates
