"""The local rung against the real embedded SmolLM2 model."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from rung.tiers.base import ChatRequest, Failed, Finished, Message, TextDelta, Usage
from rung.tiers.local import (
    DEFAULT_MAX_TOKENS,
    GUARD_MIN_COPIES,
    GUARD_MIN_SPAN,
    CpuTimes,
    LocalModelError,
    LocalTier,
    RepetitionGuard,
    Sampling,
    asked_copies,
    choose_threads,
    embedded_model_path,
    others_busy,
    read_cpu_times,
    sampling_for,
)
from rung.tiers.turn import Turn, collect


def ask(text: str, max_tokens: int = 24, **kw: object) -> ChatRequest:
    return ChatRequest(
        messages=(Message("user", text),), max_tokens=max_tokens, temperature=0, **kw
    )  # type: ignore[arg-type]


def test_embedded_model_is_found_without_importing_llm() -> None:
    import sys

    path = embedded_model_path()
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    assert "llm" not in sys.modules


async def test_reply_streams_in_pieces_then_usage_then_finished(local_tier: LocalTier) -> None:
    events = [e async for e in local_tier.stream(ask("Name three colors.", 30))]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 5, "a reply must arrive token by token, not in one piece"
    assert isinstance(events[-2], Usage) and isinstance(events[-1], Finished)
    finished = events[-1]
    assert finished.model == "SmolLM2-135M-Instruct"
    assert finished.time_to_first_token_s is not None and finished.time_to_first_token_s > 0
    # Speed itself is measured in bench/, not asserted here: only that it is reported.
    assert finished.output_tokens_per_s is not None and finished.output_tokens_per_s > 0


@pytest.mark.parametrize("question", ["hello", "What is the capital of France?"])
async def test_token_counts_are_exact(local_tier: LocalTier, question: str) -> None:
    """Our streamed counts equal llama.cpp's own (non-streaming) usage for the same reply."""
    reply = await collect(local_tier, ask(question, 40))
    reference = local_tier._llm.create_chat_completion(
        messages=[{"role": "user", "content": question}],
        max_tokens=40,
        temperature=0,
        **local_tier.sampling.completion_kwargs(),  # the same sampler settings
    )
    assert reply.text == reference["choices"][0]["message"]["content"]
    assert reply.usage.input_tokens == reference["usage"]["prompt_tokens"]
    assert reply.usage.output_tokens == reference["usage"]["completion_tokens"]
    assert reply.usage.estimated is False
    assert reply.finish_reason == reference["choices"][0]["finish_reason"]


async def test_cancel_stops_within_a_token_and_keeps_the_text(local_tier: LocalTier) -> None:
    seen: list[str] = []
    turn: Turn

    def on_event(event: object) -> None:
        if isinstance(event, TextDelta):
            seen.append(event.text)
            if len(seen) == 5:
                turn.cancel()

    turn = Turn(local_tier, ask("Write a long story about a dragon.", 400), [on_event])
    reply = await turn.run()
    assert reply.finish_reason == "cancelled"
    # Generation stopped within a token: at most one more piece was already on its way.
    assert reply.text == "".join(seen) and len(seen) in (5, 6)
    # The count is the model's own, not an estimate, and covers what was shown.
    assert reply.usage.estimated is False
    assert len(seen) <= reply.usage.output_tokens <= len(seen) + 1
    # The worker is free again at once: a new request answers.
    again = await asyncio.wait_for(collect(local_tier, ask("hi", 5)), timeout=20)
    assert again.text


async def test_second_turn_reuses_the_cached_prefix(local_tier: LocalTier) -> None:
    first = await collect(local_tier, ask("Name a fruit.", 12))
    history = (
        Message("user", "Name a fruit."),
        Message("assistant", first.text),
        Message("user", "And a vegetable?"),
    )
    second = await collect(local_tier, ChatRequest(messages=history, max_tokens=12, temperature=0))
    assert second.usage.input_tokens > first.usage.input_tokens
    # Everything up to the new question was already in the KV cache.
    assert second.usage.cached_input_tokens >= first.usage.input_tokens - 2


