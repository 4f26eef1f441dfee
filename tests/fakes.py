"""Real HTTP servers on 127.0.0.1 for the remote tiers' tests.

``ScriptedServer`` is a real TCP server (a thread per connection) that answers each
request with a script of steps: a status line, raw bytes, a pause, a cut connection.
The provider helpers below produce Anthropic, Gemini and OpenAI streams byte for byte
as those APIs send them (event names, usage fields, cumulative counts, pings, errors).
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Status:
    code: int
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"


@dataclass
class Send:
    data: bytes


@dataclass
class Sleep:
    seconds: float


@dataclass
class Cut:
    """Close the socket mid-body (no final chunk): the client sees a broken stream."""


Step = Status | Send | Sleep | Cut
# A list, or any iterable: a generator makes an endless stream that stops when the
# client hangs up (the next send fails).
Handler = Callable[[Request], Iterable[Step]]

REASONS = {
    200: "OK",
    302: "Found",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Overloaded",
}


class ScriptedServer:
    """``port=0`` picks a free port; a given port lets a test start a server where a
    refused or stuck connection used to be. ``sent_bytes`` counts the body bytes the
    client accepted, so a test can prove a reader stopped early."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.sent_bytes = 0
        outer = self

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
                    outer._serve(self.rfile, self.connection)

        class _Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def get_request(self):  # type: ignore[no-untyped-def]
                sock, addr = super().get_request()
                if tls is not None:
                    sock = tls.wrap_socket(sock, server_side=True)
                return sock, addr

        self._server = _Server(("127.0.0.1", port), _Handler)
        self.port = self._server.server_address[1]
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        # A short poll: close() waits for it, and a test suite closes hundreds of servers.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def _serve(self, rfile: Any, conn: socket.socket) -> None:
        line = rfile.readline().decode("latin-1").strip()
        if not line:
            return
        method, path, _ = line.split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            h = rfile.readline().decode("latin-1")
            if h in ("\r\n", "\n", ""):
                break
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = rfile.read(int(headers.get("content-length", "0") or 0))
        request = Request(method, path, headers, body)
        self.requests.append(request)
        chunked = False
        for step in self.handler(request):
            if isinstance(step, Status):
                head = [
                    f"HTTP/1.1 {step.code} {REASONS.get(step.code, 'Status')}",
                    f"Content-Type: {step.content_type}",
                    "Transfer-Encoding: chunked",
                    "Connection: close",
                ]
                head += [f"{k}: {v}" for k, v in step.headers.items()]
                conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
                chunked = True
            elif isinstance(step, Send):
                if step.data:
                    conn.sendall(f"{len(step.data):x}\r\n".encode() + step.data + b"\r\n")
                    self.sent_bytes += len(step.data)
            elif isinstance(step, Sleep):
                time.sleep(step.seconds)
            elif isinstance(step, Cut):
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
                return
        if chunked:
            conn.sendall(b"0\r\n\r\n")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def json_reply(code: int, payload: Any, headers: dict[str, str] | None = None) -> list[Step]:
    return [Status(code, headers or {}, "application/json"), Send(json.dumps(payload).encode())]


def sse_json(payload: Any) -> str:
    """JSON as the providers stream it: non-ASCII text as raw UTF-8, not \\u escapes."""
    return json.dumps(payload, ensure_ascii=False)


# -- Anthropic ---------------------------------------------------------------------------
def anthropic_event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {sse_json(payload)}\n\n".encode()


def anthropic_head(
    *,
    input_tokens: int = 25,
    cache_write: int = 0,
    cache_read: int = 0,
    model: str = "claude-sonnet-4-5-20250929",
) -> list[Step]:
    """The status and the events before the first piece of text."""
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_write,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": 1,
        "service_tier": "standard",
    }
    message = {
        "id": "msg_01Fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    return [
        Status(200, {"request-id": "req_fake"}),
        Send(anthropic_event("message_start", {"type": "message_start", "message": message})),
        Send(anthropic_event("content_block_start", block)),
        Send(anthropic_event("ping", {"type": "ping"})),
    ]


def anthropic_piece(text: str) -> bytes:
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": text},
    }
    return anthropic_event("content_block_delta", delta)


