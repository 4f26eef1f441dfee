"""Tool calling for models without a native tool protocol (the local tier, a self-hosted
server started without a tool parser): the text protocol.

The tools are described in the system prompt, and the model answers a call with a
strict fenced block on lines of its own::

    ```tool_call
    {"name": "read", "arguments": {"path": "app/x.py"}}
    ```

Parsing is strict: only a complete block whose body is one JSON object with a string
``name`` (an offered tool) and an object ``arguments`` is a call; anything else, an
unclosed block included, stays plain text. Calls come out as the same ``ToolCallReady``
events a native dialect yields, so the agent loop never knows which protocol ran. The
transcript goes back as text: earlier calls as the same blocks, results as user turns.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace

from .base import (
    ChatRequest,
    Event,
    Failed,
    Finished,
    Message,
    TextDelta,
    ToolCall,
    ToolCallReady,
    ToolSpec,
)
from .tool_calls import MAX_ARGUMENT_BYTES, MAX_CALLS, new_call_id

OPEN = "```tool_call"
CLOSE = "```"
# An opening line: the fence at the start of a line, nothing after it but spaces (the
# text searched always starts with a newline when the buffer starts a line).
OPEN_LINE = re.compile(r"\n```tool_call[ \t]*\n")
CLOSE_LINE = re.compile(r"\n```[ \t]*\n")
# At the end of the reply the closing fence may be its last line.
CLOSE_LAST = re.compile(r"\n```[ \t]*$")


def tool_prompt(tools: tuple[ToolSpec, ...]) -> str:
    """The system prompt section that offers ``tools`` and fixes the call format."""
    lines = [
        "You can call tools. To call one, answer with a block exactly like this, on lines "
        "of its own, and nothing after it:",
        "",
        OPEN,
        '{"name": "TOOL_NAME", "arguments": {"ARGUMENT": "VALUE"}}',
        CLOSE,
        "",
        "The arguments are one JSON object that matches the tool's parameters. You may "
        "write several blocks to call several tools. The results come back in the next "
        "message. When you need no tool, answer normally without a block.",
        "",
        "Tools:",
    ]
    for t in tools:
        schema = json.dumps(t.parameters, ensure_ascii=False, sort_keys=True)
        lines.append(f"- {t.name}: {t.description} Parameters (JSON Schema): {schema}")
    return "\n".join(lines)


def call_block(call: ToolCall) -> str:
    """A call as the model would have written it (for the transcript sent back)."""
    try:
        arguments = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError:
        arguments = {}
    if not isinstance(arguments, dict):
        arguments = {}
    body = json.dumps({"name": call.name, "arguments": arguments}, ensure_ascii=False)
    return f"{OPEN}\n{body}\n{CLOSE}"


def result_text(message: Message) -> str:
    """A tool result as the user turn the model reads, fenced so its content cannot end
    the fence early (a run of backticks longer than any inside it)."""
    longest = max((len(run) for run in re.findall(r"`+", message.content)), default=0)
    fence = "`" * max(3, longest + 1)
    status = "failed" if message.is_error else "succeeded"
    return f"The {message.name or 'tool'} call {status}:\n{fence}\n{message.content}\n{fence}"


def text_request(request: ChatRequest) -> ChatRequest:
    """``request`` for a model that only reads text: the tools in the system prompt, no
    ``tools`` field, calls and results written out, consecutive user turns merged (chat
    templates want user and assistant to alternate)."""
    if not request.tools and not any(m.role == "tool" or m.tool_calls for m in request.messages):
        return request
    system = tool_prompt(request.tools) if request.tools else ""
    if request.system:
        system = f"{request.system}\n\n{system}" if system else request.system
    messages: list[Message] = []
    for m in request.messages:
        if m.role == "tool":
            role, content = "user", result_text(m)
        elif m.role == "assistant" and m.tool_calls:
            blocks = "\n".join(call_block(c) for c in m.tool_calls)
            role, content = "assistant", f"{m.content}\n{blocks}" if m.content else blocks
        else:
            role, content = m.role, m.content
        if messages and messages[-1].role == role == "user":
            content = f"{messages[-1].content}\n\n{content}"
            messages[-1] = Message("user", content)
        else:
            messages.append(Message(role, content))  # type: ignore[arg-type]
    return replace(request, system=system or None, messages=tuple(messages), tools=())


def parse_block(body: str, names: set[str]) -> ToolCall | None:
    """The call in one block's body, or None when it is not exactly a well-formed call."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict) or set(value) != {"name", "arguments"}:
        return None
    name, arguments = value["name"], value["arguments"]
    if not isinstance(name, str) or name not in names or not isinstance(arguments, dict):
        return None
    return ToolCall(new_call_id(), name, json.dumps(arguments, ensure_ascii=False), "text")


