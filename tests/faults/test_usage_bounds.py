"""Usage a server reports is checked, not trusted: 1e30 output tokens made "Could not
save to history", an interrupted row and an unknown price that the daily budget never
counted; negative counts lowered the day's spend. An impossible figure is now said in a
notice, and the charge never exceeds the request's limits (the estimated prompt for
input, ``max_tokens`` for output)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rung.tiers.base import estimate_usage
from rung.tiers.usage_check import input_ceiling
from tests.fakes import (
    Send,
    Status,
    Step,
    anthropic_stream,
    gemini_chunk,
    openai_stream,
)
from tests.faults.conftest import KINDS, MAX_TOKENS, ask, canary_key, watch
from tests.test_cli import rung

BIG = 10**30
MODEL = "gpt-5.4-mini"  # priced in the bundled table


def openai_usage(
    prompt: Any, completion: Any, cached: Any = 0, model: str = "gpt-test"
) -> list[Step]:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    return openai_stream(["fine"], usage=usage, model=model)


def anthropic_usage(inp: Any, out: Any, read: Any = 0) -> list[Step]:
    return anthropic_stream(["fine"], input_tokens=inp, output_tokens=out, cache_read=read)


def gemini_usage(prompt: Any, out: Any, cached: Any = 0) -> list[Step]:
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": 1}
    if cached:
        usage["cachedContentTokenCount"] = cached
    return [Status(200), Send(gemini_chunk("fine", usage, "STOP"))]


STREAMS: dict[str, Callable[..., list[Step]]] = {
    "openai": openai_usage,
    "anthropic": anthropic_usage,
    "gemini": gemini_usage,
}
# (case, input, output, cached): each impossible in its own way.
IMPOSSIBLE = [
    ("output 1e30 (a float)", 20, 1e30, 0),
    ("output 10**30 (an int)", 20, BIG, 0),
    ("input 1e30", 1e30, 3, 0),
    ("input 9M for a short prompt", 9_000_000, 3, 0),
    ("negative output", 20, -50, 0),
    ("negative input", -1000, 3, 0),
    ("a string", 20, "12", 0),
    ("a fraction", 20, 2.5, 0),
    ("output far above max_tokens", 20, 10 * MAX_TOKENS, 0),
    ("cached more than the input", 20, 3, 500),
]


@pytest.mark.parametrize("dialect", STREAMS)
@pytest.mark.parametrize("case,inp,out,cached", IMPOSSIBLE, ids=[c[0] for c in IMPOSSIBLE])
async def test_impossible_usage_is_said_and_charged_within_the_limits(
    servers, dialect: str, case: str, inp: Any, out: Any, cached: Any
) -> None:
    if dialect == "anthropic" and case.startswith("cached"):
        pytest.skip("Anthropic reports cache reads apart from input: never more than it")
    server = servers(lambda r: STREAMS[dialect](inp, out, cached))
    tier = KINDS[dialect].tier(server.url, canary_key())
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    reply = outcome.reply
    assert reply.failed is None and reply.text == "fine"  # the answer is kept
    notices = [m for m in outcome.messages if "impossible usage" in m]
    assert len(notices) == 1, outcome.messages
    label = KINDS[dialect].label
    assert notices[0].startswith(f"{label} reported impossible usage")
    usage = reply.usage
    prompt_estimate = estimate_usage(ask(), 0, 0).input_tokens
    assert 0 <= usage.output_tokens <= MAX_TOKENS
    assert 0 <= usage.input_tokens <= input_ceiling(ask())
    assert 0 <= usage.cached_input_tokens <= usage.input_tokens
    assert usage.estimated
    if case.startswith(("input", "negative input")):
        assert usage.input_tokens == prompt_estimate


@pytest.mark.parametrize("dialect", STREAMS)
async def test_plausible_usage_is_kept_exact_without_a_notice(servers, dialect: str) -> None:
    server = servers(lambda r: STREAMS[dialect](30, 5, 10))
    tier = KINDS[dialect].tier(server.url, canary_key())
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    assert not [m for m in outcome.messages if "impossible" in m]
    usage = outcome.reply.usage
    assert usage.output_tokens == 5
    assert usage.cached_input_tokens == 10 and not usage.estimated


async def test_a_running_count_is_bounded_while_the_reply_streams(servers) -> None:
    """Anthropic's input arrives at the start and the live cost uses it at once: 1e30
    there must not show as the live cost either."""
    from rung.tiers.base import Usage

    server = servers(lambda r: anthropic_usage(1e30, 3))
    tier = KINDS["anthropic"].tier(server.url, canary_key())
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    running = [e for e in outcome.events if isinstance(e, Usage) and e.partial]
    assert running and all(u.input_tokens <= input_ceiling(ask()) for u in running)


def test_rung_ask_saves_and_prices_an_impossible_usage(tmp_path: Path, servers) -> None:
    """The reviewer's case end to end: a real `rung ask` on a real SQLite file."""
    key = "sk-proj-CANARY-usage-0123456789"
    api = servers(lambda r: openai_usage(1e30, 1e30, model=MODEL))
    result = rung(tmp_path, "ask", "--tier", "openai", "--base-url", api.url + "/v1",
                  "--model", MODEL, "--max-tokens", "50", "--json", "hi",
                  OPENAI_API_KEY=key)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Could not save" not in result.stderr and "Traceback" not in result.stderr
    assert "OpenAI reported impossible usage" in result.stderr
    data = json.loads(result.stdout)
    assert data["text"] == "fine"
    assert data["usage"]["output_tokens"] == 50 and data["usage"]["estimated"]
    assert data["cost_usd"] is not None  # priced, so the daily budget counts it
    db = tmp_path / "data" / "rung" / "rung.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT input_tokens, output_tokens, cost_usd, finish_reason FROM messages "
            "WHERE role = 'assistant'"
        ).fetchall()
    assert len(rows) == 1
    inp, out, cost, finish = rows[0]
    assert 0 < inp < 1000 and out == 50 and cost is not None and finish == "stop"
    spent = json.loads(rung(tmp_path, "cost", "--json").stdout)["today"]
    assert spent["messages"] == 1 and spent["unknown_price_messages"] == 0
    assert 0 < float(spent["total_usd"]) < 0.01


def test_rung_ask_refuses_a_negative_usage_credit(tmp_path: Path, servers) -> None:
    """A negative count would lower the day's spend: it is charged at the limit instead."""
    api = servers(lambda r: openai_usage(-(10**9), -(10**9), model=MODEL))
    result = rung(tmp_path, "ask", "--tier", "openai", "--base-url", api.url + "/v1",
                  "--model", MODEL, "--max-tokens", "40", "--json", "hi",
                  OPENAI_API_KEY="sk-proj-CANARY-0123456789")  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["usage"]["output_tokens"] == 40 and data["usage"]["input_tokens"] > 0
    assert float(data["cost_usd"]) > 0
