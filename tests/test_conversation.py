"""The conversation engine on its own: no Textual, no subprocess. Scripted tiers stand in
for models; routing, budgets, fallback, pricing and the SQLite history are the real ones."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from decimal import Decimal

import pytest

from rung.engine.config import data_dir, load_config
from rung.engine.conversation import (
    ChatOptions,
    Conversation,
    EngineEvent,
    FallingBack,
    LiveCost,
    Plan,
    Recorded,
    Refusal,
    Routed,
    StoreProblem,
    history_from_store,
)
from rung.engine.ladder import Ladder
from rung.engine.session import Session
from rung.engine.store import SCHEMA_VERSION, Store, open_store
from rung.tiers.base import TextDelta, Usage
from tests.competence_helpers import trust_local_model
from tests.conftest import wait_for
from tests.scripted import Script, ScriptedTier, anthropic, deepseek, local

HARD = "Design a distributed rate limiter for a multi-region API with strong guarantees."


def make(*tiers: ScriptedTier, mode: str = "auto", **budget: str) -> tuple[Conversation, list]:
    config = load_config()
    config.set("ladder", "rungs", [t.name for t in tiers])
    config.set("ladder", "mode", mode)
    for key, value in budget.items():
        config.set("budget", key, value)
    ladder = Ladder(config, reuse={t.name: t for t in tiers})
    events: list[EngineEvent] = []
    conversation = Conversation(ladder, Session(config, "test"), ChatOptions(max_tokens=64))
    conversation.add_listener(events.append)
    return conversation, events


async def send(conversation: Conversation, text: str):  # type: ignore[no-untyped-def]
    plan = conversation.prepare(text)
    assert isinstance(plan, Plan), plan
    return await conversation.run(plan)


def stored(conversation: Conversation):  # type: ignore[no-untyped-def]
    session = conversation.session
    assert session.recorder is not None and session.recorder.flush()
    store = open_store(data_dir())
    try:
        return store.transcript(session.session_id or 0)
    finally:
        store.close()


async def test_quick_questions_stay_local_and_hard_ones_climb() -> None:
    trust_local_model()  # see tests/competence_helpers.py
    cheap, premium = local(), anthropic()
    conversation, events = make(cheap, premium)
    quick = await send(conversation, "What is the capital of France?")
    hard = await send(conversation, HARD)
    assert quick.final.tier == "local" and hard.final.tier == "anthropic"
    assert len(cheap.requests) == 1 and len(premium.requests) == 1
    # The second request carried the whole conversation.
    assert [m.role for m in premium.requests[0].messages] == ["user", "assistant", "user"]
    routed = [e for e in events if isinstance(e, Routed)]
    assert [r.tier for r in routed] == ["local", "anthropic"]
    assert "anthropic" in routed[1].reason
    conversation.session.close()


async def test_the_budget_blocks_paid_rungs_before_anything_is_sent() -> None:
    premium = anthropic()
    conversation, _ = make(local(), premium, mode="anthropic", session_usd="0.0000001")
    first = await send(conversation, "hi")  # the first reply crosses the limit
    assert first.final.record.cost.usd and first.final.record.cost.usd > 0
    refusal = conversation.prepare("and again?")
    assert isinstance(refusal, Refusal) and refusal.kind == "budget"
    assert "session budget" in refusal.message
    assert len(premium.requests) == 1 and not conversation.busy
    assert [m.role for m in conversation.history] == ["user", "assistant"]  # nothing added
    conversation.session.close()


async def test_a_failing_rung_falls_back_and_both_attempts_are_priced() -> None:
    broken = deepseek(Script(pieces=["Half an"], usage=Usage(30, 2), fail="HTTP 503 after 4"))
    premium = anthropic(Script(pieces=["Whole answer."], usage=Usage(30, 3)))
    conversation, events = make(local(), broken, premium, mode="deepseek")
    outcome = await send(conversation, "Explain it")
    assert [a.tier for a in outcome.attempts] == ["deepseek", "anthropic"]
    assert outcome.attempts[0].reply.failed is not None
    assert all(a.record.cost.usd and a.record.cost.usd > 0 for a in outcome.attempts)
    totals = conversation.session.meter.totals()
    assert totals.spent == sum(a.record.cost.usd for a in outcome.attempts)  # type: ignore[misc]
    falling = [e for e in events if isinstance(e, FallingBack)]
    assert len(falling) == 1 and (falling[0].from_tier, falling[0].to_tier) == (
        "deepseek",
        "anthropic",
    )
    recorded = [e for e in events if isinstance(e, Recorded)]
    assert [r.last for r in recorded] == [False, True]
    # The conversation continues from the answer that worked.
    assert conversation.history[-1].content == "Whole answer."
    rows = stored(conversation)
    assert [(r.role, r.tier, r.finish_reason) for r in rows] == [
        ("user", None, None),
        ("assistant", "deepseek", "error"),
        ("assistant", "anthropic", "stop"),
    ]
    assert rows[1].content == "Half an" and "503" in (rows[1].error or "")
    conversation.session.close()


async def test_fallback_off_keeps_the_failure() -> None:
    broken = deepseek(Script(fail="refused"))
    conversation, _ = make(broken, anthropic(), mode="deepseek")
    conversation.options = ChatOptions(fallback=False)
    outcome = await send(conversation, "hi")
    assert [a.tier for a in outcome.attempts] == ["deepseek"]
    assert outcome.final.reply.failed is not None
    conversation.session.close()


async def test_escalation_replaces_the_answer_it_improves_on() -> None:
    trust_local_model()  # see tests/competence_helpers.py
    cheap = local(Script(pieces=["A guess."]))
    premium = anthropic(Script(pieces=["A proof."]))
    conversation, _ = make(cheap, premium)
    await send(conversation, "Is 91 prime?")
    plan = conversation.prepare_escalation()
    assert isinstance(plan, Plan) and plan.tier == "anthropic" and plan.escalation
    await conversation.run(plan)
    # The premium rung saw the question without the answer it replaces.
    assert [m.content for m in premium.requests[0].messages] == ["Is 91 prime?"]
    assert [m.content for m in conversation.history] == ["Is 91 prime?", "A proof."]
    rows = stored(conversation)
    assert [r.role for r in rows] == ["user", "assistant", "assistant"]  # both answers kept
    assert [m.content for m in history_from_store(rows)] == ["Is 91 prime?", "A proof."]
    # At the top there is nowhere to go, and it says so.
    top = conversation.prepare_escalation()
    assert isinstance(top, Refusal) and top.kind == "top"
    conversation.session.close()


async def test_nothing_to_escalate_in_a_new_conversation() -> None:
    conversation, _ = make(local(), anthropic())
    await send(conversation, "hi")
    conversation.start_new()
    refusal = conversation.prepare_escalation()
    assert isinstance(refusal, Refusal) and refusal.kind == "nothing"
    conversation.session.close()


async def test_a_new_conversation_is_a_new_stored_session() -> None:
    conversation, _ = make(local())
    await send(conversation, "first")
    first_id = conversation.session.session_id
    conversation.start_new()
    await send(conversation, "second")
    second_id = conversation.session.session_id
    assert first_id and second_id and first_id != second_id
    assert [r.content for r in stored(conversation) if r.role == "user"] == ["second"]
    assert conversation.session.meter.totals().input_tokens == 20  # the new chat's only
    conversation.session.close()


async def test_cancel_keeps_what_arrived_and_counts_it() -> None:
    slow = local(Script(pieces=["one ", "two ", "three ", "four"], usage=None, delay=0.2))
    conversation, events = make(slow)
    plan = conversation.prepare("count")
    assert isinstance(plan, Plan)
    task = asyncio.create_task(conversation.run(plan))
    await wait_for(lambda: any(isinstance(e, TextDelta) for e in events))
    conversation.cancel()
    outcome = await task
    reply = outcome.final.reply
    assert reply.finish_reason == "cancelled" and reply.text.startswith("one ")
    assert reply.usage.estimated and reply.usage.output_tokens >= 1
    assert conversation.history[-1].content == reply.text
    conversation.session.close()


async def test_a_reply_is_in_the_history_while_it_streams() -> None:
    slow = anthropic(Script(pieces=[f"word{i} " for i in range(30)], delay=0.05))
    conversation, _ = make(slow)
    plan = conversation.prepare("talk")
    assert isinstance(plan, Plan)
    task = asyncio.create_task(conversation.run(plan))
    session = conversation.session

    def partial_row() -> bool:
        rows = stored(conversation)
        return len(rows) == 2 and rows[1].finish_reason == "streaming" and bool(rows[1].content)

    await wait_for(partial_row, timeout=10)
    rows = stored(conversation)
    assert rows[1].cost_usd is not None and rows[1].estimated  # priced as it goes
    await task
    assert stored(conversation)[1].finish_reason == "stop"
    session.close()


async def test_an_interrupted_reply_is_kept_marked_and_priced() -> None:
    """Ctrl-C in `rung ask` or quitting mid-reply cancels the task running the turn."""
    slow = anthropic(Script(pieces=["partial ", "answer ", "never"], usage=None, delay=0.3))
    conversation, events = make(slow)
    plan = conversation.prepare("talk")
    assert isinstance(plan, Plan)
    task = asyncio.create_task(conversation.run(plan))
    await wait_for(lambda: sum(isinstance(e, TextDelta) for e in events) >= 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    conversation.session.close()
    store = open_store(data_dir())
    try:
        rows = store.transcript(1)
    finally:
        store.close()
    assert rows[1].finish_reason == "interrupted"
    assert rows[1].content == "partial answer "
    assert rows[1].cost_usd is not None and rows[1].cost_usd > 0 and rows[1].estimated


async def test_a_store_problem_is_reported_and_the_reply_still_arrives() -> None:
    # A history written by a newer Rung: left alone, and said so.
    store = Store(data_dir() / "rung.db")
    store.db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    store.close()
    conversation, events = make(local())
    outcome = await send(conversation, "hi")
    assert outcome.final.reply.text == "Hello there."
    problems = [e.message for e in events if isinstance(e, StoreProblem)]
    assert problems and "newer Rung" in problems[0]
    conversation.session.close()


async def test_streaming_never_queries_the_history(monkeypatch: pytest.MonkeyPatch) -> None:
    """Today's spend is read once per message, not on every price tick."""
    reads: list[int] = []
    original = Store.spent_since

    def counted(self: Store, since: datetime) -> Decimal:
        reads.append(1)
        return original(self, since)

    monkeypatch.setattr(Store, "spent_since", counted)
    slow = anthropic(Script(pieces=["x "] * 40, delay=0.01))
    conversation, events = make(slow, daily_usd="5")
    await send(conversation, "go")
    assert sum(isinstance(e, LiveCost) for e in events) >= 3
    assert len(reads) == 1
    conversation.session.close()


