"""The router learns from its user: F9 on an answer climbs similar questions next time,
an answer kept from a cheaper pinned rung keeps them down, unrelated questions do not
move, `rung route --forget` undoes it all, `--explain` shows it, and a damaged lessons
file is reported and reset, never a crash. Scripted tiers, the real router and files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from rung.engine.config import data_dir, load_config
from rung.engine.conversation import Conversation, Plan, Routed
from rung.engine.ladder import AUTO, Ladder
from rung.tiers import lessons as lessons_module
from rung.tiers.base import ChatRequest, Message
from rung.tiers.lessons import (
    DOWN,
    FILE_NAME,
    MAX_LESSONS,
    UP,
    Lesson,
    LessonMemory,
    similarity_features,
)
from rung.tiers.lessons_store import LessonStore, summary
from rung.tiers.router import Decision, Rung, choose
from tests.competence_helpers import trust_local_model
from tests.scripted import anthropic, local
from tests.test_cli import rung
from tests.test_conversation import make, send

TWO = [Rung("local", "local"), Rung("anthropic", "api")]
# One kind of question the trained model keeps local, and a user who finds local's
# answers to it too weak: two escalations teach the router, three new phrasings climb.
SQL_TAUGHT = [
    "Write a SQL query that returns the second highest salary.",
    "How do I get the second highest salary in SQL?",
]
SQL_NEW = [
    "SQL query for the second highest salary per department?",
    "Query the second highest salary from an employees table.",
    "Second highest salary in a SQL table: how?",
]
# One kind the trained model sends up, and a user happy with local's answers to it.
MUTEX_KEPT = [
    "Explain how a mutex works in Python threading.",
    "Explain how a mutex works in C++ with an example.",
]
MUTEX_NEW = "Explain how a mutex works."
UNRELATED = [
    "What is the capital of Peru?",
    "Translate 'good morning' to Spanish.",
    "Write a SQL query that counts orders per customer.",
    "What is the highest mountain in Europe?",
    "How do I get the length of a list in Python?",
    "Design a distributed rate limiter.",
    "Give me a synonym for 'salary'.",
]


def lessons_path() -> Path:
    return data_dir() / FILE_NAME


def decide(conversation: Conversation, question: str) -> Decision:
    """Auto's decision for ``question`` as the first message, without sending it."""
    return conversation.ladder.auto_choice(conversation.request([Message("user", question)]))


def route(text: str, lessons: LessonMemory | None = None, ladder: list[Rung] = TWO) -> Decision:
    return choose(ChatRequest(messages=(Message("user", text),)), ladder, 0.5, None, lessons)


