"""Rung's bounded SSE parser reads every stream as httpx-sse's public EventSource does,
however the bytes are split, and never holds more than its bound of one event."""

from __future__ import annotations

import httpx
import pytest
from httpx_sse import EventSource
from hypothesis import given, settings
from hypothesis import strategies as st

from rung.tiers.http import EventTooLarge, SSEParser

LIMIT = 64 * 1024


def reference(stream: bytes) -> list[tuple[str, str, str]]:
    """What httpx-sse's public API makes of the whole stream at once."""
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream)
    return [(e.event, e.data, e.id) for e in EventSource(response).iter_sse()]


def ours(stream: bytes, cuts: list[int]) -> list[tuple[str, str, str]]:
    parser = SSEParser(LIMIT)
    events = []
    start = 0
    for cut in [*sorted(cuts), len(stream)]:
        if cut > start:
            events += parser.feed(stream[start:cut])
            start = cut
    return [(e.event, e.data, e.id) for e in events]


PROVIDER_STREAMS = [
    # Anthropic: named events, LF
    b'event: message_start\ndata: {"type": "message_start"}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: content_block_delta\ndata: {"delta": {"text": "caf\xc3\xa9 \xe2\x82\xac"}}\n\n',
    # Gemini: CRLF pairs
    b'data: {"candidates": [{"content": {"parts": [{"text": "\xe4\xbd\xa0\xe5\xa5\xbd"}]}}]}'
    b"\r\n\r\n"
    b'data: {"usageMetadata": {}}\r\n\r\n',
    # OpenAI: comments, [DONE], multi-line data, CR only
    b': keep-alive\n\ndata: {"choices": []}\n\ndata: a\ndata: b\r\rid: 7\ndata: [DONE]\n\n',
]


@pytest.mark.parametrize("stream", PROVIDER_STREAMS)
def test_every_split_point_gives_the_same_events(stream: bytes) -> None:
    expected = reference(stream)
    assert expected  # the stream has events to compare
    for cut in range(len(stream) + 1):
        assert ours(stream, [cut]) == expected, cut
    assert ours(stream, list(range(len(stream)))) == expected  # a byte at a time


FIXED_LINES = ["", ":", ": ping", "data", "data:", "data: [DONE]", "event: x", "id: 3",
               "retry: 10", "data:  two spaces", "bogus: field"]  # fmt: skip
# Any text but line ends, NUL, a BOM (which only our parser drops, as the spec asks) and
# lone surrogates (not encodable).
VALUE = st.text(st.characters(blacklist_characters="\r\n\x00\ufeff",
                              blacklist_categories=["Cs"]), max_size=12)  # fmt: skip
FIELD = st.sampled_from(["data", "event", "id", "x"])
LINE = st.one_of(st.sampled_from(FIXED_LINES), st.builds(lambda f, v: f"{f}: {v}", FIELD, VALUE))


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(LINE, max_size=12),
    ends=st.lists(st.sampled_from(["\n", "\r", "\r\n"]), min_size=12, max_size=12),
    cuts=st.lists(st.integers(0, 400), max_size=6),
)
def test_matches_httpx_sse_on_random_streams(
    lines: list[str], ends: list[str], cuts: list[int]
) -> None:
    stream = "".join(line + end for line, end in zip(lines, ends, strict=False)).encode()
    assert ours(stream, [c for c in cuts if c <= len(stream)]) == reference(stream)


@pytest.mark.parametrize("split", range(1, 6))
def test_a_leading_byte_order_mark_is_dropped(split: int) -> None:
    stream = b"\xef\xbb\xbf\n\ndata: x\n\n"
    parser = SSEParser(LIMIT)
    events = parser.feed(stream[:split]) + parser.feed(stream[split:])
    assert [e.data for e in events] == ["x"]
    # Anywhere else it is part of a field name ("\ufeffdata"), which is ignored.
    assert SSEParser(LIMIT).feed(b"\n\xef\xbb\xbfdata: x\n\n") == []


def test_an_unfinished_event_at_the_end_is_not_dispatched() -> None:
    parser = SSEParser(LIMIT)
    assert parser.feed(b"data: complete\n\ndata: cut off") != []
    assert parser.buffered == len(b"data: cut off")


def test_a_line_without_an_end_is_held_only_up_to_the_bound() -> None:
    """200 MB offered 64 KiB at a time: the parser refuses once it holds more than its
    bound, having kept at most the bound plus one read."""
    parser = SSEParser(LIMIT)
    chunk = b"x" * 65536
    fed = 0
    with pytest.raises(EventTooLarge):
        parser.feed(b"data: ")
        for _ in range(200 * 1024 * 1024 // len(chunk)):
            parser.feed(chunk)
            fed += len(chunk)
            assert parser.buffered <= LIMIT
    assert fed <= LIMIT


def test_an_event_of_many_short_lines_is_bounded_too() -> None:
    parser = SSEParser(LIMIT)
    line = b"data: " + b"y" * 1000 + b"\n"
    with pytest.raises(EventTooLarge):
        for _ in range(100):
            parser.feed(line)


def test_events_under_the_bound_pass_and_reset_it() -> None:
    parser = SSEParser(LIMIT)
    event = b"data: " + b"z" * (LIMIT - 100) + b"\n\n"
    for _ in range(5):  # each event alone fits: the count starts again per event
        assert [len(e.data) for e in parser.feed(event)] == [LIMIT - 100]


def test_comments_are_counted_as_keep_alives() -> None:
    parser = SSEParser(LIMIT)
    assert parser.feed(b": ping\n\n: ping\n\ndata: x\n\n")[0].data == "x"
    assert parser.comments == 2
