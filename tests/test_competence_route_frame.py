"""`rung route --explain` says when a lesson's vote came from a frame it shares with an
agreeing lesson (tiers/lessons.py ``Hit.framed``): otherwise a lesson shown at
similarity 0.67 that alone is only 0.50 like the question is unexplained."""

from __future__ import annotations

import json
from pathlib import Path

from rung.tiers.lessons import FILE_NAME
from rung.tiers.lessons_store import LessonStore
from tests.test_cli import rung
from tests.test_lessons_frame import HAMLET, LEAR, MACBETH


def ladder_with_lessons(tmp_path: Path, *escalated: str) -> None:
    config = tmp_path / "config" / "rung" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[ladder]\nrungs = ["local", "anthropic"]\n')
    store = LessonStore(tmp_path / "data" / "rung" / FILE_NAME)
    for question in escalated:
        store.record_escalation(question, "local", "anthropic")
    assert store.save()


def test_route_explain_names_a_vote_from_a_shared_frame(tmp_path: Path) -> None:
    ladder_with_lessons(tmp_path, HAMLET, MACBETH)
    result = rung(tmp_path, "route", "--explain", LEAR, ANTHROPIC_API_KEY="sk-test")
    assert result.returncode == 0, result.stderr
    assert "(anthropic)" in result.stdout.splitlines()[0]
    votes = [line for line in result.stdout.splitlines() if line.startswith("    climb")]
    assert len(votes) == 2 and all("to a shared frame" in v for v in votes), result.stdout
    assert "shared frame: the lessons agree and differ only in one slot" in result.stdout
    data = json.loads(rung(tmp_path, "route", "--json", LEAR, ANTHROPIC_API_KEY="sk-test").stdout)
    assert [hit["framed"] for hit in data["lessons"]] == [True, True]


def test_a_lone_lesson_is_not_called_a_frame(tmp_path: Path) -> None:
    ladder_with_lessons(tmp_path, HAMLET)
    result = rung(tmp_path, "route", "--explain", LEAR, ANTHROPIC_API_KEY="sk-test")
    assert result.returncode == 0, result.stderr
    assert "similarity 0.50: " in result.stdout and "frame" not in result.stdout
    data = json.loads(rung(tmp_path, "route", "--json", LEAR, ANTHROPIC_API_KEY="sk-test").stdout)
    assert [hit["framed"] for hit in data["lessons"]] == [False]