async def test_long_history_drops_oldest_turns_and_says_so() -> None:
    tier = LocalTier(n_ctx=512)
    try:
        await tier.load()
        filler = "This is an old message about nothing in particular. " * 20
        history: list[Message] = []
        for i in range(6):
            history += [Message("user", f"{i} {filler}"), Message("assistant", "ok")]
        history.append(Message("user", "Say hi."))
        reply = await collect(tier, ChatRequest(messages=tuple(history), max_tokens=8))
        assert reply.failed is None
        assert any("Dropped the" in n and "512-token context" in n for n in reply.notices)
        assert reply.usage.input_tokens + 8 <= 512
    finally:
        tier.close()


async def test_message_bigger_than_context_fails_clearly() -> None:
    tier = LocalTier(n_ctx=256)
    try:
        await tier.load()
        reply = await collect(tier, ask("word " * 600, 8))
        assert reply.failed is not None and reply.failed.kind == "context"
        assert "context window holds 256" in reply.failed.message
    finally:
        tier.close()


async def test_missing_model_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    tier = LocalTier(missing)
    with pytest.raises(LocalModelError, match=r"nope\.gguf"):
        await tier.load()
    events = [e async for e in tier.stream(ask("hi"))]
    assert isinstance(events[-1], Failed) and str(missing) in events[-1].message
    tier.close()


async def test_corrupt_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 4000)
    tier = LocalTier(bad)
    with pytest.raises(LocalModelError, match=r"broken\.gguf.*not a valid GGUF"):
        await tier.load()
    tier.close()


# -- issue 12: the local rung out of the box ------------------------------------------
def test_the_embedded_model_gets_rungs_sampling_defaults(local_tier: LocalTier) -> None:
    # The embedded GGUF states no sampling settings: Rung's defaults, penalty included.
    assert not any(k.startswith("general.sampling.") for k in local_tier._llm.metadata)
    assert local_tier.sampling == Sampling()
    assert local_tier.sampling.repeat_penalty == 1.1
    assert local_tier._llm.last_n_tokens_size == 64


def test_sampling_settings_stated_by_the_model_file_win() -> None:
    metadata = {
        "general.sampling.top_k": "20",
        "general.sampling.top_p": "0.8",
        "general.sampling.penalty_repeat": "1.05",
        "general.sampling.penalty_last_n": "-1",  # llama.cpp: the whole context
        "general.sampling.min_p": "not a number",  # ignored, Rung's default stays
    }
    sampling = sampling_for(metadata, n_ctx=2048)
    assert (sampling.top_k, sampling.top_p, sampling.min_p) == (20, 0.8, 0.05)
    assert sampling.repeat_penalty == 1.05 and sampling.repeat_last_n == 2048
    assert "top_k" in sampling.from_model and "min_p" not in sampling.from_model
    # The config's repeat_penalty overrides the model's.
    assert sampling_for(metadata, repeat_penalty=1.0).repeat_penalty == 1.0


async def test_an_open_question_that_looped_now_ends_by_itself(local_tier: LocalTier) -> None:
    """ "Tell me about Paris" looped until the 2,048-token limit (issue 12); with the
    repeat penalty it ends by itself, well inside the local output limit, and the counts
    are still llama.cpp's own for the same sampler settings."""
    question = "Tell me about Paris"
    reply = await collect(local_tier, ask(question, 2048))
    assert reply.finish_reason == "stop"
    assert 50 < reply.usage.output_tokens < DEFAULT_MAX_TOKENS
    assert not any("repeating" in n or "output limit" in n for n in reply.notices)
    reference = local_tier._llm.create_chat_completion(
        messages=[{"role": "user", "content": question}],
        max_tokens=2048,
        temperature=0,
        **local_tier.sampling.completion_kwargs(),
    )
    assert reply.text == reference["choices"][0]["message"]["content"]
    assert reply.usage.output_tokens == reference["usage"]["completion_tokens"]
    assert reference["choices"][0]["finish_reason"] == "stop"