class ToolTextFilter:
    """Splits a streamed reply into plain text and complete tool-call blocks.

    Text that could still become the start of a block (a fence at a line start) is held
    back until it is known; everything else passes through at once."""

    def __init__(self, tools: tuple[ToolSpec, ...]) -> None:
        self.names = {t.name for t in tools}
        self.calls = 0
        self._buffer = ""
        self._at_line_start = True  # the buffer begins at the start of a line

    def feed(self, text: str) -> list[Event]:
        self._buffer += text
        return self._drain(final=False)

    def finish(self, ended_by_model: bool = False) -> list[Event]:
        """The rest, at the end of the reply. An unclosed block is plain text, except
        one the model itself ended its turn after (``ended_by_model``: a "stop" finish,
        not a cut or the token limit) whose body is a complete, well-formed call: small
        models often stop right after the JSON instead of writing the closing fence."""
        return self._drain(final=True, ended_by_model=ended_by_model)

    def _drain(self, final: bool, ended_by_model: bool = False) -> list[Event]:
        out: list[Event] = []
        while self._buffer:
            start = self._block_start()
            if start is None:
                keep = 0 if final else self._possible_start()
                self._emit_text(out, len(self._buffer) - keep)
                break
            opening, body_at = start
            if opening > 0:
                self._emit_text(out, opening)
                continue
            end = CLOSE_LINE.search(self._buffer, body_at - 1)
            if end is None and final:
                end = CLOSE_LAST.search(self._buffer, body_at - 1)
            if end is None:
                if final and ended_by_model and self.calls < MAX_CALLS:
                    call = parse_block(self._buffer[body_at:].strip(), self.names)
                    if call is not None:
                        self.calls += 1
                        out.append(ToolCallReady(call))
                        self._buffer = ""
                        break
                if final or len(self._buffer) > MAX_ARGUMENT_BYTES:
                    self._emit_text(out, len(self._buffer))  # never a half call
                break
            call = None
            if self.calls < MAX_CALLS:
                call = parse_block(self._buffer[body_at : end.start()], self.names)
            if call is None:
                self._emit_text(out, end.end())
                continue
            self.calls += 1
            out.append(ToolCallReady(call))
            self._buffer = self._buffer[end.end() :]
            self._at_line_start = True
        return out

    def _block_start(self) -> tuple[int, int] | None:
        """(where the fence line begins, where the block's body begins), or None."""
        text = ("\n" if self._at_line_start else "") + self._buffer
        shift = 1 if self._at_line_start else 0
        match = OPEN_LINE.search(text)
        if match is None:
            return None
        return match.start() + 1 - shift, match.end() - shift

    def _possible_start(self) -> int:
        """How many trailing characters might be the beginning of an opening line."""
        text = self._buffer
        line = text.rfind("\n") + 1
        if line == 0 and not self._at_line_start:
            return 0
        tail = text[line:]
        if OPEN.startswith(tail) or (tail.startswith(OPEN) and not tail[len(OPEN) :].strip(" \t")):
            return len(tail)
        return 0

    def _emit_text(self, out: list[Event], n: int) -> None:
        if n <= 0:
            return
        text, self._buffer = self._buffer[:n], self._buffer[n:]
        self._at_line_start = text.endswith("\n")
        out.append(TextDelta(text))


async def with_text_tools(
    events: AsyncIterator[Event], tools: tuple[ToolSpec, ...]
) -> AsyncIterator[Event]:
    """A text-only tier's events with the tool-call blocks turned into ToolCallReady,
    and ``Finished("tool_calls")`` when the model called any."""
    parser = ToolTextFilter(tools)
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                for out in parser.feed(event.text):
                    yield out
            elif isinstance(event, Finished | Failed):
                by_model = isinstance(event, Finished) and event.finish_reason == "stop"
                for out in parser.finish(by_model):
                    yield out
                if isinstance(event, Finished) and parser.calls and event.finish_reason == "stop":
                    event = replace(event, finish_reason="tool_calls")
                yield event
            else:
                yield event
    finally:
        # Closed early (cancelled): close the tier's own stream now, so it stops its
        # reply at once instead of whenever the generator is collected.
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
