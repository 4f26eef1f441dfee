"""Fallback both ways: when the top rung (or every usable rung above) fails, the next
healthy rung below answers, out loud and priced, in the chat screen (Pilot) and in
`rung ask` (a real subprocess), with both attempts in the SQLite history and in
`rung cost`. Not on a failure a lower rung would share or the user must fix (a
rejected key, a conversation too long for the rung below), not for an escalation,
not on a cancel, not with `fallback = false`, and from a pinned rung only when
`fallback_below_pinned` allows it. Real local HTTP servers (tests/fakes.py)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from textual.widgets import Markdown

from rung.engine.config import data_dir, load_config
from rung.engine.conversation import ChatOptions, Conversation, EngineEvent, FallingBack, Plan
from rung.engine.ladder import Ladder
from rung.engine.session import Session
from rung.engine.store import open_store
from rung.tiers.base import TextDelta
from tests.conftest import confirm_hosts, wait_for
from tests.fakes import (
    Send,
    Sleep,
    anthropic_head,
    anthropic_piece,
    anthropic_tail,
    json_reply,
    openai_stream,
)
from tests.test_cli import rung
from tests.test_ladder_app import items, ladder_app, settle, write_config

HARD = "Design a distributed rate limiter with Redis and prove it is correct."
KEYS = {"ANTHROPIC_API_KEY": "sk-ant-test", "DEEPSEEK_API_KEY": "ds-test"}
NOTICE = "anthropic failed (HTTP 500): answering on deepseek instead"


def broken_top_and_healthy_cheap(servers, status: int = 500):  # type: ignore[no-untyped-def]
    top = servers(lambda r: json_reply(status, {"error": {"message": "boom"}}))
    cheap = servers(lambda r: openai_stream(["From DeepSeek."], model="deepseek-v4-flash"))
    return top, cheap


def engine(monkeypatch, top, cheap, **ladder) -> tuple[Conversation, list[EngineEvent]]:  # type: ignore[no-untyped-def]
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    config = load_config()
    config.set("ladder", "rungs", ["deepseek", "anthropic"])
    config.set("network", "max_retries", 0)
    for key, value in ladder.items():
        config.set("ladder", key, value)
    urls = {"anthropic": top.url + "/v1", "deepseek": cheap.url + "/v1"}
    for name, url in urls.items():
        config.providers[name] = {"base_url": url}
    confirm_hosts(**urls)
    events: list[EngineEvent] = []
    options = ChatOptions(max_tokens=16, fallback=config.get("ladder", "fallback"))
    conversation = Conversation(Ladder(config), Session(config, "test"), options)
    conversation.add_listener(events.append)
    return conversation, events


async def ask(conversation: Conversation, question: str = HARD):  # type: ignore[no-untyped-def]
    plan = conversation.prepare(question)
    assert isinstance(plan, Plan), plan
    return await conversation.run(plan)


# -- the chat screen ------------------------------------------------------------------------
async def test_chat_falls_back_down_out_loud_and_prices_both(servers, monkeypatch) -> None:
    top, cheap = broken_top_and_healthy_cheap(servers)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "ds-test")
    urls = {"anthropic": top.url + "/v1", "deepseek": cheap.url + "/v1"}
    app = ladder_app(monkeypatch, ["deepseek", "anthropic"], urls)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press(*HARD, "enter")  # Auto sends it to the top rung
        await settle(app, 2)
        failed, answered = items(app)
        assert failed.status == "failed"
        assert "answering on deepseek instead" in failed.query_one(Markdown).source
        assert answered.text == "From DeepSeek." and len(cheap.requests) == 1
        meta = str(answered.query_one(".meta").render())
        assert meta.startswith("deepseek") and "fallback down from anthropic (server)" in meta
        assert any(NOTICE in n.message for n in app._notifications)
        assert [r.tier for r in app.session.meter.records] == ["anthropic", "deepseek"]
        assert app.chat.history[-1].content == "From DeepSeek."
        session_id = app.session.session_id
        assert app.session.recorder is not None and app.session.recorder.flush()
    store = open_store(data_dir())
    try:
        replies = [m for m in store.transcript(session_id or 0) if m.role == "assistant"]
    finally:
        store.close()
    assert [(m.tier, bool(m.error)) for m in replies] == [("anthropic", True), ("deepseek", False)]
    assert replies[1].content == "From DeepSeek."


# -- rung ask -------------------------------------------------------------------------------
def ask_config(tmp_path: Path, top, cheap, extra: str = "") -> None:  # type: ignore[no-untyped-def]
    write_config(
        tmp_path,
        f'[ladder]\nrungs = ["deepseek", "anthropic"]\n{extra}'
        "[network]\nmax_retries = 0\n"
        f'[providers.anthropic]\nbase_url = "{top.url}/v1"\n'
        f'[providers.deepseek]\nbase_url = "{cheap.url}/v1"\n',
    )
    confirm_hosts(anthropic=top.url, deepseek=cheap.url)


def test_ask_falls_back_down_with_a_notice_and_both_attempts_priced(tmp_path, servers) -> None:  # type: ignore[no-untyped-def]
    top, cheap = broken_top_and_healthy_cheap(servers)
    ask_config(tmp_path, top, cheap)
    plain = rung(tmp_path, "ask", "--max-tokens", "16", HARD, **KEYS)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "From DeepSeek."
    assert f"rung: {NOTICE}" in plain.stderr
    result = rung(tmp_path, "ask", "--json", "--max-tokens", "16", HARD, **KEYS)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tier"] == "deepseek" and data["text"] == "From DeepSeek."
    assert [a["tier"] for a in data["attempts"]] == ["anthropic", "deepseek"]
    assert "HTTP 500" in data["attempts"][0]["error"]
    assert Decimal(data["total_cost_usd"]) == Decimal(data["attempts"][1]["cost_usd"]) > 0
    report = json.loads(rung(tmp_path, "cost", "--json").stdout)
    assert report["today"]["messages"] == 4  # two questions, each a failed and a kept attempt
    store = open_store(tmp_path / "data" / "rung")
    try:
        replies = store.replies_since()
    finally:
        store.close()
    assert [m.tier for m in replies] == ["anthropic", "deepseek"] * 2
    assert all("fallback down from anthropic" in (m.reason or "") for m in replies[1::2])


def test_a_pinned_top_rung_falls_down_only_when_allowed(tmp_path, servers) -> None:  # type: ignore[no-untyped-def]
    top, cheap = broken_top_and_healthy_cheap(servers)
    ask_config(tmp_path, top, cheap, 'mode = "anthropic"\n')
    refused = rung(tmp_path, "ask", "--max-tokens", "16", "hello", **KEYS)
    assert refused.returncode == 1 and cheap.requests == []
    assert "HTTP 500" in refused.stderr and "answering on" not in refused.stderr
    ask_config(tmp_path, top, cheap, 'mode = "anthropic"\nfallback_below_pinned = true\n')
    allowed = rung(tmp_path, "ask", "--max-tokens", "16", "hello", **KEYS)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip() == "From DeepSeek." and NOTICE in allowed.stderr


# -- when it does not fall down ----------------------------------------------------------
async def test_a_rejected_key_is_for_the_user_to_fix_not_a_fallback(servers, monkeypatch) -> None:
    top, cheap = broken_top_and_healthy_cheap(servers, status=401)
    conversation, events = engine(monkeypatch, top, cheap)
    outcome = await ask(conversation)
    assert [a.tier for a in outcome.attempts] == ["anthropic"]
    assert outcome.final.reply.failed is not None and outcome.final.reply.failed.kind == "auth"
    assert cheap.requests == [] and not any(isinstance(e, FallingBack) for e in events)


async def test_fallback_off_keeps_the_failure(servers, monkeypatch) -> None:
    top, cheap = broken_top_and_healthy_cheap(servers)
    conversation, _ = engine(monkeypatch, top, cheap, fallback=False)
    outcome = await ask(conversation)
    assert [a.tier for a in outcome.attempts] == ["anthropic"] and cheap.requests == []


async def test_an_escalation_that_fails_does_not_fall_back_to_the_rung_it_left(
    servers, monkeypatch
) -> None:
    top, cheap = broken_top_and_healthy_cheap(servers)
    conversation, _ = engine(monkeypatch, top, cheap)
    first = await ask(conversation, "hello")
    assert first.final.tier == "deepseek"
    plan = conversation.prepare_escalation()
    assert isinstance(plan, Plan) and plan.tier == "anthropic"
    outcome = await conversation.run(plan)
    assert [a.tier for a in outcome.attempts] == ["anthropic"]
    assert len(cheap.requests) == 1  # the first answer only


async def test_a_conversation_too_long_for_the_rung_below_does_not_fall_to_it(
    servers, monkeypatch
) -> None:
    top, cheap = broken_top_and_healthy_cheap(servers)
    conversation, _ = engine(monkeypatch, top, cheap)
    conversation.ladder.config.set("ladder", "rungs", ["local", "anthropic"])
    conversation.ladder = Ladder(conversation.ladder.config)
    conversation.ladder.config.set("local", "n_ctx", 512)
    long = "Summarise this log and find the fault.\n" + "worker 7 restarted: ok\n" * 400
    outcome = await ask(conversation, long)
    assert [a.tier for a in outcome.attempts] == ["anthropic"]
    assert not conversation.ladder.is_built("local")  # never loaded for it


async def test_a_cancel_is_not_a_failure_and_does_not_fall_down(servers, monkeypatch) -> None:
    def slow(_request):  # type: ignore[no-untyped-def]
        return [*anthropic_head(), Send(anthropic_piece("Part")), Sleep(5), *anthropic_tail(3)]

    top = servers(slow)
    cheap = servers(lambda r: openai_stream(["never"]))
    conversation, events = engine(monkeypatch, top, cheap)
    task = asyncio.create_task(ask(conversation))
    await wait_for(lambda: any(isinstance(e, TextDelta) for e in events), 20)
    conversation.cancel()
    outcome = await task
    assert [a.tier for a in outcome.attempts] == ["anthropic"]
    assert outcome.final.reply.finish_reason == "cancelled" and cheap.requests == []
