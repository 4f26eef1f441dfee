"""`rung compare --list` and `--show ID`: the comparison runs kept in the history, and
opening that history for the command (a history that cannot be read is said, not
raised).
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal

from rung.cli.compare_progress import say
from rung.cli.compare_text import print_report
from rung.engine.compare_report_rows import from_rows
from rung.engine.config import data_dir
from rung.engine.safe_text import json_for_terminal, one_line
from rung.engine.store import Store, StoreError, open_store
from rung.tiers.pricing import format_usd


def open_history() -> Store | None:
    """The history store, or None (said on stderr) when it cannot be read."""
    try:
        return open_store(data_dir())
    except StoreError as exc:
        say(f"cannot read the history: {exc}")
        return None


def list_runs(as_json: bool) -> int:
    """`--list`: the last 50 runs, newest first; the exit status."""
    store = open_history()
    if store is None:
        return 1
    try:
        runs = store.compare_runs(limit=50)
    finally:
        store.close()
    if as_json:
        print(
            json_for_terminal(
                json.dumps(
                    [
                        {**r, "rungs": [x["name"] for x in json.loads(str(r["rungs"]))]}
                        for r in runs
                    ],
                    ensure_ascii=False,
                    indent=2,
                )
            )
        )
        return 0
    if not runs:
        print("No comparison runs yet: rung compare prompts.txt")
        return 0
    for r in runs:
        when = str(r["created_at"])[:16].replace("T", " ")
        names = ",".join(x["name"] for x in json.loads(str(r["rungs"])))
        total = format_usd(Decimal(str(r["total_usd"])))
        if r["unknown"]:
            total += " + unknown"
        print(
            f"#{r['id']:<4} {when}  {r['prompts']:>3} prompts × {one_line(names, 30):<30} "
            f"{total:>10}  {one_line(str(r['status']), 26):<26} {one_line(str(r['source']), 40)}"
        )
    print("\nPrint one again with: rung compare --show ID")
    return 0


def show_run(args: argparse.Namespace) -> int:
    """`--show ID`: a stored run, printed as it was reported; the exit status."""
    store = open_history()
    if store is None:
        return 1
    try:
        found = store.compare_run(args.show)
    finally:
        store.close()
    if found is None:
        say(f"no comparison run #{args.show} (see rung compare --list)")
        return 1
    print_report(from_rows(*found), args)
    return 0
