"""`rung compare`: prompts on several rungs against real scripted servers, exact costs,
checks and judges, the money guard, the stored runs, and the local rung's one lane."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from rung.cli.compare_progress import ProgressLine
from rung.engine.compare import CompareRun, Progress
from rung.engine.compare_cell import Cell
from rung.engine.compare_prompts import ComparePrompt, PromptFileError, parse_prompts
from rung.engine.config import data_dir, load_config
from rung.engine.conversation import ChatOptions
from rung.engine.ladder import Ladder
from rung.engine.session import Session
from rung.engine.store import open_store
from rung.tiers.base import ChatRequest, Event
from tests.conftest import confirm_hosts, wait_for
from tests.fakes import Request, Sleep, Step, anthropic_stream, openai_stream
from tests.scripted import Script, ScriptedTier
from tests.test_cli import rung

KEYS = {"ANTHROPIC_API_KEY": "sk-ant-test", "DEEPSEEK_API_KEY": "sk-ds-test"}
# claude-sonnet-4-6 is $3 / $15 per million tokens (genai-prices): 25 in, 8 out.
SONNET_ANSWER = Decimal("0.000195")
# deepseek-v4-flash at the override below ($1 / $2 per million): 30 in, 6 out. An
# override keeps the figure exact at any hour (DeepSeek's own price has peak hours).
DEEPSEEK_ANSWER = Decimal("0.000042")
# A verdict: 100 in, 5 out on Sonnet.
VERDICT = Decimal("0.000375")


def write_config(
    tmp_path: Path, urls: dict[str, str], extra: str = "", rungs: str = "local, deepseek, anthropic"
) -> None:
    path = tmp_path / "config" / "rung" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    providers = "".join(f'[providers.{n}]\nbase_url = "{u}"\n' for n, u in urls.items())
    confirm_hosts(**urls)
    ladder = ", ".join(f'"{n.strip()}"' for n in rungs.split(","))
    path.write_text(
        f"[ladder]\nrungs = [{ladder}]\n"
        '[prices."deepseek-v4-flash"]\ninput = "1.00"\noutput = "2.00"\n'
        "[network]\nmax_retries = 0\n" + providers + extra
    )


def anthropic_answer(text: str, delay: float = 0.0, input_tokens: int = 25) -> list[Step]:
    steps = anthropic_stream(
        [text], input_tokens=input_tokens, output_tokens=8, model="claude-sonnet-4-6"
    )
    return [*steps[:4], Sleep(delay), *steps[4:]] if delay else steps


def deepseek_answer(text: str, delay: float = 0.0) -> list[Step]:
    steps = openai_stream(
        [text],
        usage={"prompt_tokens": 30, "completion_tokens": 6, "total_tokens": 36},
        model="deepseek-v4-flash",
    )
    return [*steps[:2], Sleep(delay), *steps[2:]] if delay else steps


def is_judging(r: Request) -> bool:
    return "grade an answer" in json.dumps(r.json().get("system"))


def judged_text(r: Request) -> str:
    return r.json()["messages"][0]["content"][0]["text"]


def write_prompts(tmp_path: Path, items: list[dict[str, object]]) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def compare(tmp_path: Path, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return rung(tmp_path, "compare", *args, stdin=stdin, **KEYS)


# -- the grid against real servers -------------------------------------------------------
def test_every_prompt_on_every_rung_priced_exactly_timed_and_checked(tmp_path, servers) -> None:
    arrivals: list[float] = []

    def sonnet(r: Request) -> list[Step]:
        arrivals.append(time.monotonic())
        return anthropic_answer('{"answer": 4}', delay=0.4)

    def deepseek(r: Request) -> list[Step]:
        arrivals.append(time.monotonic())
        return deepseek_answer("The answer is 4.", delay=0.4)

    a, d = servers(sonnet), servers(deepseek)
    write_config(tmp_path, {"anthropic": a.url, "deepseek": d.url + "/v1"})
    prompts = write_prompts(
        tmp_path,
        [
            {"prompt": "What is 2+2? Answer in JSON.", "checks": {"json": True, "contains": "4"}},
            {
                "prompt": "Say four as a digit.",
                "checks": [{"regex": r"\b4\b"}, {"contains": "four"}],
            },
        ],
    )
    result = compare(
        tmp_path, str(prompts), "--rungs", "deepseek,anthropic", "--json", "--max-tokens", "16"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    cells = {(c["prompt"], c["rung"]): c for c in data["cells"]}
    assert len(cells) == 4
    for n in (1, 2):
        assert Decimal(cells[(n, "anthropic")]["cost_usd"]) == SONNET_ANSWER
        assert Decimal(cells[(n, "deepseek")]["cost_usd"]) == DEEPSEEK_ANSWER
        assert cells[(n, "anthropic")]["usage"] == {
            "input_tokens": 25,
            "output_tokens": 8,
            "cached_input_tokens": 0,
            "estimated": False,
        }
        assert cells[(n, "anthropic")]["ttft_s"] >= 0.4  # the server waited before its text
        assert cells[(n, "anthropic")]["finish_reason"] == "stop"
        assert cells[(n, "anthropic")]["model"] == "claude-sonnet-4-6"
    # Checks: JSON and "4" pass only where the answer is JSON with a 4 in it.
    assert cells[(1, "anthropic")]["passed"] is True
    # deepseek's answer has a 4 but is not JSON: contains passes, json fails.
    assert [k["passed"] for k in cells[(1, "deepseek")]["checks"]] == [True, False]
    assert cells[(2, "deepseek")]["checks"][0] == {"kind": "regex", "passed": True, "detail": ""}
    assert cells[(2, "deepseek")]["passed"] is False  # no "four"
    summary = {r["rung"]: r for r in data["summary"]["rungs"]}
    assert Decimal(summary["anthropic"]["cost"]["usd"]) == 2 * SONNET_ANSWER
    assert Decimal(summary["anthropic"]["mean_usd"]) == SONNET_ANSWER
    assert Decimal(summary["anthropic"]["usd_per_1k_output"]) == 2 * SONNET_ANSWER * 1000 / 16
    assert (summary["anthropic"]["passed"], summary["anthropic"]["checked"]) == (1, 2)
    assert (summary["deepseek"]["passed"], summary["deepseek"]["checked"]) == (0, 2)
    assert summary["anthropic"]["median_ttft_s"] >= 0.4
    assert Decimal(data["summary"]["total"]["usd"]) == 2 * (SONNET_ANSWER + DEEPSEEK_ANSWER)
    # Rungs ran side by side: every request was in before the first (0.4 s) had answered.
    assert len(arrivals) == 4 and max(arrivals) - min(arrivals) < 0.35
    # Auto routing on the user's ladder (local, deepseek, anthropic) for each prompt.
    assert all(p["auto"]["tier"] in ("local", "deepseek", "anthropic") for p in data["prompts"])
    # The progress on stderr is plain lines when stderr is not a terminal.
    assert "\r" not in result.stderr and result.stderr.count("rung compare: [") == 4
    assert "estimate ~$" in result.stderr and "stored as run #1" in result.stderr


def test_the_table_says_costs_speed_checks_and_the_auto_mix(tmp_path, servers) -> None:
    a = servers(lambda r: anthropic_answer("2 + 2 = 4"))
    d = servers(lambda r: deepseek_answer("4"))
    urls = {"anthropic": a.url, "deepseek": d.url + "/v1"}
    write_config(tmp_path, urls, rungs="deepseek, anthropic")
    prompts = write_prompts(tmp_path, [{"prompt": "What is 2+2?", "checks": {"contains": "4"}}])
    result = compare(tmp_path, str(prompts))  # every usable rung of the ladder
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Compare run #1 — 1 prompt(s) × 2 rung(s), file prompts.jsonl" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "deepseek-v4-flash" in lines["deepseek"] and "1/1" in lines["deepseek"]
    assert "claude-sonnet-4-6" in lines["anthropic"] and "$0.0002" in lines["anthropic"]
    assert "would choose: deepseek ×1" in out
    assert "Auto mix <$0.0001 · all anthropic (most expensive) $0.0002" in out
    assert "Auto saves $0.0002 (78%) against all anthropic; its answers pass 1/1" in out


def test_judge_rung_grades_answers_and_its_cost_is_counted_apart(tmp_path, servers) -> None:
    def sonnet(r: Request) -> list[Step]:
        if is_judging(r):
            verdict = "PASS\nIt says 4." if "is 4" in judged_text(r) else "FAIL\nIt says 5."
            return anthropic_stream(
                [verdict], input_tokens=100, output_tokens=5, model="claude-sonnet-4-6"
            )
        return anthropic_answer("2 + 2 is 5")

    a = servers(sonnet)
    d = servers(lambda r: deepseek_answer("2 + 2 is 4"))
    write_config(tmp_path, {"anthropic": a.url, "deepseek": d.url + "/v1"})
    prompts = write_prompts(
        tmp_path,
        [
            {
                "prompt": "What is 2+2?",
                "checks": {"contains": "4", "judge": "anthropic", "rubric": "The answer says 4."},
            },
        ],
    )
    result = compare(tmp_path, str(prompts), "--rungs", "deepseek,anthropic", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    cells = {c["rung"]: c for c in data["cells"]}
    judge = {name: cells[name]["checks"][1] for name in cells}
    assert judge["deepseek"]["passed"] is True and judge["anthropic"]["passed"] is False
    assert judge["anthropic"]["detail"] == "FAIL It says 5."
    assert Decimal(judge["deepseek"]["cost_usd"]) == VERDICT
    assert judge["deepseek"]["judge"] == "anthropic"
    # The judge's cost is apart: anthropic's own cost is its answer only.
    summary = data["summary"]
    assert Decimal(summary["judges"]["usd"]) == 2 * VERDICT
    assert summary["judges"]["rungs"] == ["anthropic"]
    rungs = {r["rung"]: r for r in summary["rungs"]}
    assert Decimal(rungs["anthropic"]["cost"]["usd"]) == SONNET_ANSWER
    assert Decimal(summary["total"]["usd"]) == SONNET_ANSWER + DEEPSEEK_ANSWER + 2 * VERDICT
    # The judge saw the question, the answer and the rubric, and was told not to obey it.
    judged = [judged_text(r) for r in a.requests if is_judging(r)]
    assert any("Answer:\n<<<\n2 + 2 is 4\n>>>" in t and "The answer says 4." in t for t in judged)
    text = compare(tmp_path, "--show", "1").stdout
    assert "Judging on anthropic: $0.0008 for 2 verdict(s)" in text


# -- the money guard ---------------------------------------------------------------------
def test_cost_guard_refuses_a_run_estimated_above_the_limit(tmp_path, servers) -> None:
    a = servers(lambda r: anthropic_answer("hi"))
    write_config(tmp_path, {"anthropic": a.url})
    result = compare(
        tmp_path,
        "--rungs",
        "anthropic",
        "--max-cost",
        "0.0001",
        "--max-tokens",
        "100",
        stdin="one\ntwo\nthree\n",
    )
    assert result.returncode == 1
    assert "3 cell(s); estimate ~$0.00" in result.stderr
    assert "up to 100 output tokens an answer (--max-tokens)" in result.stderr
    assert "refusing to start" in result.stderr and "above --max-cost $0.0001" in result.stderr
    assert a.requests == [] and result.stdout == ""
    assert "No comparison runs yet" in compare(tmp_path, "--list").stdout


def test_cost_guard_stops_starting_cells_once_the_limit_is_spent(tmp_path, servers) -> None:
    # Each answer reports 100k input tokens: $0.30 at Sonnet's price, far above its estimate.
    a = servers(lambda r: anthropic_answer("hi", input_tokens=100_000))
    write_config(tmp_path, {"anthropic": a.url})
    result = compare(
        tmp_path,
        "--rungs",
        "anthropic",
        "--max-cost",
        "0.10",
        "--concurrency",
        "1",
        "--max-tokens",
        "16",
        "--json",
        stdin="one\ntwo\nthree\n",
    )
    assert result.returncode == 1, result.stderr
    assert len(a.requests) == 1
    assert "stopped at the cost limit: 2 of 3 cell(s) not run ($0.3001 spent" in result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "stopped at the cost limit"
    skipped = [c["skipped"] for c in data["cells"]]
    assert skipped == [None, "cost limit reached", "cost limit reached"]
    assert [c["cost_usd"] for c in data["cells"][1:]] == [None, None]
    assert data["summary"]["skipped_cells"] == 2 and data["summary"]["total"]["usd"] == "0.30012"


def test_an_unknown_price_is_never_zero_and_the_guard_will_not_bound_it(tmp_path, servers) -> None:
    custom = servers(
        lambda r: openai_stream(
            ["hello"], usage={"prompt_tokens": 9, "completion_tokens": 2}, model="team-model"
        )
    )
    custom_table = f'[providers.custom]\nbase_url = "{custom.url}/v1"\nmodel = "team-model"\n'
    write_config(tmp_path, {}, custom_table)
    refused = compare(tmp_path, "--rungs", "custom", "--max-cost", "1", stdin="hi\n")
    assert refused.returncode == 1 and "price of custom is unknown" in refused.stderr
    assert custom.requests == []
    result = compare(tmp_path, "--rungs", "custom", "--json", stdin="hi\n")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cells"][0]["cost_usd"] is None and data["cells"][0]["text"] == "hello"
    assert data["summary"]["rungs"][0]["cost"] == {"usd": None, "unknown": 1, "estimated": False}
    assert "price unknown for custom" in result.stderr
    text = compare(tmp_path, "--show", str(data["id"])).stdout
    assert "price unknown" in text and " $0 " not in text


# -- prompts -----------------------------------------------------------------------------
def test_prompt_files_plain_and_jsonl_and_their_errors() -> None:
    plain = parse_prompts("first\n\n  second  \n")
    assert plain == [ComparePrompt("first"), ComparePrompt("second")]
    [p] = parse_prompts('{"prompt": "x", "checks": {"contains": ["a", "b"], "json": true}}\n')
    assert [c.describe() for c in p.checks] == ["contains: a", "contains: b", "json"]
    for bad, why in (
        ('{"prompt": "x"}\nnot json\n', "line 2"),
        ('{"prompt": ""}', '"prompt" must be a non-empty string'),
        ('{"prompt": "x", "checks": {"regex": "("}}', "regex '(' is invalid"),
        ('{"prompt": "x", "checks": {"judge": "anthropic"}}', "needs a rubric"),
        ('{"prompt": "x", "checks": {"smells": "ok"}}', "unknown check(s) smells"),
    ):
        with pytest.raises(PromptFileError, match=re.escape(why)):
            parse_prompts(bad)


def test_prompts_from_a_stored_conversation(tmp_path, servers) -> None:
    d = servers(lambda r: deepseek_answer("ok"))
    write_config(tmp_path, {"deepseek": d.url + "/v1"})
    store = open_store(data_dir())
    sid = store.start_session("tui")
    for q in ("first question", "second question", "third question"):
        store.add_user_message(sid, q)
    store.close()
    result = compare(
        tmp_path, "--session", str(sid), "--last", "2", "--rungs", "deepseek", "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [p["prompt"] for p in data["prompts"]] == ["second question", "third question"]
    assert data["source"] == f"session #{sid}, last 2 question(s)"
    sent = [r.json()["messages"][-1]["content"] for r in d.requests]
    assert sorted(sent) == ["second question", "third question"]


def test_usage_errors(tmp_path) -> None:
    write_config(tmp_path, {})
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": 3}\n')
    result = compare(tmp_path, str(bad))
    assert result.returncode == 2 and "line 2" in result.stderr
    result = compare(tmp_path, "--rungs", "nosuch", stdin="hi\n")
    assert result.returncode == 2 and "unknown rung(s) nosuch" in result.stderr
    result = rung(tmp_path, "compare", "--rungs", "anthropic", stdin="hi\n")  # no key
    assert result.returncode == 2 and "anthropic cannot be used: no API key" in result.stderr
    result = compare(tmp_path, "--max-cost", "lots", stdin="hi\n")
    assert result.returncode == 2 and "--max-cost wants an amount" in result.stderr


# -- stored runs and reports -------------------------------------------------------------
def test_show_reprints_a_stored_run_and_list_lists_it(tmp_path, servers) -> None:
    a = servers(lambda r: anthropic_answer("four", delay=0.05))
    d = servers(lambda r: deepseek_answer("=cmd|' /C calc'!A0"))
    write_config(tmp_path, {"anthropic": a.url, "deepseek": d.url + "/v1"})
    prompts = write_prompts(
        tmp_path,
        [{"prompt": "=SUM(A1)", "checks": {"contains": "four"}}, {"prompt": "What is 2+2?"}],
    )
    first = compare(tmp_path, str(prompts), "--rungs", "deepseek,anthropic", "--json")
    assert first.returncode == 0, first.stderr
    original = json.loads(first.stdout)
    shown = compare(tmp_path, "--show", str(original["id"]), "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout) == original
    assert len(a.requests) == 2  # --show asks nothing again
    listing = compare(tmp_path, "--list").stdout
    assert f"#{original['id']}" in listing and "deepseek,anthropic" in listing
    assert "2 prompts" in listing and "complete" in listing
    rows = list(csv.DictReader(io.StringIO(compare(tmp_path, "--show", "1", "--csv").stdout)))
    assert len(rows) == 4 and rows[0]["rung"] == "deepseek"
    # A spreadsheet would run these as formulas: they are quoted.
    assert rows[0]["prompt"] == "'=SUM(A1)" and rows[0]["answer"].startswith("'=cmd")
    assert Decimal(rows[1]["cost_usd"]) == SONNET_ANSWER and rows[1]["passed"] == "1"
    markdown = compare(tmp_path, "--show", "1", "--markdown", "--answers").stdout
    assert markdown.startswith("# Compare run #1") and "| rung | model | cost |" in markdown
    assert "### anthropic (claude-sonnet-4-6)" in markdown
    assert compare(tmp_path, "--show", "99").returncode == 1


def test_answers_cannot_drive_the_terminal(tmp_path, servers) -> None:
    evil = "ok \x1b]52;c;aGk=\x07 \x1b[2J done"
    d = servers(lambda r: deepseek_answer(evil))
    write_config(tmp_path, {"deepseek": d.url + "/v1"})
    result = compare(tmp_path, "--rungs", "deepseek", "--answers", stdin="hi\n")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "ok ␛]52;c;aGk=␇ ␛[2J done" in result.stdout
    raw = json.loads(compare(tmp_path, "--show", "1", "--json").stdout)
    assert raw["cells"][0]["text"] == evil  # stored and exported intact


# -- in process: lanes, interruption, progress -------------------------------------------
class CountingTier(ScriptedTier):
    """Counts how many of its replies are in flight at once."""

    def __init__(self, name: str, kind: str, provider: str, model: str, delay: float) -> None:
        super().__init__(name, kind, provider, model)
        self.delay = delay
        self.now = self.most = 0

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            self.scripts = [Script(pieces=["a", "b"], delay=self.delay)]
            async for event in super().stream(request):
                yield event
        finally:
            self.now -= 1


def grid(tiers: dict[str, ScriptedTier], prompts: int, **kwargs: object) -> CompareRun:
    config = load_config()
    config.set("ladder", "rungs", list(tiers))
    ladder = Ladder(config, reuse=dict(tiers))
    session = Session(config, "compare", history=False)
    items = [ComparePrompt(f"question {i}") for i in range(prompts)]
    return CompareRun(ladder, session, items, list(tiers), ChatOptions(max_tokens=16), **kwargs)  # type: ignore[arg-type]


async def test_the_local_rung_answers_one_at_a_time_while_remote_ones_overlap() -> None:
    local = CountingTier("local", "local", "local", "SmolLM2-135M-Instruct", 0.05)
    remote = CountingTier("anthropic", "api", "anthropic", "claude-sonnet-4-6", 0.05)
    run = grid({"local": local, "anthropic": remote}, prompts=4, concurrency=4)
    cells = await run.run()
    assert local.most == 1 and remote.most >= 2
    assert all(c.finish_reason == "stop" and c.text == "ab" for c in cells)
    assert run.status == "complete"


async def test_an_interrupted_run_keeps_what_was_answered_and_priced() -> None:
    hold = asyncio.Event()
    fast = ScriptedTier(
        "deepseek", "api", "deepseek", "deepseek-v4-flash", [Script(pieces=["done"])]
    )
    slow = ScriptedTier(
        "anthropic", "api", "anthropic", "claude-sonnet-4-6", [Script(pieces=["half"], hold=hold)]
    )
    run = grid({"deepseek": fast, "anthropic": slow}, prompts=1, concurrency=1)
    task = asyncio.create_task(run.run())
    await wait_for(lambda: bool(slow.requests))
    await asyncio.sleep(0.05)  # "half" has arrived; the rest never will
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    done, cut = run.cells
    assert done.finish_reason == "stop" and done.cost_usd is not None and done.cost_usd > 0
    # The reply cut off mid-stream is kept, priced from counted tokens, marked interrupted.
    assert cut.finish_reason == "interrupted" and cut.text == "half"
    assert cut.usage_estimated and cut.cost_usd is not None and cut.cost_usd > 0
    assert run.status == "interrupted" and run.spent == done.cost_usd + cut.cost_usd


def test_progress_is_one_line_rewritten_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    line = ProgressLine(stream, 2)
    line(Progress("started", Cell(0, "local"), 0, 2, 1, Decimal(0)))
    line(Progress("done", Cell(0, "local"), 1, 2, 0, Decimal("0.0012")))
    line.close()
    text = stream.getvalue()
    assert text.count("\r\x1b[K") == 3 and "\n" not in text
    assert "[1/2] 0 running · $0.0012 spent · done local #1" in text


def test_the_progress_log_shows_a_cells_error_sanitized() -> None:
    """With stderr in a log or a pipe, each finished cell gets a line that quotes its
    error: text from a server or an exception, so its control characters are made
    visible, never written raw to the terminal that shows the log."""
    stream = io.StringIO()
    line = ProgressLine(stream, 1)
    evil = Cell(0, "deepseek", finish_reason="error", error="boom\x1b]0;pwned\x07\x1b[2J")
    line(Progress("done", evil, 1, 1, 0, Decimal(0)))
    text = stream.getvalue()
    assert "boom" in text and "\x1b" not in text and "\x07" not in text


def test_a_comparisons_spend_counts_in_rung_cost_and_the_daily_budget(tmp_path: Path) -> None:
    """Money spent comparing is money spent: `rung cost` and budgets see it."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from rung.engine.store import Store

    store = Store(tmp_path / "rung.db")
    run = {
        "created_at": datetime.now(UTC).isoformat(), "source": "file", "status": "complete",
        "rungs": "[]", "prompts": "[]", "options": "{}", "total_usd": "0.0030", "unknown": 0,
    }  # fmt: skip
    cells = [
        {"prompt_index": 0, "rung": "anthropic", "model": "claude-sonnet-4-6", "content": "a",
         "cost_usd": "0.0020", "estimated": 0},
        {"prompt_index": 0, "rung": "local", "model": "SmolLM2", "content": "b",
         "cost_usd": "0", "estimated": 0},
    ]  # fmt: skip
    blank = dict.fromkeys(Store.COMPARE_CELL_COLUMNS)
    store.add_compare_run(run, [{**blank, **cell} for cell in cells])
    rows = {(r.tier, r.model): r.usd for r in store.spend()}
    assert rows[("anthropic", "claude-sonnet-4-6")] == Decimal("0.0020")
    assert rows[("compare", "(judges)")] == Decimal("0.0010")  # the rest of the total
    yesterday = datetime.now(UTC) - timedelta(days=1)
    assert store.spent_since(yesterday) == Decimal("0.0030")
    assert store.spent_since(datetime.now(UTC) + timedelta(minutes=1)) == 0
    store.close()
