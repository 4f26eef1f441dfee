"""Greetings and exact-echo instructions are different kinds (issue 25 follow-up, item
1): any polite answer to "hello" is right, while "Reply with the word yes" has one, and
a small model does the two differently. `rung calibrate --kinds` re-measures only some
kinds and keeps the model's other numbers."""

from __future__ import annotations

import json
from pathlib import Path

from rung.tiers.competence import CALIBRATION_SET, HELDOUT_SET, shipped_profiles
from rung.tiers.local import EMBEDDED_MODEL_FILE
from rung.tiers.task_kind import KINDS, task_kind
from tests.test_cli import rung


def test_greetings_and_echo_instructions_are_told_apart() -> None:
    for text in ("hello", "Hi there!", "Thanks so much!", "Bye for now.", "How are you?",
                 "Nice to meet you", "Good morning!", "Hey, what's up?"):  # fmt: skip
        assert task_kind(text) == "greeting", text
    for text in ("Reply with the word yes.", "Say 'okay' and nothing else.", "Just say 'done'.",
                 "Respond with 'hello world'.", "Can you say thank you?"):  # fmt: skip
        assert task_kind(text) == "echo", text
    assert "chat" not in KINDS
    # Neither swallows a real question that starts like one.
    assert task_kind("How do I undo the last git commit but keep the changes?") == "command"


def test_both_sets_label_greetings_and_echo_and_the_shipped_profile_measured_both() -> None:
    for path in (CALIBRATION_SET, HELDOUT_SET):
        kinds = {json.loads(line)["kind"] for line in path.read_text().splitlines()}
        assert {"greeting", "echo"} <= kinds and "chat" not in kinds
    embedded = shipped_profiles()[EMBEDDED_MODEL_FILE]
    assert embedded.counts["greeting"] == 26 and embedded.counts["echo"] >= 10
    assert set(embedded.rates) == set(KINDS) - {"other"}


def test_calibrate_kinds_measures_only_those_and_keeps_the_rest(tmp_path: Path) -> None:
    result = rung(tmp_path, "calibrate", "--kinds", "greeting", "--limit", "2",
                  "--max-tokens", "16", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "[2/2] greeting" in result.stderr and "echo" not in result.stderr
    profile = json.loads(result.stdout)
    assert profile["counts"]["greeting"] == 2
    shipped = shipped_profiles()[EMBEDDED_MODEL_FILE]
    # The kinds not measured keep the shipped numbers (the old "chat" is gone).
    assert profile["rates"]["command"] == shipped.rates["command"]
    assert profile["counts"]["fact"] == shipped.counts["fact"]
    assert set(profile["rates"]) == set(shipped.rates)


def test_calibrate_names_an_unknown_kind(tmp_path: Path) -> None:
    result = rung(tmp_path, "calibrate", "--kinds", "greeting,chat")
    assert result.returncode == 2
    assert "--kinds: unknown task kind 'chat'; known: greeting, echo" in result.stderr
    assert "Traceback" not in result.stderr
