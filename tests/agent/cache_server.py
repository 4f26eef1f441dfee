"""A model server that simulates providers' prompt caching honestly, for the agent's
cache tests and bench/agent_cost.py.

A real HTTP server on 127.0.0.1 (``tests.fakes.ScriptedServer``) speaking OpenAI chat
completions or the Anthropic Messages API with streamed tool calls (the scripted
model's script and checks, tests/agent/scripted_model.py). Each request is tokenized
deterministically and its usage reported the way the provider would:

Tokens. A request is cut into segments in the provider's prefix order, each segment
is canonical JSON (``sort_keys``: the provider renders fields, not the client's key
order), and each segment's tokens are ``TOKEN`` matches (a word, or one symbol).
- OpenAI: each tool (``tools`` in order), then each message (``messages`` in order).
- Anthropic: each tool, then each system block, then each content block of each
  message (a message's first block carries its role); ``cache_control`` is left out
  of the text (marking a block does not change it).

OpenAI (automatic caching). cached = the longest common token prefix with ANY earlier
request to the same model, counted only when it is at least 1,024 tokens and then
rounded down to a multiple of 128; ``usage.prompt_tokens`` includes it and
``usage.prompt_tokens_details.cached_tokens`` says it.

Anthropic (explicit breakpoints). At most 4 ``cache_control`` blocks (more: 400, as
the API says). A cache entry exists only where an EARLIER request to the same model
put a breakpoint over the same prefix (a hash of every token up to that block's end)
and that prefix was at least the model's minimum (``anthropic_minimum``). For each
breakpoint of this request, the block boundaries at and before it, 20 blocks back
(the breakpoint's own block included), are looked up; the longest hit is read
(``cache_read_input_tokens``). From there to this request's last cacheable
breakpoint is written (``cache_creation_input_tokens``) and becomes entries for later
requests; the rest is ``input_tokens``. No TTL (a run takes seconds, not 5 minutes).

DeepSeek (``flavor="deepseek"``, OpenAI dialect; its guide "Context Caching"): a
request reads the longest persisted prefix unit it matches in full. Units persist at
the end of each request's input and at a common prefix found between two requests
(the unit at the end of the model's output and those cut at fixed intervals in long
inputs are not simulated). Reported as ``prompt_cache_hit_tokens`` and
``prompt_cache_miss_tokens`` at the top of ``usage`` (hit + miss = prompt_tokens).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.agent.scripted_model import ScriptedModel, Turn
from tests.fakes import (
    Request,
    ScriptedServer,
    Send,
    Status,
    Step,
    anthropic_head,
    anthropic_stream,
    anthropic_tool_stream,
    json_reply,
    openai_stream,
    openai_tool_stream,
)

TOKEN = re.compile(r"\w+|[^\w\s]")
OPENAI_MINIMUM = 1024
OPENAI_STEP = 128
ANTHROPIC_LOOKBACK = 20
ANTHROPIC_MAX_BREAKPOINTS = 4


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def anthropic_minimum(model: str) -> int:
    """The shortest prefix a breakpoint caches, per model (Anthropic's prompt-caching
    page, as summarised by gateways' docs: Opus 4.5/4.6 and Haiku 4.5 4,096; Opus 4.7
    2,048; Sonnet 4.x, Opus 4/4.1 1,024)."""
    if any(m in model for m in ("opus-4-5", "opus-4-6", "haiku-4-5")):
        return 4096
    if "opus-4-7" in model:
        return 2048
    return 1024


# -- token accounting ----------------------------------------------------------------------
@dataclass(frozen=True)
class Counted:
    """One request's input split as the provider bills it (``total`` includes the rest)."""

    total: int
    read: int = 0
    written: int = 0

    @property
    def fresh(self) -> int:
        return self.total - self.read - self.written


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class OpenAICache:
    """Automatic prefix caching: the longest common prefix with any earlier request."""

    seen: dict[str, list[list[str]]] = field(default_factory=dict)

    @staticmethod
    def token_list(body: dict[str, Any]) -> list[str]:
        out: list[str] = []
        for tool in body.get("tools") or []:
            out += tokens(canonical(tool))
        for message in body.get("messages") or []:
            out += tokens(canonical(message))
        return out

    def count(self, body: dict[str, Any]) -> Counted:
        model = str(body.get("model", ""))
        toks = self.token_list(body)
        earlier = self.seen.setdefault(model, [])
        common = max((_common_prefix(toks, e) for e in earlier), default=0)
        earlier.append(toks)
        cached = common // OPENAI_STEP * OPENAI_STEP if common >= OPENAI_MINIMUM else 0
        return Counted(len(toks), read=cached)