def anthropic_tail(output_tokens: int, stop_reason: str = "end_turn") -> list[Step]:
    """The events that end a reply: output_tokens is the cumulative total."""
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }
    return [
        Send(anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0})),
        Send(anthropic_event("message_delta", delta)),
        Send(anthropic_event("message_stop", {"type": "message_stop"})),
    ]


def anthropic_stream(
    pieces: list[str],
    *,
    input_tokens: int = 25,
    cache_write: int = 0,
    cache_read: int = 0,
    output_tokens: int | None = None,
    model: str = "claude-sonnet-4-5-20250929",
    stop_reason: str = "end_turn",
    cut_after: int | None = None,
    error: dict[str, str] | None = None,
) -> list[Step]:
    """The exact event sequence of a streamed Messages API reply."""
    out = output_tokens if output_tokens is not None else len(pieces) + 1
    steps = anthropic_head(
        input_tokens=input_tokens, cache_write=cache_write, cache_read=cache_read, model=model
    )
    for i, piece in enumerate(pieces):
        if cut_after is not None and i == cut_after:
            steps.append(Cut())
            return steps
        steps.append(Send(anthropic_piece(piece)))
    if error is not None:
        steps.append(Send(anthropic_event("error", {"type": "error", "error": error})))
        return steps
    return steps + anthropic_tail(out, stop_reason)