# -- learning through the engine --------------------------------------------------------
async def test_escalations_teach_the_router_and_forget_undoes_it(tmp_path: Path) -> None:
    trust_local_model()  # see tests/competence_helpers.py
    conversation, _ = make(local(), anthropic())
    before = {q: decide(conversation, q) for q in SQL_NEW + UNRELATED}
    assert [before[q].tier for q in SQL_NEW] == ["local"] * 3
    for question in SQL_TAUGHT:
        outcome = await send(conversation, question)
        assert outcome.final.tier == "local"
        plan = conversation.prepare_escalation()
        assert isinstance(plan, Plan) and plan.tier == "anthropic"
        assert plan.reason == "escalated by you from local; learned for similar questions"
        await conversation.run(plan)
        conversation.start_new()
    conversation.session.close()
    assert oct(stat.S_IMODE(lessons_path().stat().st_mode)) == "0o600"

    # The next start of Rung reads the lessons back.
    again, events = make(local(), anthropic())
    assert len(again.ladder.lessons.memory) == 2
    for question in SQL_NEW:
        learned = decide(again, question)
        assert learned.tier == "anthropic", question
        assert learned.reason == "chose anthropic: you escalated 2 similar questions"
        assert learned.base_score == before[question].score < 0.5 <= learned.score
    for question in UNRELATED:  # not moved at all: the same decision, to the digit
        assert decide(again, question) == before[question], question
    # In a conversation the header says it too, with what the rung not taken costs.
    outcome = await send(again, SQL_NEW[0])
    assert outcome.final.tier == "anthropic"
    routed = [e for e in events if isinstance(e, Routed)]
    assert routed[0].reason == (
        "chose anthropic: you escalated 2 similar questions; local would have been free"
    )
    again.session.close()

    result = rung(tmp_path, "route", "--forget")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Forgot 2 routing lessons (")
    assert not lessons_path().exists()
    # The Rung still running sees it from its next message on...
    assert decide(again, SQL_NEW[1]) == before[SQL_NEW[1]]
    # ...and so does the next start.
    forgotten, _ = make(local(), anthropic())
    for question in SQL_NEW + UNRELATED:
        assert decide(forgotten, question) == before[question]
    forgotten.session.close()
    again_forget = rung(tmp_path, "route", "--forget")
    assert "nothing to forget" in again_forget.stdout


async def test_a_kept_answer_from_a_cheaper_pinned_rung_keeps_similar_questions_down() -> None:
    trust_local_model()  # see tests/competence_helpers.py
    conversation, _ = make(local(), anthropic(), mode="local")
    assert decide(conversation, MUTEX_NEW).tier == "anthropic"
    for question in MUTEX_KEPT:
        await send(conversation, question)  # pinned local, where Auto would climb
        # Not a lesson yet: the user may still press F9.
        assert conversation.ladder.lessons.memory.count(DOWN) == MUTEX_KEPT.index(question)
        await send(conversation, "ok, thanks")  # the user goes on: the answer was kept
    memory = conversation.ladder.lessons.memory
    assert memory.count(DOWN) == 2 and memory.count(UP) == 0
    assert {lesson.rung for lesson in memory.lessons} == {"local"}
    conversation.session.close()

    auto, _ = make(local(), anthropic())
    kept = decide(auto, MUTEX_NEW)
    assert kept.tier == "local"
    assert kept.reason == "local: you kept 2 answers to similar questions on local"
    for question in UNRELATED:
        fresh = route(question)
        assert decide(auto, question).score == fresh.score
    auto.session.close()


async def test_an_escalated_or_edited_answer_was_not_kept() -> None:
    trust_local_model()  # see tests/competence_helpers.py
    conversation, _ = make(local(), anthropic(), mode="local")
    await send(conversation, MUTEX_KEPT[0])
    plan = conversation.prepare_escalation()
    assert isinstance(plan, Plan)
    await conversation.run(plan)
    await send(conversation, "ok, thanks")
    await send(conversation, MUTEX_KEPT[1])
    edited = conversation.prepare(MUTEX_NEW, replace_last=True)  # rewrites the question
    assert isinstance(edited, Plan)
    await conversation.run(edited)
    memory = conversation.ladder.lessons.memory
    assert [(lesson.direction, lesson.rung, lesson.to) for lesson in memory.lessons] == [
        (UP, "local", "anthropic")
    ]
    # The edited question's answer is kept once the user goes on...
    conversation.ladder.mode = "anthropic"
    await send(conversation, "Design a distributed rate limiter.")
    assert [(lesson.question, lesson.direction) for lesson in memory.lessons][1:] == [
        (MUTEX_NEW, DOWN)
    ]
    # ...and an answer pinned on the rung Auto would choose anyway says nothing.
    await send(conversation, "ok, thanks")
    assert len(conversation.ladder.lessons.memory) == 2
    conversation.ladder.mode = AUTO
    conversation.session.close()


def test_lessons_move_a_question_no_further_than_the_rungs_they_name() -> None:
    ladder = [Rung("local", "local"), Rung("deepseek", "api"), Rung("anthropic", "api")]
    memory = LessonMemory(Lesson(q, UP, "local", "deepseek") for q in SQL_TAUGHT * 1)
    for question in SQL_NEW:
        assert route(question, memory, ladder).tier == "deepseek"
    # Escalated past deepseek too: now the top is allowed.
    for q in SQL_TAUGHT:
        memory.add(Lesson(q, UP, "deepseek", "anthropic"))
    assert {route(q, memory, ladder).tier for q in SQL_NEW} <= {"deepseek", "anthropic"}
    # A kept answer never sends a question below the rung it was kept on.
    kept = LessonMemory(Lesson(q, DOWN, "deepseek") for q in MUTEX_KEPT * 1)
    assert route(MUTEX_NEW, None, ladder).tier == "anthropic"
    assert route(MUTEX_NEW, kept, ladder).tier == "deepseek"


def test_more_lessons_push_harder_and_unrelated_ones_not_at_all() -> None:
    scores = []
    memory = LessonMemory()
    for question in SQL_TAUGHT:
        memory.add(Lesson(question, UP, "local", "anthropic"))
        scores.append(route(SQL_NEW[1], memory).score)
    assert route(SQL_NEW[1]).score < scores[0] < scores[1]
    noise = LessonMemory(Lesson(q, UP, "local", "anthropic") for q in UNRELATED)
    for question in SQL_NEW:
        assert route(question, noise).learned is None


def test_an_empty_memory_changes_nothing_on_the_held_aside_set() -> None:
    rows = (Path(__file__).parents[1] / "bench" / "router_data" / "test.jsonl").read_text()
    empty = LessonMemory()
    for line in rows.splitlines()[:60]:
        prompt = json.loads(line)["prompt"]
        assert route(prompt, empty) == route(prompt)


# -- the memory and its file ---------------------------------------------------------------
def test_the_same_lesson_twice_counts_once_and_the_oldest_go_first() -> None:
    memory = LessonMemory()
    memory.add(Lesson(SQL_TAUGHT[0], UP, "local", "anthropic"))
    memory.add(Lesson(SQL_TAUGHT[0], UP, "local", "anthropic"))
    assert len(memory) == 1
    for i in range(MAX_LESSONS + 5):
        memory.add(Lesson(f"question number {i} about topic{i}", UP, "local", "api"))
    assert len(memory) == MAX_LESSONS
    assert memory.lessons[0].question == "question number 5 about topic5"


def test_two_processes_do_not_lose_each_others_lessons() -> None:
    first = LessonStore.load(lessons_path())
    second = LessonStore.load(lessons_path())
    first.record_escalation(SQL_TAUGHT[0], "local", "anthropic")
    second.record_kept(MUTEX_KEPT[0], "local")
    assert len(LessonStore.load(lessons_path()).memory) == 2


def test_the_file_keeps_vectors_and_rebuilds_them_for_a_new_feature_version() -> None:
    store = LessonStore.load(lessons_path())
    store.record_escalation(SQL_TAUGHT[0], "local", "anthropic")
    data = json.loads(lessons_path().read_text())
    assert data["format"] == 1 and data["lessons"][0]["q"] == SQL_TAUGHT[0]
    data["features_version"] = -1
    lessons_path().write_text(json.dumps(data))
    rebuilt = LessonStore.load(lessons_path()).memory.lessons[0]
    vector = similarity_features(SQL_TAUGHT[0])
    assert set(rebuilt.vector) == set(vector)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"",
        b"[1, 2, 3]",
        json.dumps({"format": 99, "lessons": []}).encode(),
        json.dumps({"format": 1, "features_version": 1, "lessons": "x"}).encode(),
        json.dumps({"format": 1, "features_version": 1, "lessons": [{"q": "hi"}]}).encode(),
        json.dumps({"format": 1, "features_version": 1, "lessons": [
            {"q": "hi", "dir": "sideways", "rung": "local", "f": [], "w": []}]}).encode(),
        json.dumps({"format": 1, "features_version": 1, "lessons": [
            {"q": "hi", "dir": "up", "rung": "local", "f": [1, 2], "w": [5]}]}).encode(),
        json.dumps({"format": 1, "features_version": 1, "lessons": [
            {"q": "hi", "dir": "up", "rung": "local", "f": [1 << 40], "w": [5]}]}).encode(),
        json.dumps({"format": 1, "features_version": 1, "lessons": [
            {"q": 7, "dir": "up", "rung": "local", "f": [], "w": []}]}).encode(),
        b"[" * 100_000,
    ],
)  # fmt: skip
def test_a_damaged_lessons_file_is_reported_and_reset(content: bytes) -> None:
    path = lessons_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    assert "cannot be read" in summary(path)
    ladder = Ladder(load_config())
    assert len(ladder.problems) == 1 and "damaged" in ladder.problems[0], ladder.problems
    assert len(ladder.lessons.memory) == 0
    assert not path.exists() and path.with_name(FILE_NAME + ".damaged").read_bytes() == content
    decision = ladder.decide(ChatRequest(messages=(Message("user", "hi"),)))
    assert decision.tier == "local"
    # Learning goes on in a fresh file.
    ladder.learn_escalation(SQL_TAUGHT[0], "local", "anthropic")
    assert len(LessonStore.load(path).memory) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rung_route_reports_a_damaged_file_and_still_routes(tmp_path: Path) -> None:
    path = lessons_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{oops")
    result = rung(tmp_path, "route", "--json", "--ladder", "local,api", "hi")
    assert result.returncode == 0 and json.loads(result.stdout)["tier"] == "local"
    assert "lessons file was damaged" in result.stderr and "Traceback" not in result.stderr


def test_an_unwritable_data_directory_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    store = LessonStore.load(blocked / FILE_NAME)
    store.record_escalation(SQL_TAUGHT[0], "local", "anthropic")
    problems = store.take_problems()
    assert problems and "Could not save" in problems[-1]
    assert len(store.memory) == 1  # still learned for this run


async def test_a_failed_save_reaches_the_conversation_as_a_store_problem() -> None:
    trust_local_model()  # see tests/competence_helpers.py
    from rung.engine.conversation import StoreProblem

    conversation, events = make(local(), anthropic())
    await send(conversation, SQL_TAUGHT[0])
    conversation.ladder.lessons.path = Path(os.devnull) / "x" / FILE_NAME
    plan = conversation.prepare_escalation()
    assert isinstance(plan, Plan)
    await conversation.run(plan)
    problems = [e.message for e in events if isinstance(e, StoreProblem)]
    assert any("Could not save the router's lessons" in p for p in problems)
    conversation.session.close()


def test_the_settings_line_counts_the_lessons() -> None:
    path = lessons_path()
    assert summary(path).startswith("Learned routing: no lessons yet")
    store = LessonStore.load(path)
    store.record_escalation(SQL_TAUGHT[0], "local", "anthropic")
    store.record_kept(MUTEX_KEPT[0], "local")
    assert summary(path) == (
        "Learned routing: 2 lessons (1 escalated, 1 kept cheaper); `rung route --forget` resets."
    )


# -- rung route --explain -----------------------------------------------------------------
def test_explain_shows_the_base_score_the_lessons_and_the_reason(tmp_path: Path) -> None:
    store = LessonStore.load(lessons_path())
    for question in SQL_TAUGHT:
        store.record_escalation(question, "local", "anthropic")
    store.record_kept(MUTEX_KEPT[0], "local")
    result = rung(tmp_path, "route", "--explain", "--ladder", "local,anthropic", SQL_NEW[0])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    base = route(SQL_NEW[0]).score
    learned = route(SQL_NEW[0], LessonStore.load(lessons_path()).memory)
    assert lines[0] == (
        f"rung 2 of 2 (anthropic), score {learned.score:.2f}: chose anthropic: you escalated 2 "
        "similar questions; local would have been free"
    )
    assert lines[1].startswith(f"  trained model  score {base:.2f} -> rung 1 (local); ")
    assert lines[2].startswith("  pushed by      ") and "'sql'" in lines[2]
    assert lines[3] == (
        f"  learned        score {base:.2f} -> {learned.score:.2f} "
        f"({learned.score - base:+.2f}), 2 of 3 lessons similar:"
    )
    assert lines[4].startswith("    climb weight ") and "escalated local -> anthropic: " in lines[4]
    assert SQL_TAUGHT[0][:40] in result.stdout and SQL_TAUGHT[1][:40] in result.stdout
    assert MUTEX_KEPT[0] not in result.stdout  # an unrelated lesson had no say
    assert lines[-1].startswith("  expected cost  local free · anthropic ~$")

    as_json = rung(tmp_path, "route", "--explain", "--json", "--ladder", "local,anthropic",
                   SQL_NEW[0])  # fmt: skip
    data = json.loads(as_json.stdout)
    assert data["tier"] == "anthropic" and data["base_score"] == round(base, 4)
    assert len(data["lessons"]) == 2 and all(h["weight"] > 0 for h in data["lessons"])
    assert data["costs"]["local"] == "0" and data["base_rung"] == 1

    off = rung(tmp_path, "route", "--explain", "--no-lessons", "--ladder", "local,anthropic",
               SQL_NEW[0])  # fmt: skip
    assert off.stdout.startswith("rung 1 of 2 (local)")
    assert "  learned        not used (--no-lessons)" in off.stdout


def test_explain_without_lessons_says_so(tmp_path: Path) -> None:
    result = rung(tmp_path, "route", "--explain", "--ladder", "local,api", "hello")
    assert result.returncode == 0, result.stderr
    assert "  learned        nothing yet (F9 on an answer teaches the router)" in result.stdout
    assert "expected cost  local free · api unknown" in result.stdout
    needs_prompt = rung(tmp_path, "route", "--explain", "--ladder", "local,api")
    assert needs_prompt.returncode == 2


def test_lessons_module_is_pure_enough_for_the_router() -> None:
    # The router never imports the lessons module at run time (only for types); the
    # memory reads the router's tokens. No cycle, and nothing imports the app.
    import rung.tiers.router as router

    assert "lessons" not in vars(router)
    assert lessons_module.LessonMemory is LessonMemory


def test_the_router_hands_the_lessons_the_same_words_they_would_read() -> None:
    from rung.tiers.router import _inputs, features

    for text in [*SQL_NEW, "Fix this:\n\n```py\nprint(1)\n```", "Translate: " + "word " * 900]:
        request = ChatRequest(messages=(Message("user", text),))
        words = _inputs(request, features(request))[2]
        assert similarity_features(text, words) == similarity_features(text)