async def test_the_guard_ends_a_loop_with_a_notice_and_exact_counts() -> None:
    """Without the penalty (a model file may say 1.0) these questions loop; the guard
    ends such a loop with "stop" and a notice, long before the limit, with exact counts.

    Which question loops, and with what period, depends on the arithmetic: the load mode
    (AMX CPUs load without weight repacking) and the thread count change the sums'
    order. So the threads are fixed, and the first question the guard stops is checked
    in full; one of them must be stopped."""
    tier = LocalTier(n_ctx=1024, repeat_penalty=1.0, n_threads=2)
    try:
        await tier.load()
        settings = {"temperature": 0, **tier.sampling.completion_kwargs()}
        stopped = []
        for question in ("Tell me about Berlin", "Tell me about cats", "Tell me about London"):
            reply = await collect(tier, ask(question, 512))
            if reply.finish_reason == "stop" and reply.notices:
                stopped.append((question, reply))
                break
        assert stopped, "the guard stopped none of the looping questions"
        question, reply = stopped[0]
        messages = [{"role": "user", "content": question}]
        # It did loop: llama.cpp alone runs to the limit on the same question.
        unguarded = tier._llm.create_chat_completion(messages=messages, max_tokens=512, **settings)
        assert unguarded["choices"][0]["finish_reason"] == "length"
        assert any("repeating itself" in n for n in reply.notices)
        assert reply.usage.output_tokens < 400
        assert unguarded["choices"][0]["message"]["content"].startswith(reply.text)
        # Exact: llama.cpp's own count for the same tokens.
        same = tier._llm.create_chat_completion(
            messages=messages, max_tokens=reply.usage.output_tokens, **settings
        )
        assert same["choices"][0]["message"]["content"] == reply.text
        assert same["usage"]["completion_tokens"] == reply.usage.output_tokens
        assert reply.usage.estimated is False

        # Answers that end by themselves are left alone, repetitive ones included: where
        # llama.cpp alone stops, the guarded reply is the same text with no notice.
        left_alone = 0
        for question in (
            "Write a Python function that prints 'Hello' 10 times without using a loop.",
            "Count from 1 to 50.",
            "List the days of the week.",
            "List the months of the year.",
        ):
            alone = tier._llm.create_chat_completion(
                messages=[{"role": "user", "content": question}], max_tokens=512, **settings
            )
            if alone["choices"][0]["finish_reason"] != "stop":
                continue
            normal = await collect(tier, ask(question, 512))
            assert normal.finish_reason == "stop", question
            assert not any("repeating" in n for n in normal.notices), question
            assert normal.text == alone["choices"][0]["message"]["content"], question
            left_alone += 1
        assert left_alone >= 2
    finally:
        tier.close()


def loop_of(llm: object, text: str, copies: int) -> list[int]:
    tokens = llm.tokenize(text.encode(), add_bos=False, special=False)  # type: ignore[attr-defined]
    return list(tokens) * copies


def guard_fires(tokens: list[int], asked: int = 0, max_tokens: int = 512) -> int | None:
    """The output position at which the guard stops the reply, or None."""
    guard = RepetitionGuard(max_tokens, asked)
    for i, token in enumerate(tokens):
        if guard.add(token):
            return i + 1
    return None


