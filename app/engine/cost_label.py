"""How a price is labelled, decided once: the message header, the cost detail (F7) and
the cost line say the same thing about the same figure.

A figure is an estimate when its token counts were estimated, and also when it was
priced from measured time at an hourly rate (a self-hosted GPU's hours, the local
machine's energy): the time is measured, but what share of a GPU hour one reply really
costs is not, so "$0.0044" beside "exact" would claim more than Rung knows.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from rung.tiers.pricing import Cost, format_usd

# Price bases computed from measured time at a rate (see tiers/pricing.py).
TIME_PRICED = {"gpu-time": "GPU time", "energy": "energy use"}


def is_estimate(exact: bool, basis: str | None) -> bool:
    """Whether a figure is shown as an estimate ("~"), for a live or a stored price."""
    return not exact or basis in TIME_PRICED


def cost_is_estimate(cost: Cost) -> bool:
    return is_estimate(cost.exact, cost.basis)


def money(usd: Decimal | None, exact: bool, basis: str | None) -> str:
    """The amount as shown everywhere: "~" on an estimate; "price unknown" for None."""
    return format_usd(usd, usd is not None and is_estimate(exact, basis))


def figure(usd: Decimal | None, exact: bool, basis: str | None, *, short: bool = False) -> str:
    """What kind of figure it is: "exact", "estimated", "estimated from GPU time"
    ("est. (GPU time)" when ``short``) or "unknown price"."""
    if usd is None:
        return "unknown price"
    if basis in TIME_PRICED:
        return f"est. ({TIME_PRICED[basis]})" if short else f"estimated from {TIME_PRICED[basis]}"
    if not exact:
        return "est." if short else "estimated"
    return "exact"


def header_money(usd: Decimal | None, exact: bool, basis: str | None) -> str:
    """The money in a message's header line: "$0.01", "~$0.01 (estimated)",
    "~$0.0044 (estimated from GPU time)", "price unknown"."""
    shown = money(usd, exact, basis)
    if usd is not None and is_estimate(exact, basis):
        shown += f" ({figure(usd, exact, basis)})"
    return shown


def spent_is_estimate(costs: Iterable[Cost]) -> bool:
    """Whether a total of these figures is an estimate (any known one is)."""
    return any(cost_is_estimate(c) for c in costs if c.usd is not None)
