"""The router's trained model: it ships, loads once, decides, falls back when it cannot
be read, and meets the target on the held-aside set it was never trained or tuned on."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rung.tiers import router
from rung.tiers.base import ChatRequest, Message
from rung.tiers.router import Rung, TrainedModel, choose, features, score

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "router_data"
# The held-aside set was written before any model code and frozen: this hash pins it, so
# the target below is measured on exactly those prompts (see bench/router_data/README.md).
TEST_SHA256 = "afcbc7cb541d8aff3fff174ddb10b84902a8303ff412b2b575c10e93d6080b7d"
TWO = [Rung("local", "local"), Rung("api", "api")]


def request(text: str) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),))


def route(text: str, quality: float = 0.5) -> router.Decision:
    return choose(request(text), TWO, quality)


def rows(name: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


@pytest.fixture
def model_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Point the router at another model file; the shipped one is read again afterwards."""
    path = tmp_path / "router_model.json"
    monkeypatch.setattr(router, "MODEL_FILE", path)
    router.trained_model.cache_clear()
    yield path
    monkeypatch.undo()
    router.trained_model.cache_clear()


def test_the_shipped_model_loads_and_decides() -> None:
    router.trained_model.cache_clear()
    model = router.trained_model()
    assert model is not None and len(model.weights) > 1000
    assert router.MODEL_FILE.stat().st_size < 300_000
    prompt = "Write a garbage collector for a toy VM."
    d = route(prompt)
    # The score is the model's probability, not the hand-weighted one.
    assert d.score != round(score(features(request(prompt))), 4)
    assert d.rung == 1 and d.reason.startswith("chose api: ")


def test_the_model_file_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = TrainedModel.load

    def counting(path: Path) -> TrainedModel | None:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(TrainedModel, "load", staticmethod(counting))
    router.trained_model.cache_clear()
    try:
        for text in ("hi", "Design a distributed rate limiter.", "Translate 'cat' to French."):
            route(text)
        assert len(calls) == 1
    finally:
        monkeypatch.undo()
        router.trained_model.cache_clear()


def test_a_missing_model_file_falls_back_to_the_hand_score(model_file: Path) -> None:
    assert not model_file.exists() and router.trained_model() is None
    prompt = "Design a distributed rate limiter."
    d = route(prompt)
    assert d.score == round(score(features(request(prompt))), 4)
    assert d.rung == 1 and "task: design" in d.reason
    assert route("What is the capital of Peru?").rung == 0


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"inputs_version": router.MODEL_INPUTS_VERSION}),  # fields missing
        json.dumps({"inputs_version": -1, "buckets": 8, "scale": 1000, "bias": 0,
                    "index_delta": [1], "weight": [5]}),  # made for other inputs
        json.dumps({"inputs_version": router.MODEL_INPUTS_VERSION, "buckets": 8, "scale": 1000,
                    "bias": 0, "index_delta": [1, 2], "weight": [5]}),  # lengths differ
        json.dumps({"inputs_version": router.MODEL_INPUTS_VERSION, "buckets": 8, "scale": 1000,
                    "bias": 0, "index_delta": [9], "weight": [5]}),  # bucket out of range
        json.dumps({"inputs_version": router.MODEL_INPUTS_VERSION, "buckets": 8, "scale": 1000,
                    "bias": "x", "index_delta": [1], "weight": [5]}),  # wrong type
        json.dumps([1, 2, 3]),
    ],
)  # fmt: skip
def test_a_corrupt_model_file_falls_back_to_the_hand_score(model_file: Path, content: str) -> None:
    model_file.write_text(content)
    assert router.trained_model() is None
    prompt = "Implement a B-tree with deletion."
    d = route(prompt)
    assert d.score == round(score(features(request(prompt))), 4) and d.rung == 1


@pytest.mark.parametrize(
    "prompt",
    [
        # Short questions whose difficulty is in the subject: the old router kept these local.
        "Is P = NP likely? Give the strongest arguments both ways.",
        "How does Spectre variant 1 leak data across a bounds check?",
        "Write a garbage collector for a toy VM.",
    ],
)
def test_previously_missed_hard_prompts_climb(prompt: str) -> None:
    router.trained_model.cache_clear()
    assert route(prompt).rung == 1


@pytest.mark.parametrize(
    "prompt",
    [
        "Review this sentence for typos: 'Teh cat sat on teh mat.'",
        "Translate 'design document' into German.",
        "Give me a synonym for 'optimize'.",
        "Fix the typos: 'We need to implment the new desgin.'",
        "Spell 'debugging' backwards.",
        "Suggest a design for a birthday card in one line.",
        "Summarize in one sentence: 'We will debug the deployment pipeline on Monday.'",
    ],
)
def test_quick_prompts_with_task_words_stay_local(prompt: str) -> None:
    router.trained_model.cache_clear()
    assert route(prompt).rung == 0


def test_the_held_aside_set_meets_the_target() -> None:
    """At least 90% of hard prompts above rung 0 and 90% of quick ones on it, at the
    default quality, on the frozen held-aside set."""
    raw = (DATA / "test.jsonl").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == TEST_SHA256, "the held-aside set has changed"
    router.trained_model.cache_clear()
    test = rows("test.jsonl")
    hard = [route(r["prompt"]).rung > 0 for r in test if r["label"] == "hard"]
    quick = [route(r["prompt"]).rung == 0 for r in test if r["label"] == "quick"]
    assert len(test) >= 150 and min(len(hard), len(quick)) >= 75
    assert sum(hard) / len(hard) >= 0.90
    assert sum(quick) / len(quick) >= 0.90


def test_no_evaluation_prompt_is_in_the_training_set() -> None:
    def key(text: str) -> str:
        return " ".join(text.lower().split())

    train = {key(r["prompt"]) for r in rows("train.jsonl")}
    evaluation = [*rows("test.jsonl"), *rows("test2.jsonl")]
    for path in (ROOT / "bench" / "routing_heldout.jsonl", ROOT / "bench" / "routing_fresh.jsonl"):
        evaluation += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert not [r["prompt"] for r in evaluation if key(r["prompt"]) in train]
    assert {r["label"] for r in rows("train.jsonl")} == {"quick", "hard"}


def test_the_quality_dial_still_moves_decisions() -> None:
    router.trained_model.cache_clear()
    # Prompts the model is unsure about: cheap settings keep them, eager ones climb.
    prompts = [r["prompt"] for r in rows("test.jsonl") + rows("test2.jsonl")]
    unsure = [p for p in prompts if 0.3 < route(p).score < 0.7]
    assert unsure
    for prompt in unsure:
        assert route(prompt, quality=0.0).rung == 0 and route(prompt, quality=1.0).rung == 1


def test_routing_needs_no_numpy_and_gives_the_same_reason_under_any_hash_seed() -> None:
    code = (
        "import sys\n"
        "from rung.tiers.base import ChatRequest, Message\n"
        "from rung.tiers.router import Rung, choose, trained_model\n"
        "assert trained_model() is not None\n"
        "d = choose(ChatRequest(messages=(Message('user', sys.argv[1]),)),\n"
        "           [Rung('local', 'local'), Rung('api', 'api')])\n"
        "assert 'numpy' not in sys.modules, 'the router imported numpy'\n"
        "print(d.score, d.reason)\n"
    )
    prompt = "Could a Dyson sphere be built? Analyse the engineering limits."
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code, prompt], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1
