"""Gemini streamGenerateContent over SSE."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from httpx_sse import ServerSentEvent

from .base import ChatRequest, Event, Notice, PrivateDelta, PrivatePart, TextDelta, Usage
from .http import ProviderError, RemoteTier, StreamState, json_data
from .tool_calls import CallAssembly
from .transcript import gemini_contents, gemini_tools
from .usage_check import count_sum, token_count

FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}


def gemini_usage(meta: dict[str, Any]) -> Usage:
    """``promptTokenCount`` already includes cached tokens; thoughts are billed as output."""
    # Checked, not trusted (usage_check): an invalid part makes the sum invalid.
    thoughts = token_count(meta.get("thoughtsTokenCount"))
    return Usage(
        input_tokens=token_count(meta.get("promptTokenCount")),
        output_tokens=count_sum(token_count(meta.get("candidatesTokenCount")), thoughts),
        cached_input_tokens=token_count(meta.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
    )


API_VERSION = re.compile(r"/v\d+(?:alpha|beta)?\d*$")


class GeminiTier(RemoteTier):
    provider = "gemini"
    can_call_tools = True
    tool_protocol = "native"

    @classmethod
    def normalize_base_url(cls, base_url: str) -> str:
        # Google's SDK takes the host and adds the API version; people also paste the
        # versioned URL from the REST docs. Both work: v1beta unless one is given.
        return base_url if API_VERSION.search(base_url) else f"{base_url}/v1beta"

    def build(self, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        # functionCall parts with this model's thought signatures kept (Gemini 3 rejects
        # a function-call turn without one), results as functionResponse parts.
        contents = gemini_contents(request, self.model)
        config: dict[str, Any] = {
            "maxOutputTokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            config["stopSequences"] = list(request.stop)
        body: dict[str, Any] = {"contents": contents, "generationConfig": config}
        if request.system:
            body["systemInstruction"] = {"parts": [{"text": request.system}]}
        if request.tools:
            body["tools"] = gemini_tools(request.tools)
        url = self.url(f"/models/{quote(self.model, safe='')}:streamGenerateContent?alt=sse")
        headers = {"content-type": "application/json", **self.auth_headers()}
        return url, headers, body

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key or ""}

    def parse(self, sse: ServerSentEvent, state: StreamState) -> list[Event]:
        if not sse.data.strip():
            return []
        data = json_data(sse)
        if isinstance(data, list):  # some proxies wrap chunks in an array
            data = data[0] if data else {}
        if data.get("error"):
            err = data["error"]
            status = err.get("status", "")
            raise ProviderError(
                f"{err.get('message', 'error')} ({status or err.get('code', '')})",
                kind="rate_limit" if status == "RESOURCE_EXHAUSTED" else "server",
                retryable=status in ("RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL"),
            )
        if data.get("modelVersion"):
            state.model = data["modelVersion"]
        if data.get("usageMetadata"):
            # Cumulative and repeated on every chunk: the last one is the total.
            state.usage = gemini_usage(data["usageMetadata"])
            # Until the final chunk, the model may have produced more than it sent.
            state.extra["usage_partial"] = True
        out: list[Event] = []
        for candidate in data.get("candidates") or []:
            for part in (candidate.get("content") or {}).get("parts") or []:
                if "functionCall" in part:
                    out.append(self._call(part, state))
                    continue
                signature = part.get("thoughtSignature")
                if isinstance(signature, str) and signature and not part.get("thought"):
                    out.append(PrivateDelta(self._signature(signature)))
                text = part.get("text")
                if not text or not isinstance(text, str):
                    continue
                if part.get("thought"):
                    state.hidden_chars += len(text)  # billed as output, not shown
                else:
                    out.append(TextDelta(text))
            reason = candidate.get("finishReason")
            if reason:
                state.finish_reason = FINISH.get(reason, reason.lower())
                if state.finish_reason == "stop" and "calls" in state.extra:
                    state.finish_reason = "tool_calls"  # Gemini says STOP after calls
                if reason == "MALFORMED_FUNCTION_CALL":
                    out.append(Notice(f"{self.label} wrote a tool call it could not parse; "
                                      "nothing was run."))  # fmt: skip
                state.extra["usage_partial"] = False
            break  # one candidate is requested
        return out

    def _signature(self, signature: str) -> PrivatePart:
        return PrivatePart("gemini", self.model, "thought_signature", json.dumps(signature))

    def _call(self, part: dict[str, Any], state: StreamState) -> Event:
        """A functionCall part arrives whole; its thoughtSignature stays with it."""
        call = part["functionCall"]
        if not isinstance(call, dict):
            raise ValueError("functionCall is not an object")
        calls = state.extra.get("calls")
        if calls is None:
            calls = state.extra["calls"] = CallAssembly(self.label, "gemini")
        args = call.get("args")
        if isinstance(args, str):  # a gateway relaying what the model wrote, unparsed
            arguments = args
        else:
            arguments = json.dumps(args if args is not None else {}, ensure_ascii=False)
        signature = part.get("thoughtSignature")
        private = (self._signature(signature),) if isinstance(signature, str) and signature else ()
        call_id = call.get("id") if isinstance(call.get("id"), str) else ""
        return calls.whole(call_id, str(call.get("name") or ""), arguments, state, private)
