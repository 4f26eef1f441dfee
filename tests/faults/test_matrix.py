"""The fault matrix: every remote tier kind against every way a server can fail.

Each case runs one reply against a real scripted server on 127.0.0.1 and checks what a
user would notice: the reply ends once (Finished or Failed), the message names the
provider and never the key, the text that arrived stays, retries and time are
bounded, a request the provider never took costs nothing while a broken stream is
estimated (never beyond max_tokens), and the same tier answers normally right after.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from rung.tiers.base import Failed, Finished, TextDelta, Usage
from tests.fakes import (
    Cut,
    Dialect,
    Request,
    Send,
    Sleep,
    Status,
    Step,
    json_reply,
    received_key,
)
from tests.faults.conftest import (
    FAST,
    KINDS,
    MAX_TOKENS,
    Kind,
    Outcome,
    canary_key,
    leaked,
    watch,
    works_again,
)

PIECES = ["Hello ", "wor", "€uro"]
ARRIVED = "Hello wor"  # the text before every mid-stream fault
LONG = 200 * 1024 * 1024  # the "200 MB line": offered, never read


def echo(request: Request, prefix: str) -> str:
    """An error message that echoes the key the way careless servers do, placed so the
    key straddles the 300-character cut of the error detail."""
    return prefix + "." * (288 - len(prefix)) + received_key(request) + " was rejected."


def error(status: int, headers: dict[str, str] | None = None) -> Callable[..., list[Step]]:
    def script(d: Dialect, r: Request) -> list[Step]:
        message = echo(r, f"Incorrect API key or model for HTTP {status}: ")
        return json_reply(status, d.error_body(status, message), headers)

    return script


def html_page(status: int) -> Callable[..., list[Step]]:
    def script(d: Dialect, r: Request) -> list[Step]:
        page = (
            "<html><head><title>502 Bad Gateway</title><style>h1{color:red}</style></head>"
            f"<body><h1>502 Bad Gateway</h1><p>{echo(r, 'upstream said: ')}</p>"
            "<hr><center>nginx</center></body></html>"
        )
        return [Status(status, content_type="text/html"), Send(page.encode())]

    return script


def endless_error_body(d: Dialect, r: Request) -> Iterator[Step]:
    yield Status(401, content_type="text/plain")
    yield Send(echo(r, "bad key: ").encode())
    for _ in range(LONG // 65536):
        yield Send(b"x" * 65536)


def no_answer(d: Dialect, r: Request) -> list[Step]:
    return [Sleep(3), *d.stream(["too late"])]


def redirect(d: Dialect, r: Request) -> list[Step]:
    return [Status(307, {"Location": "http://127.0.0.1:9/v1/steal"}, "text/plain")]


def started(d: Dialect) -> list[Step]:
    """A healthy start: the opening events and two pieces of text."""
    return [*d.head(), Send(d.piece(PIECES[0], 0)), Send(d.piece(PIECES[1], 1))]


def stall(d: Dialect, r: Request) -> list[Step]:
    return [*started(d), Sleep(3)]


def cut_mid_event(d: Dialect, r: Request) -> list[Step]:
    third = d.piece(PIECES[2], 2)
    return [*started(d), Send(third[: len(third) // 2]), Cut()]


def cut_mid_utf8(d: Dialect, r: Request) -> list[Step]:
    third = d.piece(PIECES[2], 2)
    inside_euro = third.index("€".encode()) + 1  # after the first of its three bytes
    return [*started(d), Send(third[:inside_euro]), Cut()]


def utf8_split_across_reads(d: Dialect, r: Request) -> list[Step]:
    third = d.piece(PIECES[2], 2)
    inside_euro = third.index("€".encode()) + 2
    parts = [Send(third[:inside_euro]), Sleep(0.05), Send(third[inside_euro:])]
    return [*started(d), *parts, *d.tail(3)]


def invalid_json(d: Dialect, r: Request) -> list[Step]:
    return [*started(d), Send(d.malformed), Send(d.piece("never shown", 2)), *d.tail(3)]


def error_event(d: Dialect, r: Request) -> list[Step]:
    return [*started(d), Send(d.error_event(echo(r, "Overloaded: ")))]


def ends_early(d: Dialect, r: Request) -> list[Step]:
    return started(d)  # a clean close, no end-of-reply events


def endless(d: Dialect, r: Request) -> Iterator[Step]:
    yield from d.head()
    for i in itertools.count():
        yield Send(d.piece("word ", i))
        yield Sleep(0.002)


def huge_event(d: Dialect, r: Request) -> list[Step]:
    return [*started(d), Send(d.piece("x" * 200_000, 2))]


def line_without_newline(d: Dialect, r: Request) -> Iterator[Step]:
    yield from started(d)
    yield Send(b'data: {"text": "')
    for _ in range(LONG // 65536):
        yield Send(b"x" * 65536)


def comments_forever(d: Dialect, r: Request) -> Iterator[Step]:
    yield from started(d)
    for _ in range(400):
        yield Send(b": ping\n\n")
        yield Sleep(0.05)


def empty_events_forever(d: Dialect, r: Request) -> Iterator[Step]:
    yield from started(d)
    for _ in range(400):
        yield Send(d.empty)
        yield Sleep(0.05)


def pings_before_any_text(d: Dialect, r: Request) -> Iterator[Step]:
    yield from d.head()
    for _ in range(400):
        yield Send(b": ping\n\n")
        yield Sleep(0.05)


def slow_drip(d: Dialect, r: Request) -> Iterator[Step]:
    yield from d.head()
    for i in range(400):
        yield Send(d.piece("tick ", i))
        yield Sleep(0.15)


def keepalive_flood(d: Dialect, r: Request) -> Iterator[Step]:
    yield from started(d)
    for _ in range(1000):
        yield Send(b": " + b"k" * 60_000 + b"\n\n")


@dataclass(frozen=True)
class Fault:
    script: Callable[[Dialect, Request], Iterable[Step]]
    ends: str  # "failed", or the finish_reason of a reply that ends normally
    kind: str | None  # Failed.kind
    says: tuple[str, ...]  # what the message says besides the provider's name
    text: str = ARRIVED  # the text the user keeps
    requests: int = 1  # requests the server saw
    charged: str = "estimate"  # "nothing", "estimate", "capped" or "exact"
    max_s: float = 1.5
    min_s: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)
    # Seconds the server may be counted busy for a request it never took: a quick
    # rejection is a round trip; a request left unanswered held the server.
    busy_max: float | None = None
    waits: float = 0.0  # retry waits the script forces (Retry-After)


RETRIED = 1 + FAST.max_retries
FAULTS: dict[str, Fault] = {
    # -- the provider rejects the request: nothing is charged ---------------------------
    "401": Fault(error(401), "failed", "auth", ("rejected the API key", "HTTP 401"), "",
                 charged="nothing"),
    "403": Fault(error(403), "failed", "auth", ("rejected the API key", "HTTP 403"), "",
                 charged="nothing"),
    "404 unknown model": Fault(error(404), "failed", "model", ("404 for model",), "",
                               charged="nothing"),
    "429 with Retry-After": Fault(
        error(429, {"Retry-After": "0.2"}), "failed", "rate_limit",
        ("HTTP 429", f"after {RETRIED} attempts"), "", RETRIED, "nothing", 2.0, 0.4,
        waits=0.4),
    "429 without Retry-After": Fault(
        error(429), "failed", "rate_limit", ("HTTP 429", f"after {RETRIED} attempts"), "",
        RETRIED, "nothing"),
    "500": Fault(error(500), "failed", "server", ("HTTP 500", f"after {RETRIED} attempts"),
                 "", RETRIED, "nothing"),
    "502": Fault(error(502), "failed", "server", ("HTTP 502", f"after {RETRIED} attempts"),
                 "", RETRIED, "nothing"),
    "503": Fault(error(503), "failed", "server", ("HTTP 503", f"after {RETRIED} attempts"),
                 "", RETRIED, "nothing"),
    "HTML error page (502)": Fault(html_page(502), "failed", "server",
                                   ("HTTP 502", "502 Bad Gateway upstream said"), "", RETRIED,
                                   "nothing"),
    "HTML page instead of a stream (200)": Fault(
        html_page(200), "failed", "protocol", ("text/html", "instead of an event stream"), "",
        charged="nothing"),
    "no answer to the request": Fault(
        no_answer, "failed", "network", ("did not answer within 0.6s",), "", charged="nothing",
        options={"read_timeout": 0.6}, busy_max=1.0),
    "redirect": Fault(redirect, "failed", "request", ("does not follow redirects",), "",
                      charged="nothing"),
    "error body that never ends": Fault(endless_error_body, "failed", "auth",
                                        ("rejected the API key",), "", charged="nothing"),
    # -- the stream starts, then breaks: what arrived stays, the use is estimated -------
    "stall mid-stream": Fault(stall, "failed", "network", ("stalled", "no new text for 0.5s")),
    "cut mid-event": Fault(cut_mid_event, "failed", "network", ("cut mid-reply",)),
    "cut mid-UTF-8 character": Fault(cut_mid_utf8, "failed", "network", ("cut mid-reply",)),
    "invalid event JSON": Fault(invalid_json, "failed", "protocol", ("malformed event",)),
    "error event mid-stream": Fault(error_event, "failed", "server", ("Overloaded",)),
    "clean close mid-reply": Fault(ends_early, "failed", "network",
                                   ("ended before the reply was complete",)),
    "huge event": Fault(huge_event, "failed", "protocol", ("an event larger than 64 KiB",)),
    "200 MB line without a newline": Fault(line_without_newline, "failed", "protocol",
                                           ("an event larger than 64 KiB",)),
    "SSE comments forever": Fault(comments_forever, "failed", "network",
                                  ("stalled", "only keep-alives")),
    "empty events forever": Fault(empty_events_forever, "failed", "network",
                                  ("stalled", "only keep-alives")),
    "pings before any text": Fault(pings_before_any_text, "failed", "network",
                                   ("did not start replying within 0.5s", "keep-alives"), ""),
    "keep-alive flood past the reply bound": Fault(keepalive_flood, "failed", "protocol",
                                                   ("more than 512 KiB",)),
    "slow drip past the total deadline": Fault(
        slow_drip, "failed", "network", ("took longer than 1.2s",), "tick ", max_s=2.0,
        min_s=1.1, options={"total_timeout": 1.2}),
    "endless stream past max_tokens": Fault(endless, "length", None, ("-token limit",),
                                            "word ", charged="capped"),
    # -- not a fault: a character split across two network reads arrives whole -----------
    "UTF-8 character split across reads": Fault(utf8_split_across_reads, "stop", None, (),
                                                "Hello wor€uro", charged="exact"),
}  # fmt: skip


class FaultThenFine:
    """Serves the fault while ``faulty``, then a normal one-word reply."""

    def __init__(self, dialect: Dialect, fault: Fault) -> None:
        self.dialect = dialect
        self.fault = fault
        self.faulty = True

    def __call__(self, request: Request) -> Iterable[Step]:
        if self.faulty:
            return self.fault.script(self.dialect, request)
        return self.dialect.stream(["fine"])


@pytest.mark.parametrize("fault_name", FAULTS)
@pytest.mark.parametrize("kind_name", KINDS)
async def test_fault(servers, kind_name: str, fault_name: str) -> None:
    kind, fault = KINDS[kind_name], FAULTS[fault_name]
    script = FaultThenFine(kind.dialect, fault)
    server = servers(script)
    key = canary_key()
    options = dataclasses.replace(FAST, **fault.options)
    tier = kind.tier(server.url, key, options)
    try:
        outcome = await watch(tier)
        check_ending(outcome, fault, kind, key)
        assert len(server.requests) == fault.requests, "retries are bounded"
        assert fault.min_s <= outcome.elapsed <= fault.max_s, outcome.elapsed
        check_charge(outcome, fault, kind)
        if fault.script in (line_without_newline, endless_error_body):
            # The reader stopped at its bound: of the 200 MB offered, the server got out
            # only what socket buffers hold (under 2 MB here), never Rung's memory.
            assert server.sent_bytes < 16 * 1024 * 1024
        script.faulty = False
        await works_again(tier)
    finally:
        await tier.aclose()


def check_ending(outcome: Outcome, fault: Fault, kind: Kind, key: str) -> None:
    reply = outcome.reply
    assert len(outcome.ends) == 1 and outcome.events[-1] is outcome.ends[0]
    if fault.ends == "failed":
        assert isinstance(outcome.ends[0], Failed), outcome.ends
        assert reply.failed is not None and reply.failed.kind == fault.kind, reply.failed
    else:
        assert isinstance(outcome.ends[0], Finished), outcome.ends
        assert reply.finish_reason == fault.ends
    for words in fault.says:
        assert any(words in m for m in outcome.messages), (words, outcome.messages)
    if fault.says:
        assert any(kind.label in m for m in outcome.messages), outcome.messages
    for message in outcome.messages:
        assert not leaked(message, key), message
        assert len(message) < 600  # a server's text never floods the screen
    if fault.text in ("tick ", "word "):  # a stream cut somewhere: whole pieces kept
        assert reply.text and reply.text == fault.text * (len(reply.text) // len(fault.text))
    else:
        assert reply.text == fault.text
    shown = "".join(e.text for e in outcome.events if isinstance(e, TextDelta))
    assert shown == reply.text


def check_charge(outcome: Outcome, fault: Fault, kind: Kind) -> None:
    usage, end = outcome.reply.usage, outcome.ends[0]
    # Exactly one final usage (running counts, marked partial, may come before it).
    usages = [e for e in outcome.events if isinstance(e, Usage) and not e.partial]
    assert len(usages) == 1
    assert end.busy_s is not None and 0 <= end.busy_s <= end.duration_s
    if fault.charged == "nothing":
        assert usage == Usage(), "a request the provider rejected costs nothing"
        # Retry waits are not server time (the self-hosted rung is charged by it).
        assert end.busy_s < (fault.busy_max or 0.5 * fault.requests), end.busy_s
        assert end.busy_s <= end.duration_s - fault.waits + 0.01, (end.busy_s, end.duration_s)
        return
    if fault.charged == "exact":
        assert not usage.estimated and usage.output_tokens > 0
        return
    assert usage.estimated and usage.input_tokens > 0
    assert usage.output_tokens <= MAX_TOKENS  # an estimate never passes max_tokens
    assert usage.output_tokens >= (len(outcome.reply.text) + 3) // 4 or fault.charged == "capped"
    if fault.charged == "capped":
        assert usage.output_tokens == MAX_TOKENS
        # Stopped soon after max_tokens: the text is bounded too.
        assert len(outcome.reply.text) <= 5 * (2 * MAX_TOKENS + 17)
    if kind.name == "anthropic":
        assert usage.input_tokens == 25  # message_start's exact figure is kept