class AnthropicCache:
    """Emulates prompt caching: a prefix up to a cache_control breakpoint is written the
    first time it is seen and read every time after (token = 4 characters, as a rule of
    thumb; exact numbers do not matter, the arithmetic between requests does)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def usage_for(self, body: dict[str, Any]) -> tuple[int, int, int]:
        blocks: list[tuple[str, bool]] = []
        for s in body.get("system") or []:
            blocks.append((s["text"], "cache_control" in s))
        for m in body["messages"]:
            for c in m["content"]:
                blocks.append(
                    (
                        m["role"]
                        + ":"
                        + (c["text"] if c.get("type") == "text" else json.dumps(c, sort_keys=True)),
                        "cache_control" in c,
                    )
                )
        prefix = ""
        cached_upto = 0
        breakpoints: list[int] = []
        for text, marked in blocks:
            prefix += text
            if marked:
                breakpoints.append(len(prefix))
        total = len(prefix) // 4
        for end in breakpoints:
            if prefix[:end] in self.seen:
                cached_upto = end
        read = cached_upto // 4
        write = (breakpoints[-1] // 4 - read) if breakpoints else 0
        for end in breakpoints:
            self.seen.add(prefix[:end])
        return total - read - write, write, read


# -- Gemini ------------------------------------------------------------------------------
def gemini_chunk(
    text: str | None,
    usage: dict[str, int],
    finish: str | None = None,
    model: str = "gemini-2.5-flash",
    thought: str | None = None,
) -> bytes:
    parts: list[dict[str, Any]] = []
    if thought:
        parts.append({"text": thought, "thought": True})
    if text is not None:
        parts.append({"text": text})
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    payload = {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "fakeResp",
    }
    # Gemini separates events with CRLF pairs.
    return f"data: {sse_json(payload)}\r\n\r\n".encode()


def gemini_stream(
    pieces: list[str],
    *,
    prompt: int = 12,
    cached: int = 0,
    thoughts: int = 0,
    cut_after: int | None = None,
    finish: str = "STOP",
) -> list[Step]:
    steps: list[Step] = [Status(200)]
    for i, piece in enumerate(pieces):
        if cut_after is not None and i == cut_after:
            steps.append(Cut())
            return steps
        usage = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": i + 1,
            "totalTokenCount": prompt + i + 1 + thoughts,
        }
        if cached:
            usage["cachedContentTokenCount"] = cached
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        last = i == len(pieces) - 1
        steps.append(
            Send(
                gemini_chunk(
                    piece,
                    usage,
                    finish if last else None,
                    thought="thinking..." if i == 0 and thoughts else None,
                )
            )
        )
    return steps


# -- OpenAI-compatible -------------------------------------------------------------------
def openai_chunk(payload: dict[str, Any]) -> bytes:
    return f"data: {sse_json(payload)}\n\n".encode()


OPENAI_BASE = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1}


def openai_head(model: str = "gpt-test") -> list[Step]:
    """The status and the first chunk, which carries the role and no text."""
    choice = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    return [Status(200), Send(openai_chunk({**OPENAI_BASE, "model": model, "choices": [choice]}))]


def openai_piece(text: str, model: str = "gpt-test") -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    return openai_chunk({**OPENAI_BASE, "model": model, "choices": [choice]})


def openai_stream(
    pieces: list[str],
    *,
    usage: dict[str, Any] | None = None,
    model: str = "gpt-test",
    cut_after: int | None = None,
    stall_after: int | None = None,
    stall: float = 0.0,
    done: bool = True,
    finish: str = "stop",
) -> list[Step]:
    steps = openai_head(model)
    for i, piece in enumerate(pieces):
        if cut_after is not None and i == cut_after:
            steps.append(Cut())
            return steps
        if stall_after is not None and i == stall_after:
            steps.append(Sleep(stall))
            return steps
        steps.append(Send(openai_piece(piece, model)))
    choice = {"index": 0, "delta": {}, "finish_reason": finish}
    steps.append(Send(openai_chunk({**OPENAI_BASE, "model": model, "choices": [choice]})))
    if usage is not None:
        steps.append(
            Send(openai_chunk({**OPENAI_BASE, "model": model, "choices": [], "usage": usage}))
        )
    if done:
        steps.append(Send(b"data: [DONE]\n\n"))
    return steps


# -- fault scripts: each provider's framing, piece by piece ------------------------------
ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
OPENAI_ERRORS = {401: "invalid_api_key", 403: "unsupported_country_region_territory",
                 404: "model_not_found", 429: "rate_limit_exceeded"}  # fmt: skip


@dataclass(frozen=True)
class Dialect:
    """How one provider frames a streamed reply, for scripts that break it somewhere.

    ``head``: the status and the events before any text; ``piece(text, i)``: the i-th
    piece of text; ``tail(n)``: the events that end an n-piece reply, with its usage;
    ``empty``: an event that carries no text (keeps a stream alive, says nothing);
    ``error_body``: the provider's JSON for an error status; ``error_event``: an error
    sent mid-stream; ``malformed``: an event whose JSON is cut off.
    """

    name: str
    head: Callable[[], list[Step]]
    piece: Callable[[str, int], bytes]
    tail: Callable[[int], list[Step]]
    empty: bytes
    error_body: Callable[[int, str], Any]
    error_event: Callable[[str], bytes]
    malformed: bytes

    def stream(self, pieces: list[str]) -> list[Step]:
        body = [Send(self.piece(p, i)) for i, p in enumerate(pieces)]
        return [*self.head(), *body, *self.tail(len(pieces))]


def _openai_tail(n: int) -> list[Step]:
    finish = {"index": 0, "delta": {}, "finish_reason": "stop"}
    usage = {"prompt_tokens": 11, "completion_tokens": n, "total_tokens": 11 + n}
    return [
        Send(openai_chunk({**OPENAI_BASE, "model": "gpt-test", "choices": [finish]})),
        Send(openai_chunk({**OPENAI_BASE, "model": "gpt-test", "choices": [], "usage": usage})),
        Send(b"data: [DONE]\n\n"),
    ]


def _openai_error(status: int, message: str) -> Any:
    code = OPENAI_ERRORS.get(status)
    return {"error": {"message": message, "type": "invalid_request_error", "param": None,
                      "code": code}}  # fmt: skip


OPENAI = Dialect(
    name="openai",
    head=openai_head,
    piece=lambda text, i: openai_piece(text),
    tail=_openai_tail,
    empty=openai_chunk(
        {
            **OPENAI_BASE,
            "model": "gpt-test",
            "choices": [{"index": 0, "delta": {}, "finish_reason": None}],
        }
    ),
    error_body=_openai_error,
    error_event=lambda message: openai_chunk(
        {"error": {"message": message, "type": "server_error", "code": None}}
    ),
    malformed=b'data: {"id": "chatcmpl-fake", "choices": [{"delta": {"content": "x"\n\n',
)

ANTHROPIC = Dialect(
    name="anthropic",
    head=anthropic_head,
    piece=lambda text, i: anthropic_piece(text),
    tail=lambda n: anthropic_tail(n + 1),
    empty=anthropic_event("ping", {"type": "ping"}),
    error_body=lambda status, message: {
        "type": "error",
        "error": {"type": ANTHROPIC_ERRORS.get(status, "api_error"), "message": message},
    },
    error_event=lambda message: anthropic_event(
        "error", {"type": "error", "error": {"type": "overloaded_error", "message": message}}
    ),
    malformed=b'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": {\n\n',
)


def _gemini_usage(n: int) -> dict[str, int]:
    return {"promptTokenCount": 12, "candidatesTokenCount": n, "totalTokenCount": 12 + n}


GEMINI = Dialect(
    name="gemini",
    head=lambda: [Status(200)],
    piece=lambda text, i: gemini_chunk(text, _gemini_usage(i + 1)),
    tail=lambda n: [Send(gemini_chunk(None, _gemini_usage(n), "STOP"))],
    empty=gemini_chunk(None, _gemini_usage(0)),
    error_body=lambda status, message: {
        "error": {"code": status, "message": message, "status": GEMINI_STATUS.get(status, "")}
    },
    error_event=lambda message: (
        "data: "
        + json.dumps({"error": {"code": 503, "message": message, "status": "UNAVAILABLE"}})
        + "\r\n\r\n"
    ).encode(),
    malformed=b'data: {"candidates": [{"content": \r\n\r\n',
)

DIALECTS = {"openai": OPENAI, "anthropic": ANTHROPIC, "gemini": GEMINI}


def received_key(request: Request) -> str:
    """The key a request carried, in whichever header its provider uses."""
    auth = request.headers.get("authorization", "")
    return (
        auth.removeprefix("Bearer ")
        or request.headers.get("x-api-key", "")
        or request.headers.get("x-goog-api-key", "")
    )


# -- tool calls: each provider's streamed calls, byte for byte ---------------------------
def pieces_of(text: str, size: int) -> list[str]:
    """``text`` in pieces of ``size`` characters (JSON split mid-key, mid-escape)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def openai_tool_stream(
    calls: list[tuple[str, str, str]],
    *,
    text: str = "",
    split: int = 5,
    usage: dict[str, Any] | None = None,
    cut_in_call: int | None = None,
    finish: str = "tool_calls",
    model: str = "gpt-test",
) -> list[Step]:
    """A chat-completions stream with tool calls ``(id, name, arguments)``: the first
    piece of each call has its index, id, type and name; its arguments follow in pieces
    of ``split`` characters. ``cut_in_call``: the connection drops after the first
    argument piece of that call."""
    steps = openai_head(model)
    if text:
        steps.append(Send(openai_piece(text, model)))

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> Send:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return Send(openai_chunk({**OPENAI_BASE, "model": model, "choices": [choice]}))

    for index, (call_id, name, arguments) in enumerate(calls):
        first = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        steps.append(chunk({"tool_calls": [first]}))
        for n, piece in enumerate(pieces_of(arguments, split)):
            steps.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
            if cut_in_call == index and n == 0:
                steps.append(Cut())
                return steps
    steps.append(chunk({}, finish))
    if usage is not None:
        steps.append(
            Send(openai_chunk({**OPENAI_BASE, "model": model, "choices": [], "usage": usage}))
        )
    steps.append(Send(b"data: [DONE]\n\n"))
    return steps


