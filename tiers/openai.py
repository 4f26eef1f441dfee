"""OpenAI-compatible chat completions: OpenAI, DeepSeek, Mistral, OpenRouter, Groq,
Together, any custom endpoint, and the self-hosted rung (vLLM, SGLang, llama-server, TGI).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from .base import ChatRequest, TextDelta, Usage
from .faults import clip
from .http import ProviderError, RemoteTier, StreamState, json_data
from .usage_check import token_count

# Mistral rejects unknown fields (422 "extra_forbidden") and sends usage in its last
# chunk anyway.
NO_STREAM_OPTIONS = {"mistral"}

FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter", "eos": "stop"}


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
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True}
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

    def parse(self, sse: ServerSentEvent, state: StreamState) -> list[TextDelta]:
        if sse.data.strip() == "[DONE]":
            state.done = True
            return []
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
        out: list[TextDelta] = []
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content and isinstance(content, str):
                out.append(TextDelta(content))
            # DeepSeek's reasoning_content, OpenRouter's reasoning: billed, not shown, and
            # proof that the model is working (so not idle).
            thinking = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(thinking, str):
                state.hidden_chars += len(thinking)
            reason = choice.get("finish_reason")
            if reason:
                state.finish_reason = FINISH.get(reason, reason)
        # Groq also reports usage under x_groq on its last chunk.
        usage = data.get("usage") or (data.get("x_groq") or {}).get("usage")
        if isinstance(usage, dict) and usage:
            state.usage = usage_from_openai(usage)
        return out


class SelfHostedTier(OpenAITier):
    """Your own OpenAI-compatible server. Its model comes from /v1/models when not set;
    its cost is GPU time (see pricing), so no key from any provider is ever sent here."""

    has_health = True

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("kind", "selfhosted")
        kwargs.setdefault("provider", "selfhosted")
        super().__init__(**kwargs)

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