def test_the_guard_leaves_repetition_the_user_asked_for(local_tier: LocalTier) -> None:
    llm = local_tier._llm
    # A loop of one sentence is stopped once it spans GUARD_MIN_SPAN tokens.
    sentence = loop_of(llm, "He loved his people and loved his throne. ", 40)
    stopped_at = guard_fires(sentence)
    assert stopped_at is not None and GUARD_MIN_SPAN <= stopped_at < GUARD_MIN_SPAN + 12
    # A long passage needs GUARD_MIN_COPIES copies in a row.
    passage = loop_of(llm, "Paris is a city of art, of light and of long walks by the " * 3, 6)
    block = len(passage) // 6
    assert guard_fires(passage) == GUARD_MIN_COPIES * block
    assert guard_fires(passage[: GUARD_MIN_COPIES * block - 1]) is None

    # Bounded repetition is left alone: short blocks a few times, code lines, table rows.
    asked = asked_copies("Write hello 20 times", 512)
    assert guard_fires(loop_of(llm, "hello ", 20), asked) is None
    assert guard_fires(loop_of(llm, '    print("Hello")\n', 10)) is None
    row = loop_of(llm, "| 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |\n", 1)
    assert len(row) * 10 > GUARD_MIN_SPAN  # ten rows would be a loop, unless asked for
    table = loop_of(llm, "| 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |\n", 10)
    assert guard_fires(table, asked_copies("A 10x10 table of zeros", 512)) is None
    assert guard_fires(table) is not None
    # A numbered list repeats its shape, not its tokens.
    numbered = [t for i in range(1, 60) for t in loop_of(llm, f"{i}. Item\n", 1)]
    assert guard_fires(numbered) is None
    # Beyond the count the user asked for, it is a loop again.
    assert guard_fires(loop_of(llm, "hello ", 200), asked)


@pytest.mark.parametrize(
    ("text", "copies"),
    [
        ("Write the word hello 20 times.", 20),
        ("Say it ten times", 10),
        ("Make a 10x10 grid and 3 more", 10),
        ("Tell me about Paris in 1889", 0),  # a year, not a count (above the limit)
        ("Tell me about Paris", 0),
    ],
)
def test_counts_the_user_asked_for(text: str, copies: int) -> None:
    assert asked_copies(text, 512) == copies


async def test_the_local_output_limit_applies(local_tier: LocalTier) -> None:
    story = "Write a long story about a dragon."
    saved = local_tier.max_tokens
    local_tier.max_tokens = 20
    try:
        capped = await collect(local_tier, ask(story, 400))
        assert capped.finish_reason == "length" and capped.usage.output_tokens == 20
        assert any("output limit of 20 tokens" in n for n in capped.notices)
        # A request asking for less gets what it asked for, without a notice.
        short = await collect(local_tier, ask(story, 8))
        assert short.usage.output_tokens == 8 and not short.notices
    finally:
        local_tier.max_tokens = saved


def test_the_config_reaches_the_local_tier(tmp_path: Path) -> None:
    from rung.engine.build_tiers import build_local
    from rung.engine.config import load_config

    path = tmp_path / "config.toml"
    path.write_text(
        "[local]\nmodel_path = 'missing.gguf'\nthreads = 1\nmax_tokens = 100\n"
        "repeat_penalty = 1.0\nrepeat_guard = false\n"
    )
    config = load_config(path)
    assert not config.problems
    tier = build_local(config)
    try:
        assert (tier.max_tokens, tier.repeat_penalty, tier.repeat_guard) == (100, 1.0, False)
        assert (tier.n_threads, tier.n_threads_batch, tier.adaptive_threads) == (1, 1, False)
    finally:
        tier.close()
    defaults = load_config(tmp_path / "none.toml")
    assert defaults.get("local", "max_tokens") == DEFAULT_MAX_TOKENS
    assert defaults.get("local", "repeat_penalty") == 0.0  # the model's own, else 1.1
    assert defaults.get("local", "threads") == 0  # Rung's default