def anthropic_tool_stream(
    calls: list[tuple[str, str, str]],
    *,
    text: str = "",
    thinking: tuple[str, str] | None = None,
    split: int = 5,
    input_tokens: int = 25,
    output_tokens: int = 40,
    cut_in_call: int | None = None,
    model: str = "claude-sonnet-4-5-20250929",
) -> list[Step]:
    """A Messages API stream: an optional thinking block (text, signature), an optional
    text block, then one tool_use block per call ``(id, name, input JSON text)`` whose
    input arrives as input_json_delta pieces; stop_reason "tool_use"."""
    steps = anthropic_head(input_tokens=input_tokens, model=model)[:2]  # status, message_start
    index = 0

    def event(kind: str, **payload: Any) -> Send:
        return Send(anthropic_event(kind, {"type": kind, **payload}))

    if thinking is not None:
        steps.append(
            event(
                "content_block_start",
                index=index,
                content_block={"type": "thinking", "thinking": "", "signature": ""},
            )
        )
        for piece in pieces_of(thinking[0], 9):
            steps.append(
                event(
                    "content_block_delta",
                    index=index,
                    delta={"type": "thinking_delta", "thinking": piece},
                )
            )
        steps.append(
            event(
                "content_block_delta",
                index=index,
                delta={"type": "signature_delta", "signature": thinking[1]},
            )
        )
        steps.append(event("content_block_stop", index=index))
        index += 1
    if text:
        steps.append(
            event("content_block_start", index=index, content_block={"type": "text", "text": ""})
        )
        steps.append(
            event("content_block_delta", index=index, delta={"type": "text_delta", "text": text})
        )
        steps.append(event("content_block_stop", index=index))
        index += 1
    for n, (call_id, name, arguments) in enumerate(calls):
        steps.append(
            event(
                "content_block_start",
                index=index,
                content_block={"type": "tool_use", "id": call_id, "name": name, "input": {}},
            )
        )
        for k, piece in enumerate(pieces_of(arguments, split)):
            steps.append(
                event(
                    "content_block_delta",
                    index=index,
                    delta={"type": "input_json_delta", "partial_json": piece},
                )
            )
            if cut_in_call == n and k == 0:
                steps.append(Cut())
                return steps
        steps.append(event("content_block_stop", index=index))
        index += 1
    steps.append(
        event(
            "message_delta",
            delta={"stop_reason": "tool_use", "stop_sequence": None},
            usage={"output_tokens": output_tokens},
        )
    )
    steps.append(event("message_stop"))
    return steps


