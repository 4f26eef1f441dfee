"""Gemini streamGenerateContent over SSE."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from httpx_sse import ServerSentEvent

from .base import ChatRequest, TextDelta, Usage
from .http import ProviderError, RemoteTier, StreamState, json_data
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

    @classmethod
    def normalize_base_url(cls, base_url: str) -> str:
        # Google's SDK takes the host and adds the API version; people also paste the
        # versioned URL from the REST docs. Both work: v1beta unless one is given.
        return base_url if API_VERSION.search(base_url) else f"{base_url}/v1beta"

    def build(self, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        contents = [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in request.messages
            if m.content
        ]
        config: dict[str, Any] = {
            "maxOutputTokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            config["stopSequences"] = list(request.stop)
        body: dict[str, Any] = {"contents": contents, "generationConfig": config}
        if request.system:
            body["systemInstruction"] = {"parts": [{"text": request.system}]}
        url = self.url(f"/models/{quote(self.model, safe='')}:streamGenerateContent?alt=sse")
        headers = {"content-type": "application/json", **self.auth_headers()}
        return url, headers, body

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key or ""}

    def parse(self, sse: ServerSentEvent, state: StreamState) -> list[TextDelta]:
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
        out: list[TextDelta] = []
        for candidate in data.get("candidates") or []:
            for part in (candidate.get("content") or {}).get("parts") or []:
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
                state.extra["usage_partial"] = False
            break  # one candidate is requested
        return out