async def test_resume_brings_back_the_costs() -> None:
    conversation, _ = make(anthropic())
    await send(conversation, "hi")
    spent = conversation.session.meter.totals().spent
    session_id = conversation.session.session_id
    conversation.session.close()
    again, _ = make(anthropic())
    stored_messages = again.resume(session_id or 0)
    assert len(stored_messages) == 2
    assert again.session.meter.totals().spent == spent > Decimal(0)
    assert [m.role for m in again.history] == ["user", "assistant"]
    assert again.last_tier == "anthropic"
    again.session.close()


def test_the_engine_does_not_import_textual() -> None:
    import subprocess

    code = "import sys, rung.engine.conversation, rung.cli.ask;print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


async def test_regenerate_asks_again_on_the_same_rung() -> None:
    trust_local_model()  # see tests/competence_helpers.py
    cheap = local(Script(pieces=["A dull answer."]), Script(pieces=["A better one."]))
    conversation, _ = make(cheap, anthropic())
    await send(conversation, "Name a colour.")
    plan = conversation.prepare_regenerate()
    assert isinstance(plan, Plan) and plan.tier == "local" and "regenerated" in plan.reason
    await conversation.run(plan)
    assert [m.content for m in cheap.requests[1].messages] == ["Name a colour."]
    assert [m.content for m in conversation.history] == ["Name a colour.", "A better one."]
    conversation.session.close()