# -- threads ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cores", "cpus", "others", "threads"),
    [
        (2, 2, 0.0, 2),  # idle: every core
        (2, 2, 0.3, 2),  # a little background work does not cost a core
        (2, 2, 0.5, 1),  # half a core busy: llama.cpp's threads would wait for it
        (2, 2, 1.0, 1),  # the VM: one core busy
        (2, 2, 2.0, 1),  # everything busy: still one thread
        (8, 8, 3.0, 5),
        (8, 16, 3.0, 8),  # hyper-threads: busy logical CPUs leave the cores free
        (1, 1, 0.0, 1),
    ],
)
def test_threads_follow_the_cores_other_programs_leave_free(
    cores: int, cpus: int, others: float, threads: int
) -> None:
    assert choose_threads(cores, cpus, others) == threads


def test_without_cpu_readings_one_core_is_left_for_the_rest() -> None:
    assert [choose_threads(c, c, None) for c in (1, 2, 4, 8)] == [1, 2, 3, 7]


def test_others_cpu_use_is_measured_without_our_own() -> None:
    before = CpuTimes(at=10.0, busy=100.0, own=5.0)
    # In 2 s, 3 CPU-seconds were used, 1 of them by this process: 1 CPU's worth by others.
    assert others_busy(before, CpuTimes(at=12.0, busy=103.0, own=6.0)) == pytest.approx(1.0)
    assert others_busy(before, CpuTimes(at=10.05, busy=100.1, own=5.0)) is None  # too short
    reading = read_cpu_times()
    assert reading is not None and reading.busy > 0 and reading.own > 0


def test_usable_cores_respect_affinity_and_container_quota(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import rung.tiers.local as local

    monkeypatch.setattr(local, "physical_cores", lambda: 16)
    monkeypatch.setattr(local, "allowed_cpus", lambda: frozenset(range(32)))
    monkeypatch.setattr(local, "_cgroup_cpu_limit", lambda: None)
    assert local.usable_cores() == 16
    monkeypatch.setattr(local, "_cgroup_cpu_limit", lambda: 1.5)  # docker --cpus=1.5
    assert local.usable_cores() == 2
    monkeypatch.setattr(local, "allowed_cpus", lambda: frozenset({0}))  # taskset -c 0
    assert local.usable_cores() == 1


def test_the_tier_chooses_threads_from_the_load_before_each_reply(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import rung.tiers.local as local

    tier = LocalTier(tmp_path / "none.gguf")  # no model needed to choose
    tier.close()
    tier.cores, tier._cpus = 4, frozenset(range(4))
    tier._mark, tier._prev_mark = CpuTimes(0.0, 0.0, 0.0), None
    # Since the last reading: 2 s, 3 CPU-seconds busy, 1 of them ours -> 1 CPU taken.
    monkeypatch.setattr(local, "read_cpu_times", lambda cpus=None: CpuTimes(2.0, 3.0, 1.0))
    assert tier._choose_threads() == (3, 3)
    # Idle machine: all four.
    monkeypatch.setattr(local, "read_cpu_times", lambda cpus=None: CpuTimes(2.0, 1.0, 1.0))
    assert tier._choose_threads() == (4, 4)
    # A fixed `threads` in the config is kept whatever the load.
    fixed = LocalTier(tmp_path / "none.gguf", n_threads=2)
    fixed.close()
    assert fixed._choose_threads() == (2, 2)


async def test_the_model_loads_on_first_use_not_when_the_tier_is_built() -> None:
    """Built but never asked (rung cost, the chat screen's first frame): nothing loads."""
    tier = LocalTier(embedded_model_path(), name="lazy")
    await asyncio.sleep(0.3)
    assert not tier.ready and not any(t.name == "llama-lazy" for t in threading.enumerate())
    events = [e async for e in tier.stream(ask("Say OK", max_tokens=4))]
    assert tier.ready and isinstance(events[-1], Finished)
    tier.close()
    unused = LocalTier(embedded_model_path())
    unused.close()  # closing a tier that never loaded returns at once, and load() says so
    with pytest.raises(LocalModelError, match="closed"):
        await unused.load()