@dataclass
class DeepSeekCache:
    """DeepSeek's disk cache: a request reads the longest persisted prefix unit it fully
    matches. Units persist at the end of each request's input and at the common prefix
    found between requests (the unit at the end of the model's output, and the ones cut
    at fixed intervals in long inputs, are not simulated)."""

    units: dict[str, list[list[str]]] = field(default_factory=dict)
    seen: dict[str, list[list[str]]] = field(default_factory=dict)

    def count(self, body: dict[str, Any]) -> Counted:
        model = str(body.get("model", ""))
        toks = OpenAICache.token_list(body)
        units = self.units.setdefault(model, [])
        hit = max((len(u) for u in units if toks[: len(u)] == u), default=0)
        earlier = self.seen.setdefault(model, [])
        common = max((_common_prefix(toks, e) for e in earlier), default=0)
        if common > hit:
            units.append(toks[:common])
        units.append(toks)
        earlier.append(toks)
        return Counted(len(toks), read=hit)


class BreakpointError(ValueError):
    """A request Anthropic would refuse (too many breakpoints)."""


@dataclass
class AnthropicCache:
    """Explicit breakpoints: reads only where an earlier request wrote."""

    written: dict[str, set[str]] = field(default_factory=dict)

    @staticmethod
    def blocks(body: dict[str, Any]) -> list[tuple[str, bool]]:
        """(canonical text, has a breakpoint) per block, in prefix order."""

        def plain(block: dict[str, Any]) -> tuple[str, bool]:
            marked = "cache_control" in block
            return canonical({k: v for k, v in block.items() if k != "cache_control"}), marked

        out = [plain(tool) for tool in body.get("tools") or []]
        system = body.get("system")
        if isinstance(system, str):
            out.append((canonical({"type": "text", "text": system}), False))
        else:
            out += [plain(b) for b in system or []]
        for message in body.get("messages") or []:
            content = message.get("content")
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            for n, block in enumerate(content or []):
                text, marked = plain(block)
                out.append((f"{message.get('role')}: {text}" if n == 0 else text, marked))
        return out

    def count(self, body: dict[str, Any]) -> Counted:
        model = str(body.get("model", ""))
        blocks = self.blocks(body)
        marks = [i for i, (_, marked) in enumerate(blocks) if marked]
        if len(marks) > ANTHROPIC_MAX_BREAKPOINTS:
            raise BreakpointError(
                f"A maximum of {ANTHROPIC_MAX_BREAKPOINTS} blocks with cache_control may "
                f"be provided. Found {len(marks)}."
            )
        ends: list[int] = []  # tokens up to each block's end
        keys: list[str] = []  # the hash of that prefix
        digest = hashlib.sha256(model.encode())
        total = 0
        for text, _ in blocks:
            toks = tokens(text)
            total += len(toks)
            digest.update(b"\x00" + "\x01".join(toks).encode())
            ends.append(total)
            keys.append(digest.hexdigest())
        entries = self.written.setdefault(model, set())
        read = 0
        for mark in marks:
            for j in range(mark, max(-1, mark - ANTHROPIC_LOOKBACK), -1):
                if keys[j] in entries:
                    read = max(read, ends[j])
                    break
        minimum = anthropic_minimum(model)
        cacheable = [m for m in marks if ends[m] >= minimum]
        upto = max((ends[m] for m in cacheable), default=0)
        for m in cacheable:
            entries.add(keys[m])
        return Counted(total, read=read, written=max(0, upto - read))


# -- the server ----------------------------------------------------------------------------
@dataclass
class Served:
    """What one request was billed, as the server reported it. ``seen``: its longest
    common token prefix with any earlier request to the same model, with no minimum,
    step or breakpoint: the most any prefix cache of that model could have read."""

    model: str
    counted: Counted
    output: int
    seen: int = 0


