"""A pasted megabyte routes in milliseconds (issue 25 follow-up): the router's signals
read a bounded part of the message (its start and end), so a 1 MiB prompt costs about
what its first 20 KiB cost, and what it says at its end is still read."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from rung.tiers.base import ChatRequest, Message
from rung.tiers.router import Rung, choose, explain
from rung.tiers.router_features import HEAD_CHARS, TAIL_CHARS, word_count

ROOT = Path(__file__).resolve().parents[1]
TWO = [Rung("local", "local"), Rung("api", "api")]
MIB = 1 << 20
# Real text to paste: the router's own source, repeated (words, code, punctuation).
SOURCE = (ROOT / "tiers" / "router.py").read_text(encoding="utf-8")


def request(text: str) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),))


def seconds(text: str, rounds: int = 3) -> float:
    """The median time of one routing decision on ``text``."""
    req = request(text)
    choose(req, TWO)  # the trained model's file is read by the first decision only
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        choose(req, TWO)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_a_one_mebibyte_prompt_routes_about_as_fast_as_a_short_paste() -> None:
    paste = (SOURCE * (MIB // len(SOURCE) + 1))[:MIB]
    short = seconds("Why does this fail?\n\n" + paste[:4096])
    huge = seconds("Why does this fail?\n\n" + paste)
    # Before the bound: ~3-4 s against ~40 ms (ratio ~100). Now the 1 MiB decision reads
    # at most 20 KiB, so it costs a few times the 4 KiB one, whatever the machine's load.
    assert huge < 15 * short, f"1 MiB: {huge * 1e3:.0f} ms, 4 KiB: {short * 1e3:.0f} ms"


def test_the_end_of_a_long_paste_is_still_read() -> None:
    log = "INFO request served in 12 ms\n" * (MIB // 29)
    trace = 'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
    why = explain(request("Here is our server log:\n\n" + log + trace), TWO)
    assert "stack trace" in why.decision.reason or "stack trace" in str(why.pushes)
    assert why.decision.tier == "api"


def test_prompts_within_the_bound_are_read_whole() -> None:
    # Every labelled routing prompt is far under the bound (the longest, in
    # bench/router_data/test_long.jsonl, is ~13 KB): their decisions cannot change.
    assert HEAD_CHARS + TAIL_CHARS >= 20 * 1024
    text = "word " * 3000
    assert word_count(text) == 3000
    # Past the bound the length is estimated, not lost: a megabyte of words counts as
    # about a megabyte of words, so the length signal still sees a long message.
    long = "word " * (MIB // 5)
    assert abs(word_count(long) - MIB // 5) < MIB // 500
