"""The history on the command line: `rung cost`, `rung sessions`, `rung export`, and
finding the session `rung --continue` / `--resume` opens. Printing only.

Everything read back from the history (questions, model names a server chose) passes
through the terminal sanitizer; a price that is unknown is said to be unknown, never $0.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from rung.engine.attachments import typed_part
from rung.engine.config import Config, data_dir
from rung.engine.safe_text import for_terminal, json_for_terminal, one_line
from rung.engine.store import (
    SessionSummary,
    SpendRow,
    Store,
    StoredMessage,
    StoreError,
    open_store,
    start_of_today,
    start_of_week,
)
from rung.tiers.pricing import format_usd, usd_text

STEP_ORDER = ["plan", "act", "digest", "answer"]


def open_history(command: str) -> Store | None:
    """The history store, or None after saying on stderr why it cannot be read."""
    try:
        return open_store(data_dir())
    except StoreError as exc:
        print(f"rung {command}: cannot read the history: {for_terminal(str(exc))}",
              file=sys.stderr)  # fmt: skip
        return None


def _period(rows: list[SpendRow]) -> dict[str, object]:
    by_tier: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        by_tier[row.tier] += row.usd
    return {
        "total_usd": usd_text(sum((r.usd for r in rows), Decimal(0))),
        "messages": sum(r.messages for r in rows),
        "unknown_price_messages": sum(r.unknown for r in rows),
        "estimated_messages": sum(r.estimated for r in rows),
        "by_tier": {tier: usd_text(usd) for tier, usd in sorted(by_tier.items())},
        "by_model": [
            {
                "tier": r.tier,
                "model": r.model,
                "usd": usd_text(r.usd),
                "messages": r.messages,
                "unknown_price_messages": r.unknown,
                "estimated_messages": r.estimated,
            }
            for r in rows
        ],
    }


def _steps(rows: list[StoredMessage]) -> dict[str, dict[str, object]]:
    """Agent steps by kind (plan, act, digest, answer), each with its rungs."""
    kinds: dict[str, dict[str, list[Decimal | int]]] = defaultdict(dict)
    for row in rows:
        if not row.step_kind:
            continue
        g = kinds[row.step_kind].setdefault(row.tier or "?", [Decimal(0), 0, 0])
        g[1] += 1
        if row.cost_usd is None:
            g[2] += 1
        else:
            g[0] += row.cost_usd
    out: dict[str, dict[str, object]] = {}
    for kind in STEP_ORDER + sorted(set(kinds) - set(STEP_ORDER)):
        if kind not in kinds:
            continue
        tiers = kinds[kind]
        out[kind] = {
            "usd": usd_text(sum((Decimal(g[0]) for g in tiers.values()), Decimal(0))),
            "steps": sum(int(g[1]) for g in tiers.values()),
            "unknown_price_steps": sum(int(g[2]) for g in tiers.values()),
            "by_tier": {t: {"usd": usd_text(Decimal(g[0])), "steps": g[1]}
                        for t, g in sorted(tiers.items())},
        }  # fmt: skip
    return out


def report(store: Store) -> dict[str, dict[str, object]]:
    periods = {"today": start_of_today(), "this_week": start_of_week(), "all_time": None}
    out: dict[str, dict[str, object]] = {}
    for key, since in periods.items():
        out[key] = _period(store.spend(since))
        out[key]["by_step_kind"] = _steps(store.replies_since(since))
    return out


def replies(n: object) -> str:
    return f"{n} reply" if n == 1 else f"{n} replies"


def _amount(usd: Decimal, unknown: int, messages: int) -> str:
    """A total that says so when some of it is unknown, and "unknown" when all of it is."""
    if unknown and unknown == messages:
        return "price unknown"
    return format_usd(usd) + (" + unknown" if unknown else "")


def run_cost(as_json: bool) -> int:
    store = open_history("cost")
    if store is None:
        return 1
    try:
        data = report(store)
    except Exception as exc:  # a damaged file: one clear line, no traceback
        print(f"rung cost: cannot read the history: {for_terminal(str(exc))}", file=sys.stderr)
        return 1
    finally:
        store.close()
    if as_json:
        print(json_for_terminal(json.dumps(data, indent=2, ensure_ascii=False)))
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
        print(f"{title}: {format_usd(total)} over {replies(period['messages'])}{suffix}")
        for row in period["by_model"]:  # type: ignore[union-attr]
            usd = _amount(Decimal(row["usd"]), row["unknown_price_messages"], row["messages"])
            model = one_line(row["model"], 40)
            tier = one_line(row["tier"], 12)
            count = replies(row["messages"])
            print(f"  {tier:<12} {model:<40} {usd:>14}  {count:>13}")
        steps = period["by_step_kind"]
        if steps:  # agent runs: what each kind of step cost, on which rungs
            parts = []
            for kind, info in steps.items():  # type: ignore[union-attr]
                usd = _amount(Decimal(info["usd"]), info["unknown_price_steps"], info["steps"])
                rungs = ", ".join(f"{t} {v['steps']}" for t, v in info["by_tier"].items())
                parts.append(f"{kind} {info['steps']} ({rungs}) {usd}")
            print("  agent steps: " + " · ".join(one_line(p, 80) for p in parts))
        print()
    return 0


def find_session(resume_id: int | None) -> tuple[int | None, str | None]:
    """The session to open: ``resume_id`` if it exists, else the newest chat-screen
    conversation (`rung ask` one-shots are continued only by id). (id, problem)."""
    store = open_history("--continue" if resume_id is None else "--resume")
    if store is None:
        return None, "the history cannot be read, so there is nothing to continue"
    try:
        if resume_id is not None:
            if not store.transcript(resume_id):
                return None, f"no conversation #{resume_id} (see `rung sessions`)"
            return resume_id, None
        recent = store.sessions(limit=1, source="tui") or store.sessions(limit=1)
    except Exception as exc:
        return None, f"cannot read the history: {for_terminal(str(exc))}"
    finally:
        store.close()
    if not recent:
        return None, "no earlier conversation to continue"
    return recent[0].id, None


def run_sessions(as_json: bool = False, limit: int = 20) -> int:
    """`rung sessions`: recent conversations, newest first (`--json`: with messages)."""
    store = open_history("sessions")
    if store is None:
        return 1
    try:
        recent = store.sessions(limit=limit)
        transcripts = {s.id: store.transcript(s.id) for s in recent} if as_json else {}
    except Exception as exc:
        print(f"rung sessions: cannot read the history: {for_terminal(str(exc))}",
              file=sys.stderr)  # fmt: skip
        return 1
    finally:
        store.close()
    if as_json:
        data = [_session_json(s, transcripts[s.id]) for s in recent]
        print(json_for_terminal(json.dumps(data, indent=2, ensure_ascii=False)))
        return 0
    if not recent:
        print("No conversations yet.")
        return 0
    for s in recent:
        when = s.started_at[:16].replace("T", " ")
        title = one_line(s.title or typed_part(s.first_question), 60)
        if s.unknown and not s.spent:
            spent = "price unknown"
        else:
            spent = format_usd(s.spent) + (" + unknown" if s.unknown else "")
        print(f"#{s.id:<5} {when}  {s.source:<4} {s.messages:>3} msgs  {spent:>13}  {title}")
    print("\nContinue one with: rung --resume ID   (or rung --continue for the newest)")
    return 0


def _session_json(s: SessionSummary, messages: list[StoredMessage]) -> dict[str, object]:
    """One conversation for scripts: money as exact decimal strings (null if unknown)."""
    return {
        "id": s.id,
        "title": s.title or typed_part(s.first_question),
        "created": s.started_at,
        "source": s.source,
        "cost_usd": None if s.unknown and not s.spent else usd_text(s.spent),
        "unknown_price_replies": s.unknown,
        "saved_usd": usd_text(s.saved),
        "rungs": list(s.tiers),
        "messages": [
            {
                "role": m.role,
                # "streaming" only while a reply is being written; "replaced" for an
                # exchange the user edited and sent again.
                "status": "replaced" if m.superseded else (m.finish_reason or "sent"),
                "rung": m.tier,
                "model": m.model,
                "cost_usd": None if m.cost_usd is None else usd_text(m.cost_usd),
                "text": m.content,
                "error": m.error,
            }
            for m in messages
        ],
    }


def run_export(session_id: int | None, output: str | None, config: Config,
               force: bool = False) -> int:  # fmt: skip
    """`rung export [ID] [-o FILE]`: a conversation as Markdown (stdout by default)."""
    from rung.engine.build_tiers import key_store
    from rung.engine.export import session_markdown, write_private

    if output and Path(output).exists() and not force:
        print(f"rung export: {output} exists; pass --force to replace it", file=sys.stderr)
        return 1
    store = open_history("export")
    if store is None:
        return 1
    try:
        if session_id is None:
            recent = store.sessions(limit=1)
            if not recent:
                print("rung export: no conversations yet", file=sys.stderr)
                return 1
            session_id = recent[0].id
        text = session_markdown(store, session_id, key_store(config))
    except LookupError as exc:
        print(f"rung export: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"rung export: cannot read the history: {for_terminal(str(exc))}",
              file=sys.stderr)  # fmt: skip
        return 1
    finally:
        store.close()
    if output:
        try:
            write_private(Path(output), text, overwrite=force)
        except OSError as exc:
            print(f"rung export: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"rung: wrote conversation #{session_id} to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
