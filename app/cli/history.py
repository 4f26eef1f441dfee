"""The history on the command line: `rung cost`, `rung sessions`, `rung export`."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from rung.engine.config import Config, data_dir
from rung.engine.store import SpendRow, open_store, start_of_today, start_of_week
from rung.tiers.pricing import format_usd


def _period(rows: list[SpendRow]) -> dict[str, object]:
    by_tier: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        by_tier[row.tier] += row.usd
    return {
        "total_usd": str(sum((r.usd for r in rows), Decimal(0))),
        "messages": sum(r.messages for r in rows),
        "unknown_price_messages": sum(r.unknown for r in rows),
        "estimated_messages": sum(r.estimated for r in rows),
        "by_tier": {tier: str(usd) for tier, usd in sorted(by_tier.items())},
        "by_model": [
            {
                "tier": r.tier,
                "model": r.model,
                "usd": str(r.usd),
                "messages": r.messages,
                "unknown_price_messages": r.unknown,
                "estimated_messages": r.estimated,
            }
            for r in rows
        ],
    }


def report() -> dict[str, dict[str, object]]:
    store = open_store(data_dir())
    try:
        return {
            "today": _period(store.spend(start_of_today())),
            "this_week": _period(store.spend(start_of_week())),
            "all_time": _period(store.spend()),
        }
    finally:
        store.close()


def run_cost(as_json: bool) -> int:
    try:
        data = report()
    except (sqlite3.Error, OSError) as exc:
        print(f"rung cost: cannot read the history database: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(data, indent=2))
        return 0
    titles = {"today": "Today", "this_week": "This week", "all_time": "All time"}
    for key, title in titles.items():
        period = data[key]
        total = Decimal(str(period["total_usd"]))
        extra = []
        if period["estimated_messages"]:
            extra.append(f"{period['estimated_messages']} estimated")
        if period["unknown_price_messages"]:
            extra.append(f"{period['unknown_price_messages']} with unknown price, not counted")
        suffix = f"  ({'; '.join(extra)})" if extra else ""
        print(f"{title}: {format_usd(total)} over {period['messages']} replies{suffix}")
        for row in period["by_model"]:  # type: ignore[union-attr]
            usd = format_usd(Decimal(row["usd"]))
            print(f"  {row['tier']:<12} {row['model']:<40} {usd:>12}  {row['messages']:>5} replies")
        print()
    return 0


def last_session_id() -> int | None:
    store = open_store(data_dir())
    try:
        recent = store.sessions(limit=1)
    finally:
        store.close()
    return recent[0].id if recent else None


def run_sessions() -> int:
    """`rung sessions`: recent conversations, newest first."""
    try:
        store = open_store(data_dir())
        try:
            recent = store.sessions()
        finally:
            store.close()
    except (sqlite3.Error, OSError) as exc:
        print(f"rung sessions: cannot read the history database: {exc}", file=sys.stderr)
        return 1
    if not recent:
        print("No conversations yet.")
        return 0
    for s in recent:
        when = s.started_at[:16].replace("T", " ")
        first = " ".join(s.first_question.split())[:60]
        spent = format_usd(s.spent)
        print(f"#{s.id:<5} {when}  {s.source:<4} {s.messages:>3} msgs  {spent:>9}  {first}")
    print("\nContinue one with: rung --resume ID   (or rung --continue for the newest)")
    return 0


def run_export(session_id: int | None, output: str | None, config: Config) -> int:
    """`rung export [ID] [-o FILE]`: a conversation as Markdown (stdout by default)."""
    from rung.engine.build_tiers import key_store
    from rung.engine.export import session_markdown

    try:
        store = open_store(data_dir())
        try:
            if session_id is None:
                recent = store.sessions(limit=1)
                if not recent:
                    print("rung export: no conversations yet", file=sys.stderr)
                    return 1
                session_id = recent[0].id
            text = session_markdown(store, session_id, key_store(config))
        finally:
            store.close()
    except LookupError as exc:
        print(f"rung export: {exc}", file=sys.stderr)
        return 1
    except (sqlite3.Error, OSError) as exc:
        print(f"rung export: cannot read the history database: {exc}", file=sys.stderr)
        return 1
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"rung: wrote conversation #{session_id} to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
