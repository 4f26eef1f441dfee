"""Lessons that agree teach their shared frame: two F9s on "Summarise the play Hamlet
in one line." and "... Macbeth ..." send "... King Lear ..." up, in the real chat
screen (real local model, a fake Anthropic server on 127.0.0.1) and in the router;
questions outside that frame, and a full store of unrelated lessons, move nothing."""

from __future__ import annotations

import json
from pathlib import Path

from rung.tiers.base import ChatRequest, Message
from rung.tiers.lessons import DOWN, UP, Lesson, LessonMemory
from rung.tiers.router import Decision, Rung, choose
from tests.fakes import anthropic_stream
from tests.test_ladder_app import items, ladder_app, settle

TWO = [Rung("local", "local"), Rung("anthropic", "api")]
HAMLET = "Summarise the play Hamlet in one line."
MACBETH = "Summarise the play Macbeth in one line."
LEAR = "Summarise the play King Lear in one line."
# Near the frame's words, but not in the frame, or not about plays at all.
OUTSIDE = [
    "Summarise this email in one line.",
    "Summarise the news in one line.",
    "Summarise the film Titanic in one line.",
    "Name a play by Shakespeare.",
    "Write one line of Python to reverse a list.",
    "What is the capital of Peru?",
    "Translate 'good morning' to Spanish.",
]
BENCH = Path(__file__).parents[1] / "bench" / "router_data"


def route(text: str, memory: LessonMemory | None) -> Decision:
    return choose(ChatRequest(messages=(Message("user", text),)), TWO, 0.5, None, memory)


def escalated(*questions: str) -> LessonMemory:
    return LessonMemory(Lesson(q, UP, "local", "anthropic") for q in questions)


def test_two_agreeing_escalations_send_a_third_play_up() -> None:
    assert route(LEAR, None).tier == "local"  # the trained model keeps it local
    decision = route(LEAR, escalated(HAMLET, MACBETH))
    assert decision.tier == "anthropic", decision
    assert "you escalated 2 similar questions" in decision.reason
    hits = decision.learned.hits if decision.learned else ()
    # Each lesson alone is 0.50 like it; the frame they share is 0.67 like it.
    assert {h.lesson.question for h in hits} == {HAMLET, MACBETH}
    assert all(h.framed and h.similarity > 0.6 for h in hits)
    assert decision.score >= 0.5


def test_one_escalation_is_not_a_frame() -> None:
    decision = route(LEAR, escalated(HAMLET))
    assert decision.tier == "local"
    assert decision.learned is not None and not decision.learned.hits[0].framed


def test_lessons_that_disagree_share_no_frame() -> None:
    # One escalated, one kept on local: they do not agree, so no frame.
    mixed = LessonMemory([Lesson(HAMLET, UP, "local", "anthropic"), Lesson(MACBETH, DOWN, "local")])
    assert route(LEAR, mixed).tier == "local"
    assert not any(h.framed for h in route(LEAR, mixed).learned.hits)  # type: ignore[union-attr]


def test_questions_outside_the_frame_are_untouched() -> None:
    memory = escalated(HAMLET, MACBETH)
    for question in OUTSIDE:
        assert route(question, memory) == route(question, None), question


def test_a_full_store_of_unrelated_lessons_moves_no_held_aside_question() -> None:
    """500 lessons from the training prompts (hard ones escalated, quick ones kept),
    plus the two agreeing ones: the held-aside prompts route as the model alone does."""
    train = [json.loads(line) for line in (BENCH / "train.jsonl").read_text().splitlines()]
    lessons = [
        Lesson(r["prompt"][:300], UP, "local", "api")
        if r["label"] == "hard"
        else Lesson(r["prompt"][:300], DOWN, "local")
        for r in train
        if r
    ][-498:]
    memory = LessonMemory([*lessons, *escalated(HAMLET, MACBETH).lessons])
    assert len(memory) == 500
    rows = [json.loads(line) for line in (BENCH / "test.jsonl").read_text().splitlines()]
    for prompt in [r["prompt"] for r in rows if r] + OUTSIDE:
        assert route(prompt, memory).tier == route(prompt, None).tier, prompt
    assert route(LEAR, memory).tier == "anthropic"


def calibrated_as_good_at_rewriting() -> None:
    """A user whose local model `rung calibrate` measured as good at summaries (stored
    where it would store it): the embedded 135M model measured 12/26 on rewriting, so
    Auto would not ask it for a summary at all, and there would be nothing to F9."""
    from rung.engine.config import data_dir
    from rung.tiers.competence import measured, model_key, save_profile
    from rung.tiers.local import embedded_model_path

    path = embedded_model_path()
    assert path is not None
    save_profile(data_dir(), model_key(path), measured(path.name, {"rewrite": (26, 26)}))


async def test_f9_twice_in_the_chat_sends_the_third_play_up(servers, monkeypatch) -> None:
    calibrated_as_good_at_rewriting()
    api = servers(lambda r: anthropic_stream(["A one-line summary."]))
    # No continuity rule: after an F9 the next question may leave the warm paid rung
    # (tests/test_competence_chat.py covers the rule).
    no_hold = {("ladder", "min_saving_usd"): ""}
    app = ladder_app(monkeypatch, ["local", "anthropic"], {"anthropic": api.url + "/v1"}, no_hold)
    async with app.run_test(size=(140, 40)) as pilot:
        answered = 0
        for question in (HAMLET, MACBETH):
            await pilot.press(*question, "enter")
            answered += 1
            await settle(app, answered)
            assert str(items(app)[-1].query_one(".meta").render()).startswith("local")
            await pilot.press("f9")
            answered += 1
            await settle(app, answered)
            assert "escalated by you from local" in str(items(app)[-1].query_one(".meta").render())
        await pilot.press(*LEAR, "enter")
        await settle(app, answered + 1)
        meta = str(items(app)[-1].query_one(".meta").render())
        assert meta.startswith("anthropic"), meta
        assert "you escalated 2 similar questions" in meta
        assert len(api.requests) == 3  # two escalations and the third play