def gemini_tool_stream(
    calls: list[tuple[str, dict[str, Any]]],
    *,
    text: str = "",
    signature: str | None = None,
    prompt: int = 30,
    output: int = 20,
    cut_in_call: bool = False,
    model: str = "gemini-3-pro-preview",
    raw_args: str | None = None,
) -> list[Step]:
    """A streamGenerateContent stream: optional text, then ONE chunk with every
    functionCall part ``(name, args)`` whole (the first carrying ``signature`` as its
    thoughtSignature), then the finish. ``cut_in_call``: the connection drops in the
    middle of the chunk with the calls. ``raw_args``: that chunk's first args written
    as this raw JSON text instead (a model's malformed output as Gemini relays it)."""
    steps: list[Step] = [Status(200)]
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": 1, "totalTokenCount": prompt + 1}
    if text:
        steps.append(Send(gemini_chunk(text, usage, model=model)))
    parts: list[dict[str, Any]] = []
    for i, (name, args) in enumerate(calls):
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        if i == 0 and signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    final = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output,
    }
    candidate = {"content": {"parts": parts, "role": "model"}, "index": 0}
    payload = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}
    data = sse_json(payload)
    if raw_args is not None:
        data = data.replace(sse_json(calls[0][1]), raw_args, 1)
    body = f"data: {data}\r\n\r\n".encode()
    if cut_in_call:
        return [*steps, Send(body[: len(body) // 2]), Cut()]
    steps.append(Send(body))
    end = {
        "content": {"parts": [{"text": ""}], "role": "model"},
        "finishReason": "STOP",
        "index": 0,
    }
    last = {"candidates": [end], "usageMetadata": final, "modelVersion": model}
    steps.append(Send(f"data: {sse_json(last)}\r\n\r\n".encode()))
    return steps


def rechunk(steps: list[Step], size: int, pause: float = 0.001) -> list[Step]:
    """The same bytes written ``size`` at a time with a pause between writes, so the
    client reads them split anywhere: mid-event, mid-JSON, mid-UTF-8 character."""
    out: list[Step] = []
    for step in steps:
        if not isinstance(step, Send):
            out.append(step)
            continue
        for i in range(0, len(step.data), size):
            out += [Send(step.data[i : i + size]), Sleep(pause)]
    return out
