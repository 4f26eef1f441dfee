"""`rung cost --what-if [--days N]`: the period's history priced again on every rung and
on the reference, and when a GPU rented full-time would pay off. Printing only: the
figures come from app/engine/whatif.py. Model names come from the config and the
history, so they pass through the terminal sanitizer."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from rung.cli.history import open_history
from rung.engine.config import Config
from rung.engine.safe_text import for_terminal, json_for_terminal, one_line
from rung.engine.whatif import BreakEven, Repriced, WhatIf, what_if, whatif_json
from rung.tiers.pricing import format_usd


def run_whatif(config: Config, days: int, as_json: bool) -> int:
    if days < 1:
        print("rung cost: --days must be at least 1", file=sys.stderr)
        return 2
    store = open_history("cost")
    if store is None:
        return 1
    try:
        result = what_if(config, store, days)
    except Exception as exc:  # a damaged file: one clear line, no traceback
        print(f"rung cost: cannot read the history: {for_terminal(str(exc))}", file=sys.stderr)
        return 1
    finally:
        store.close()
    if as_json:
        print(json_for_terminal(json.dumps(whatif_json(result), indent=2, ensure_ascii=False)))
    else:
        sys.stdout.write(for_terminal(whatif_text(result)))
    return 0


def tokens(n: float | Decimal) -> str:
    """12.3k, 4.2M: volumes read at a glance."""
    value = float(n)
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}"


def _difference(r: Repriced, result: WhatIf) -> str:
    if not r.known or result.paid_unknown:
        return "-"
    delta = r.usd - result.paid
    if delta == 0:
        return "same"
    return ("+" if delta > 0 else "-") + format_usd(abs(delta))


def _how(r: Repriced) -> str:
    if r.basis == "gpu-time" and r.gpu_hours is not None and r.speed is not None:
        replies = f"{r.speed.replies} repl{'y' if r.speed.replies == 1 else 'ies'}"
        return (
            f"GPU time: {r.gpu_hours:.3f} h at the {r.speed.tokens_per_s:.0f} tok/s "
            f"measured over {replies}; {r.label}"
        )
    if r.basis == "gpu-mtok":
        return f"at your $/Mtok for it; {r.label}"
    if r.basis == "energy":
        return f"energy at the measured speed; {r.label}"
    return r.label


def break_even_line(b: BreakEven, hosted: str) -> str:
    line = (
        f"At your volume ({tokens(b.your_tokens_per_day)} output tokens a day), a GPU at "
        f"{format_usd(b.gpu_usd_per_hour)}/h rented full-time "
        f"({format_usd(b.gpu_usd_per_day)}/day) costs more than {b.api.model} until "
        f"~{tokens(b.tokens_per_day)} output tokens a day."
    )
    if b.reachable is False and b.capacity_per_day is not None:
        line += (
            f" At the speed measured on {hosted} it makes at most "
            f"{tokens(b.capacity_per_day)} a day one request at a time: it pays off only "
            "serving requests in parallel."
        )
    return line


def whatif_text(result: WhatIf) -> str:
    since = result.since.astimezone().strftime("%Y-%m-%d")
    out = [
        f"What if: the last {result.days} days (since {since}), {result.replies} replies: "
        f"{tokens(result.input_tokens)} tokens in ({tokens(result.cached_tokens)} cached), "
        f"{tokens(result.output_tokens)} out.",
    ]
    paid = format_usd(result.paid, result.paid_estimated)
    if result.paid_unknown:
        paid += f" + {result.paid_unknown} with unknown price"
    out.append(f"You paid {paid}.")
    if not result.replies:
        out.append("Nothing to price again in this period.")
        return "\n".join(out) + "\n"
    out.append("")
    headers = ["rung", "model", "would cost", "vs paid", "how"]
    rows = []
    for r in result.targets:
        if r.unknown and r.unknown == r.replies:
            cost = "price unknown"
        else:
            cost = format_usd(r.usd, not r.exact and r.basis != "free")
            cost += " + unknown" if r.unknown else ""
        rows.append(
            [
                one_line(r.target.name, 12),
                one_line(r.target.model, 32),
                cost,
                _difference(r, result),
                _how(r),
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    out.append(fmt.format(*headers))
    out += [fmt.format(*row) for row in rows]
    out.append("")
    out.append(
        "Across models the figures use your stored token counts: another tokenizer counts "
        "the same text differently, so they are estimates (~). Cached input is discounted "
        "where the target has a cache price; off-peak prices follow each reply's time."
    )
    if result.break_even:
        hosted = next(r.target.name for r in result.targets if r.target.kind == "selfhosted")
        out += ["", "A GPU rented full-time against each API:"]
        out += [f"  {break_even_line(b, hosted)}" for b in result.break_even]
    return "\n".join(out) + "\n"
