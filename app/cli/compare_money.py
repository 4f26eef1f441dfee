"""The money guard of `rung compare` before anything is spent: the --max-cost amount,
the estimate line, and the refusal to start over the limit or the daily budget.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from rung.cli.compare_progress import say
from rung.engine.compare import CompareRun, Estimate
from rung.engine.ladder import Ladder
from rung.engine.session import Session
from rung.engine.store import Store, start_of_today
from rung.tiers.budget import PAID_KINDS
from rung.tiers.pricing import format_usd


def dollars(text: str) -> Decimal | None:
    """``--max-cost``: "0.50" or "$0.50"; None when it is not an amount."""
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def estimate_line(estimate: Estimate, max_cost: Decimal | None) -> str:
    basis = (
        f"up to {estimate.output_per_cell:,} output tokens an answer (--max-tokens)"
        if estimate.output_basis == "--max-tokens"
        else f"a typical {estimate.output_per_cell:,} output tokens an answer"
    )
    total = format_usd(estimate.total, estimated=True)
    line = (
        f"{estimate.cells} cell(s); estimate {total} "
        f"(~{estimate.prompt_tokens:,} prompt tokens, {basis}"
        + (f"; judging ~{format_usd(estimate.judges)}" if estimate.judges else "")
        + ")"
    )
    if estimate.unknown:
        line += f"; price unknown for {', '.join(estimate.unknown)}, not in the estimate"
    if max_cost is not None:
        line += f"; limit {format_usd(max_cost)}"
    for note in estimate.notes:
        line += f"\n  {note}"
    return line


def money_allows(
    estimate: Estimate,
    max_cost: Decimal | None,
    run: CompareRun,
    ladder: Ladder,
    session: Session,
    store: Store | None,
) -> bool:
    if max_cost is not None:
        if estimate.unknown:
            say(
                f"refusing to start: the price of {', '.join(estimate.unknown)} is unknown, "
                "so --max-cost cannot bound it (set a price under [prices] or leave it out "
                "of --rungs)"
            )
            return False
        if estimate.total > max_cost:
            say(
                f"refusing to start: the estimate {format_usd(estimate.total, True)} is above "
                f"--max-cost {format_usd(max_cost)} (fewer prompts or rungs, a lower "
                "--max-tokens, or a higher limit)"
            )
            return False
    paid = [n for n in run.rungs if run.identity(n).kind in PAID_KINDS]
    paid += [
        c.value for p in run.prompts for c in p.judges if run.identity(c.value).kind in PAID_KINDS
    ]
    if not paid:
        return True
    today = Decimal(0)
    if store is not None:
        try:
            today = store.spent_since(start_of_today())
        except Exception as exc:
            say(f"warning: could not read today's spend: {exc}")
    state = session.budget.check(Decimal(0), today)
    if state.blocks_paid:
        say(f"refusing to start: {state.message}")
        return False
    daily = session.budget.daily_usd
    if daily is not None and today + estimate.total >= daily:
        say(
            f"warning: with this run today's spend may pass the daily budget of "
            f"{format_usd(daily)} ({format_usd(today)} spent so far)"
        )
    return True