class CachingModel(ScriptedModel):
    """The scripted model (its script, its checks of the tool results fed back) with
    honest prompt-cache usage; the reply's step is the number of assistant turns in the
    request (a request replayed gets the same reply)."""

    def __init__(
        self, script: list[Turn], dialect: str = "openai", model: str = "", flavor: str = ""
    ) -> None:
        """``flavor`` "deepseek": DeepSeek's cache rules and usage fields (OpenAI dialect)."""
        super().__init__(script, dialect=dialect)
        self.model = model or ("claude-sonnet-4-6" if dialect == "anthropic" else "gpt-5.4-mini")
        self.flavor = flavor
        self.cache: OpenAICache | AnthropicCache | DeepSeekCache = (
            AnthropicCache()
            if dialect == "anthropic"
            else DeepSeekCache()
            if flavor == "deepseek"
            else OpenAICache()
        )
        self.served: list[Served] = []
        self._earlier: list[list[str]] = []  # every request's tokens, for ``Served.seen``
        self._lock = threading.Lock()

    def prefix_tokens(self, body: dict[str, Any]) -> list[str]:
        """The request's tokens in the provider's prefix order (as its cache counts)."""
        if self.dialect == "anthropic":
            return [t for text, _ in AnthropicCache.blocks(body) for t in tokens(text)]
        return OpenAICache.token_list(body)

    def __call__(self, request: Request) -> list[Step]:
        body = request.json()
        with self._lock:
            self.bodies.append(body)
            try:
                counted = self.cache.count({**body, "model": self.model})
            except BreakpointError as exc:
                error = {"type": "invalid_request_error", "message": str(exc)}
                return json_reply(400, {"type": "error", "error": error})
            role = "model" if self.dialect == "gemini" else "assistant"
            key = "contents" if self.dialect == "gemini" else "messages"
            step = sum(1 for m in body.get(key) or [] if m.get("role") == role)
            if step >= len(self.script):
                self.problems.append(f"request {len(self.bodies)}: the script is over")
                turn = Turn(text="(script over)")
            else:
                turn = self.script[step]
            super().reply_to(turn, body, step)  # the checks; its reply is rebuilt below
            output = len(tokens(turn.text + canonical(turn.calls)))
            toks = self.prefix_tokens(body)
            seen = max((_common_prefix(toks, e) for e in self._earlier), default=0)
            self._earlier.append(toks)
            self.served.append(Served(self.model, counted, output, seen))
            return self._reply(turn, step, counted, output)

    def _reply(self, turn: Turn, step: int, counted: Counted, output: int) -> list[Step]:
        if self.dialect == "anthropic":
            return self._anthropic(turn, step, counted, output)
        usage: dict[str, Any] = {
            "prompt_tokens": counted.total,
            "completion_tokens": output,
            "total_tokens": counted.total + output,
        }
        if self.flavor == "deepseek":  # hit + miss = prompt_tokens, at the top
            usage["prompt_cache_hit_tokens"] = counted.read
            usage["prompt_cache_miss_tokens"] = counted.total - counted.read
        else:
            usage["prompt_tokens_details"] = {"cached_tokens": counted.read}
        if turn.calls:
            calls = [(f"call_{step}_{n}", name, json.dumps(args))
                     for n, (name, args) in enumerate(turn.calls)]  # fmt: skip
            return openai_tool_stream(calls, text=turn.text, usage=usage, model=self.model)
        return openai_stream([turn.text], usage=usage, model=self.model)

    def _anthropic(self, turn: Turn, step: int, counted: Counted, output: int) -> list[Step]:
        usage = {"input_tokens": counted.fresh, "cache_write": counted.written,
                 "cache_read": counted.read, "model": self.model}  # fmt: skip
        if not turn.calls:
            return anthropic_stream([turn.text], output_tokens=output, **usage)  # type: ignore[arg-type]
        calls = [(f"toolu_{step}_{n}", name, json.dumps(args))
                 for n, (name, args) in enumerate(turn.calls)]  # fmt: skip
        stream = anthropic_tool_stream(calls, text=turn.text, output_tokens=output,
                                       model=self.model)  # fmt: skip
        head = anthropic_head(**usage)[:2]  # type: ignore[arg-type]
        assert isinstance(head[0], Status) and isinstance(head[1], Send)
        return [*head, *stream[2:]]

    # -- what a test or the bench reads ------------------------------------------------
    def read_share(self) -> float:
        """Input tokens read from cache over all input tokens, every request served."""
        total = sum(s.counted.total for s in self.served)
        return sum(s.counted.read for s in self.served) / total if total else 0.0


def caching_server(
    script: list[Turn], dialect: str, model: str = "", flavor: str = ""
) -> tuple[ScriptedServer, CachingModel]:
    """A started server and its model (``server.close()`` when done)."""
    handler = CachingModel(script, dialect, model, flavor)
    return ScriptedServer(handler), handler
