"""Anthropic Messages API, streaming, with prompt caching of the stable prefix."""

from __future__ import annotations

import json
from typing import Any

from httpx_sse import ServerSentEvent

from .base import ChatRequest, Event, PrivateDelta, PrivatePart, TextDelta, Usage
from .http import ProviderError, RemoteTier, StreamState, json_data
from .tool_calls import CallAssembly
from .transcript import anthropic_cache_points, anthropic_messages, anthropic_tools
from .usage_check import count_sum, token_count

API_VERSION = "2023-06-01"
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "refusal": "content_filter",
    "pause_turn": "stop",
    "tool_use": "tool_calls",
}
EPHEMERAL = {"type": "ephemeral"}


def anthropic_usage(raw: dict[str, Any], output_tokens: int) -> Usage:
    """Normalise: Anthropic's ``input_tokens`` excludes cache reads and writes; ours is
    the whole prompt, with the cached and written parts inside it."""
    read = token_count(raw.get("cache_read_input_tokens"))
    write = token_count(raw.get("cache_creation_input_tokens"))
    creation = raw.get("cache_creation")
    creation = creation if isinstance(creation, dict) else {}
    write_1h = token_count(creation.get("ephemeral_1h_input_tokens"))
    return Usage(
        # Checked, not trusted (usage_check): an invalid part makes the sum invalid.
        input_tokens=count_sum(token_count(raw.get("input_tokens")), read, write),
        output_tokens=output_tokens,
        cached_input_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=write_1h,
    )


class AnthropicTier(RemoteTier):
    provider = "anthropic"
    can_call_tools = True
    tool_protocol = "native"

    @classmethod
    def normalize_base_url(cls, base_url: str) -> str:
        # Anthropic's SDKs, ANTHROPIC_BASE_URL and every Anthropic-compatible gateway
        # (DeepSeek's and Moonshot's /anthropic, OpenRouter, LiteLLM) name the base
        # without /v1 and append /v1/messages; a base that already ends in /v1 works too.
        return base_url if base_url.endswith("/v1") else f"{base_url}/v1"

    def build(self, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        # Text, tool_use and tool_result blocks; this model's own thinking blocks go back
        # unchanged, anyone else's are dropped (tiers/transcript.py).
        messages = anthropic_messages(request, self.model)
        tools = anthropic_tools(request.tools)
        # Cache breakpoints (at most 4): the system prompt (or the tools, without one), the
        # previous user turn (the prefix the last request wrote, so this one reads it at
        # 0.1x), and the new user turn (written now, read by the next request or step).
        anthropic_cache_points(messages, tools, bool(request.system))
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": messages,
            "stream": True,
            "temperature": request.temperature,
        }
        if request.system:
            body["system"] = [{"type": "text", "text": request.system, "cache_control": EPHEMERAL}]
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if tools:
            body["tools"] = tools
        headers = {"content-type": "application/json", **self.auth_headers()}
        return self.url("/messages"), headers, body

    def auth_headers(self) -> dict[str, str]:
        return {"anthropic-version": API_VERSION, "x-api-key": self._api_key or ""}

    def parse(self, sse: ServerSentEvent, state: StreamState) -> list[Event]:
        kind = sse.event
        if kind == "ping" or not sse.data.strip():
            return []
        data = json_data(sse)
        kind = data.get("type", kind)
        if kind == "message_start":
            message = data["message"]
            state.model = message.get("model", "")
            state.extra["start_usage"] = message.get("usage") or {}
            out = token_count((message.get("usage") or {}).get("output_tokens"))
            state.usage = anthropic_usage(state.extra["start_usage"], out)
            # Output tokens are final only with message_delta; until then, partial.
            state.extra["usage_partial"] = True
        elif kind == "content_block_start":
            self._block_start(data, state)
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            text = delta.get("text")
            if delta.get("type") == "text_delta" and text and isinstance(text, str):
                return [TextDelta(text)]
            thinking = delta.get("thinking")
            if delta.get("type") == "thinking_delta" and isinstance(thinking, str):
                state.hidden_chars += len(thinking)  # billed, not shown, not idle
            self._block_delta(data.get("index"), delta, state)
        elif kind == "content_block_stop":
            return self._block_stop(data.get("index"), state)
        elif kind == "message_delta":
            usage = data.get("usage") or {}
            merged = {**state.extra.get("start_usage", {}), **usage}
            # output_tokens in message_delta is cumulative: the latest value is the total.
            state.usage = anthropic_usage(merged, token_count(usage.get("output_tokens")))
            state.extra["usage_partial"] = False
            reason = (data.get("delta") or {}).get("stop_reason")
            if reason:
                state.finish_reason = STOP_REASONS.get(reason, reason)
        elif kind == "message_stop":
            state.done = True
        elif kind == "error":
            err = data.get("error") or {}
            etype = err.get("type", "error")
            retryable = etype in ("overloaded_error", "api_error", "rate_limit_error")
            raise ProviderError(
                f"{err.get('message', 'error')} ({etype})",
                kind="rate_limit" if etype == "rate_limit_error" else "server",
                retryable=retryable,
            )
        return []

    # -- tool_use and thinking blocks --------------------------------------------------
    def _block_start(self, data: dict[str, Any], state: StreamState) -> None:
        block = data.get("content_block") or {}
        index = data.get("index")
        kind = block.get("type")
        if kind == "tool_use":
            calls = state.extra.get("calls")
            if calls is None:
                calls = state.extra["calls"] = CallAssembly(self.label, "anthropic")
            calls.start(index, str(block.get("id") or ""), str(block.get("name") or ""))
        elif kind in ("thinking", "redacted_thinking"):
            # Kept whole to go back unchanged: the API checks the signature.
            state.extra.setdefault("blocks", {})[index] = dict(block)

    def _block_delta(self, index: Any, delta: dict[str, Any], state: StreamState) -> None:
        kind = delta.get("type")
        if kind == "input_json_delta":
            calls = state.extra.get("calls")
            partial = delta.get("partial_json")
            if calls is not None and isinstance(partial, str):
                calls.add(index, partial, state)
            return
        block = state.extra.get("blocks", {}).get(index)
        if block is None:
            return
        if kind == "thinking_delta" and isinstance(delta.get("thinking"), str):
            block["thinking"] = block.get("thinking", "") + delta["thinking"]
        elif kind == "signature_delta" and isinstance(delta.get("signature"), str):
            block["signature"] = block.get("signature", "") + delta["signature"]

    def _block_stop(self, index: Any, state: StreamState) -> list[Event]:
        """A tool_use block is complete at its stop (its input may still be malformed
        JSON: handed out raw, the dispatcher tells the model); a thinking block too."""
        calls = state.extra.get("calls")
        ready = calls.finish(index) if calls is not None else None
        if ready is not None:
            return [ready]
        block = state.extra.get("blocks", {}).pop(index, None)
        if block is None:
            return []
        data = json.dumps(block, ensure_ascii=False)
        part = PrivatePart("anthropic", self.model, str(block.get("type")), data)
        return [PrivateDelta(part)]
