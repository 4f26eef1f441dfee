"""OpenAI-compatible chat completions: OpenAI, DeepSeek, Mistral, OpenRouter, Groq,
Together, any custom endpoint, and the self-hosted rung (vLLM, SGLang, llama-server, TGI).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from .base import ChatRequest, Event, Notice, TextDelta, Usage
from .faults import clip
from .http import ProviderError, RemoteTier, StreamState, json_data
from .tool_calls import CallAssembly
from .tool_probe import TOOL_MODES, detect, known_protocol
from .tool_text import text_request, with_text_tools
from .transcript import openai_messages, openai_tools
from .usage_check import token_count

# Mistral rejects unknown fields (422 "extra_forbidden") and sends usage in its last
# chunk anyway.
NO_STREAM_OPTIONS = {"mistral"}

FINISH = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "eos": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}


def usage_from_openai(raw: dict[str, Any]) -> Usage:
    """OpenAI's usage block, with DeepSeek's and reasoning models' extra fields."""
    # Counts are checked, not trusted: see usage_check (a server may send 1e30 or -5).
    details = _object(raw.get("prompt_tokens_details"))
    cached = details.get("cached_tokens")
    if cached is None:  # DeepSeek: hit + miss = prompt_tokens
        cached = raw.get("prompt_cache_hit_tokens")
    out_details = _object(raw.get("completion_tokens_details"))
    return Usage(
        input_tokens=token_count(raw.get("prompt_tokens")),
        output_tokens=token_count(raw.get("completion_tokens")),
        cached_input_tokens=token_count(cached),
        reasoning_tokens=token_count(out_details.get("reasoning_tokens")),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class OpenAITier(RemoteTier):
    can_call_tools = True
    tool_protocol = "native"

    def __init__(self, *, provider: str = "openai", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.provider = provider

    @property
    def needs_key(self) -> bool:
        # A custom endpoint may be open; its own key is sent when the user set one.
        return self.provider not in ("custom", "selfhosted")

    def auth_headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        if self.provider == "openrouter":
            headers["x-title"] = "Rung"
        return headers

    def build(self, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        messages = openai_messages(request, self.provider)
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True}
        if request.tools:
            body["tools"] = openai_tools(request.tools)
            body["tool_choice"] = "auto"
        if self.provider not in NO_STREAM_OPTIONS:
            # Without this the stream carries no usage and the cost would be a guess.
            body["stream_options"] = {"include_usage": True}
        reasoning_model = self.provider == "openai" and self.model.startswith(
            ("gpt-5", "o1", "o3", "o4")
        )
        if self.provider == "openai":
            body["max_completion_tokens"] = request.max_tokens
        else:
            body["max_tokens"] = request.max_tokens
        if not reasoning_model:  # they accept only the default temperature
            body["temperature"] = request.temperature
        if request.stop:
            body["stop"] = list(request.stop)
        return self.url("/chat/completions"), self.auth_headers(), body

    def parse(self, sse: ServerSentEvent, state: StreamState) -> list[Event]:
        if sse.data.strip() == "[DONE]":
            state.done = True
            # A server that ends without a finish reason still ended its calls.
            return self._end_calls(state, state.finish_reason or "stop")
        if not sse.data.strip():
            return []
        data = json_data(sse)
        if not isinstance(data, dict):
            raise ValueError("event is not a JSON object")
        if data.get("error"):
            err = data["error"]
            message = err.get("message", str(err)) if isinstance(err, dict) else str(err)
            raise ProviderError(message, kind="server", retryable=True)
        if data.get("model"):
            state.model = data["model"]
        out: list[Event] = []
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content and isinstance(content, str):
                out.append(TextDelta(content))
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                out += self._call_pieces(calls, state)
            # DeepSeek's reasoning_content, OpenRouter's reasoning: billed, not shown, and
            # proof that the model is working (so not idle).
            thinking = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(thinking, str):
                state.hidden_chars += len(thinking)
            reason = choice.get("finish_reason")
            if reason:
                state.finish_reason = FINISH.get(reason, reason)
                out += self._end_calls(state, state.finish_reason)
        # Groq also reports usage under x_groq on its last chunk.
        usage = data.get("usage") or (data.get("x_groq") or {}).get("usage")
        if isinstance(usage, dict) and usage:
            state.usage = usage_from_openai(usage)
        return out

    def _call_pieces(self, pieces: list[Any], state: StreamState) -> list[Event]:
        """``delta.tool_calls``: pieces of calls by ``index`` (id and name in the first
        piece only; arguments a JSON string split anywhere). A new index, or a new id
        at an index already open (servers that number every call 0), completes the
        calls before it."""
        calls = _assembly(state, self.label)
        out: list[Event] = []
        for piece in pieces:
            if not isinstance(piece, dict):
                raise ValueError("a tool call piece is not an object")
            function = _object(piece.get("function"))
            call_id = piece.get("id") if isinstance(piece.get("id"), str) else ""
            index = piece.get("index")
            if not isinstance(index, int) or isinstance(index, bool):
                # No index: a new id starts a call, anything else continues the last one.
                index = state.extra.get("openai_index", -1) + (1 if call_id else 0)
            same = calls.open.get(index)
            if same is None or (call_id and call_id != same.id):
                out += calls.finish_all()
                name = function.get("name")
                calls.start(index, call_id, name if isinstance(name, str) else "")
                state.extra["openai_index"] = index
            else:
                name = function.get("name")
                if isinstance(name, str):
                    calls.name(index, name)
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                calls.add(index, arguments, state)
            elif isinstance(arguments, dict):  # some servers send the object itself
                calls.add(index, json.dumps(arguments, ensure_ascii=False), state)
        return out

    def _end_calls(self, state: StreamState, reason: str) -> list[Event]:
        """At the finish: the open calls are complete, unless the reply was cut at its
        token limit (then they are half calls, never handed out)."""
        calls = state.extra.get("calls")
        if calls is None:
            return []
        if reason == "length" and calls.open:
            names = ", ".join(repr(c.name) for c in calls.open.values())
            calls.open.clear()
            return [
                Notice(
                    f"{self.label} reached the token limit in the middle of a tool call "
                    f"({names}); that call was not run."
                )
            ]
        out: list[Event] = list(calls.finish_all())
        if calls.ready and reason == "stop":
            state.finish_reason = "tool_calls"  # some servers say "stop" after calls
        return out


def _assembly(state: StreamState, label: str) -> CallAssembly:
    calls = state.extra.get("calls")
    if calls is None:
        calls = state.extra["calls"] = CallAssembly(label, "openai")
    return calls


class SelfHostedTier(OpenAITier):
    """Your own OpenAI-compatible server. Its model comes from /v1/models when not set;
    its cost is GPU time (see pricing), so no key from any provider is ever sent here."""

    has_health = True

    def __init__(self, *, tools: str = "auto", **kwargs: Any) -> None:
        """``tools``: "native" (the server parses tool calls: vLLM with
        --enable-auto-tool-choice, SGLang with --tool-call-parser), "text" (the text
        protocol), or "auto" (ask the server once: tiers/tool_probe.py)."""
        kwargs.setdefault("kind", "selfhosted")
        kwargs.setdefault("provider", "selfhosted")
        super().__init__(**kwargs)
        self.tools_mode = tools if tools in TOOL_MODES else "auto"

    @property
    def tool_protocol(self) -> str:  # type: ignore[override]
        """ "native" or "text"; in "auto" mode, "native" until the server said otherwise."""
        if self.tools_mode != "auto":
            return self.tools_mode
        return known_protocol(self.base_url, self.model) or "native"

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        if request.tools or any(m.role == "tool" or m.tool_calls for m in request.messages):
            return self._tool_stream(request)
        return super().stream(request)

    async def _tool_stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        protocol = self.tools_mode
        if protocol == "auto" and self._request_problem() is None:
            try:
                await self.prepare()
            except (ProviderError, httpx.HTTPError):
                pass  # the request below reports it
            else:
                protocol = await detect(self)
        if protocol == "text":
            events = with_text_tools(super().stream(text_request(request)), request.tools)
        else:
            events = super().stream(request)
        try:
            async for event in events:
                yield event
        finally:
            await events.aclose()  # closed early: the connection closes now, not at GC

    async def discover_model(self) -> str:
        problem = self.host_problem or self.key_problem()
        if problem:
            raise ProviderError(problem, kind="auth")
        status, body = await self.get_small(self.url("/models"))
        if status >= 400:
            raise ProviderError(f"HTTP {status} from {self.shown_url} (/models)", kind="model")
        try:
            models = json.loads(body).get("data") or []
            first = models[0]["id"] if models else None
        except (ValueError, AttributeError, LookupError, TypeError):
            raise ProviderError(
                f"{self.shown_url} did not answer /models with a model list", kind="model"
            ) from None
        if first is None:
            raise ProviderError("the server lists no models at /models", kind="model")
        return str(first)

    async def prepare(self) -> None:
        if not self.model:
            self.model = await self.discover_model()

    async def health(self) -> tuple[bool, str]:
        """(healthy, what to show): the served model and the round-trip time, or why not."""
        start = time.monotonic()
        try:
            model = await self.discover_model()
        except ProviderError as exc:
            return False, clip(self.scrub(str(exc)), 160)
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return False, clip(self.scrub(f"{type(exc).__name__}: {exc}"), 160)
        if not self.model:
            self.model = model
        return True, f"{model} · {1000 * (time.monotonic() - start):.0f} ms"