async def test_an_edited_question_replaces_the_last_exchange() -> None:
    cheap = local(Script(pieces=["Paris."]), Script(pieces=["Lyon."]), Script(pieces=["Rome."]))
    conversation, _ = make(cheap)
    await send(conversation, "Capital of France?")
    await send(conversation, "Largest city after Paris?")
    plan = conversation.prepare("Second largest city in France?", replace_last=True)
    assert isinstance(plan, Plan) and plan.replaces_last
    await conversation.run(plan)
    # The model saw the conversation without the exchange being replaced...
    assert [m.content for m in cheap.requests[2].messages] == [
        "Capital of France?", "Paris.", "Second largest city in France?",
    ]  # fmt: skip
    assert [m.content for m in conversation.history][-2:] == [
        "Second largest city in France?", "Rome.",
    ]  # fmt: skip
    # ...and so does a resume; the replaced exchange is kept (it was paid for) but hidden.
    session_id = conversation.session.session_id
    spent = conversation.session.meter.totals().spent
    conversation.session.close()
    again, _ = make(local())
    shown = again.resume(session_id or 0)
    assert [m.content for m in shown if m.role == "user"] == [
        "Capital of France?", "Second largest city in France?",
    ]  # fmt: skip
    assert again.session.meter.totals().spent == spent
    again.session.close()
