"""What every remote tier shares: one httpx client, timeouts, retries, SSE, and faults.

A protocol module (openai, anthropic, gemini) says how to build a request and how to
read one server-sent event; this module does the rest, so every provider fails the
same way: a ``Failed`` event with a clear message, after the text that arrived and a
``Usage`` for what was used (the provider's, or Rung's estimate).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent

from .base import (
    ChatRequest,
    Event,
    Failed,
    Finished,
    Notice,
    TextDelta,
    Usage,
    estimate_usage,
)
from .faults import FaultMessages, error_detail

RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504, 529}


@dataclass(frozen=True)
class HttpOptions:
    connect_timeout: float = 10.0
    # Long enough for a slow prefill of a big prompt; also the longest silence allowed
    # mid-stream before the reply counts as stalled.
    read_timeout: float = 120.0
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    # A Retry-After longer than this is not waited out: the user is told instead.
    max_retry_after: float = 60.0
    verify_tls: bool = True
    ca_bundle: str | None = None


class ProviderError(Exception):
    """The provider said something went wrong (an error event or error body)."""

    def __init__(self, message: str, kind: str = "server", retryable: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable


@dataclass
class StreamState:
    """What one reply has produced so far, as the protocol parser sees it."""

    chars: int = 0  # of the reply so far, for an estimate if no usage arrives
    deltas: int = 0
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str = ""
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class RemoteTier(FaultMessages):
    """Base of the remote tiers. Subclasses implement ``build`` and ``parse``."""

    kind = "api"
    provider = ""

    def __init__(
        self,
        *,
        name: str,
        label: str,
        base_url: str,
        model: str,
        api_key: str | None,
        options: HttpOptions | None = None,
        kind: str = "api",
        key_env: str | None = None,
    ) -> None:
        self.name = name
        self.label = label
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.kind = kind
        self.options = options or HttpOptions()
        self._api_key = api_key
        self._key_env = key_env
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never show the key
        return f"<{type(self).__name__} {self.name} {self.base_url} model={self.model!r}>"

    # -- to implement ------------------------------------------------------------
    def build(self, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        raise NotImplementedError

    def parse(self, sse: ServerSentEvent, state: StreamState) -> list[TextDelta]:
        raise NotImplementedError

    async def prepare(self) -> None:
        """Hook before the first request (the self-hosted rung discovers its model)."""

    def auth_headers(self) -> dict[str, str]:
        """The headers that carry this provider's key (and nothing of any other's)."""
        raise NotImplementedError

    async def check_connection(self) -> tuple[bool, str]:
        """The cheapest real call — list the models — for Settings' "Test connection".
        Returns (ok, what to show): latency and model count, or the exact reason."""
        if self.needs_key and not self._api_key:
            return False, f"No API key for {self.label}."
        start = time.monotonic()
        try:
            response = await self.client.get(f"{self.base_url}/models", headers=self.auth_headers())
        except httpx.HTTPError as exc:
            return False, self._network_failure(exc, False).message
        latency = 1000 * (time.monotonic() - start)
        if response.status_code >= 400:
            return False, self._http_failure(response.status_code, response.content, 1).message
        try:
            data = response.json()
            listed = data.get("data") or data.get("models") or []
        except (ValueError, AttributeError):
            return False, f"{self.label} answered, but not with a model list."
        return True, f"Connected to {self.label} in {latency:.0f} ms · {len(listed)} models listed"

    # -- plumbing -----------------------------------------------------------------
    @property
    def needs_key(self) -> bool:
        return self.kind == "api"

    @property
    def has_key(self) -> bool:
        """Whether a request can go out: a key is set, or this endpoint needs none."""
        return bool(self._api_key) or not self.needs_key

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            o = self.options
            verify: bool | ssl.SSLContext = o.verify_tls
            if o.verify_tls and o.ca_bundle:
                verify = ssl.create_default_context(cafile=o.ca_bundle)
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(o.read_timeout, connect=o.connect_timeout),
                # Connection failures only; 429 and 5xx have their own backoff below.
                transport=httpx.AsyncHTTPTransport(retries=1, verify=verify),
                # A redirect could carry the key to another host: never follow one.
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def scrub(self, text: str) -> str:
        """Remove the key from any text that might reach the screen or a log."""
        if self._api_key and len(self._api_key) >= 4:
            text = text.replace(self._api_key, "****")
        return text

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retrying, honouring Retry-After; None if not worth it."""
        o = self.options
        wait = random.uniform(0, min(o.backoff_cap, o.backoff_base * 2**attempt))
        header = response.headers.get("retry-after") if response is not None else None
        if header:
            try:
                asked = float(header)
            except ValueError:
                try:  # an HTTP date instead of seconds
                    asked = email.utils.parsedate_to_datetime(header).timestamp() - time.time()
                except (TypeError, ValueError):
                    asked = 0.0
            if asked > o.max_retry_after:
                return None
            wait = max(wait, asked)
        return wait

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        start = time.monotonic()
        state = StreamState()
        first_token_at: float | None = None
        failed: Failed | None = None
        if self.needs_key and not self._api_key:
            where = f" ${self._key_env} or" if self._key_env else ""
            yield Failed(
                f"No API key for {self.label}: set{where} add one in Settings.", kind="auth"
            )
            return
        response: httpx.Response | None = None
        try:
            await self.prepare()
            url, headers, body = self.build(request)
            headers = {"accept": "text/event-stream", **headers}
            for attempt in range(self.options.max_retries + 1):
                response = await self.client.send(
                    self.client.build_request("POST", url, headers=headers, json=body),
                    stream=True,
                )
                if response.status_code < 400:
                    break
                error_body = await response.aread()
                await response.aclose()
                status = response.status_code
                wait = self._backoff(attempt, response)
                if (
                    status in RETRY_STATUSES
                    and attempt < self.options.max_retries
                    and wait is not None
                ):
                    yield Notice(
                        f"{self.label} answered HTTP {status}; retrying in {wait:.1f}s "
                        f"({attempt + 1}/{self.options.max_retries})."
                    )
                    await asyncio.sleep(wait)
                    continue
                raise _Failure(self._http_failure(status, error_body, attempt + 1))
            assert response is not None
            if response.is_redirect:
                where = response.headers.get("location", "another address")
                raise _Failure(
                    Failed(
                        f"{self.label} redirected to {where}. Rung does not follow redirects, "
                        "so a key never goes to another host: use that address as the base URL.",
                        kind="request",
                    )
                )
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                raw = await response.aread()
                raise _Failure(
                    Failed(
                        f"{self.label} sent {content_type or 'no content type'} instead of an "
                        f"event stream: {self.scrub(error_detail(raw))}",
                        kind="protocol",
                    )
                )
            async for sse in EventSource(response).aiter_sse():
                try:
                    deltas = self.parse(sse, state)
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    raise _Failure(
                        Failed(
                            f"{self.label} sent a malformed event ({type(exc).__name__}): "
                            f"{self.scrub(sse.data[:120])!r}",
                            kind="protocol",
                        )
                    ) from None
                for delta in deltas:
                    if first_token_at is None:
                        first_token_at = time.monotonic()
                    state.chars += len(delta.text)
                    state.deltas += 1
                    yield delta
                if state.done:
                    break
            if not state.done and state.finish_reason is None:
                failed = Failed(
                    f"The {self.label} stream ended before the reply was complete.",
                    retryable=True,
                    kind="network",
                )
        except _Failure as f:
            failed = f.failed
        except ProviderError as exc:
            failed = Failed(
                f"{self.label}: {self.scrub(str(exc))}", retryable=exc.retryable, kind=exc.kind
            )
        except httpx.HTTPError as exc:
            failed = self._network_failure(exc, bool(state.deltas))
        finally:
            if response is not None:
                await response.aclose()
        end = time.monotonic()
        yield self._final_usage(request, state, failed is not None)
        if failed is not None:
            yield Failed(failed.message, failed.retryable, failed.kind, duration_s=end - start)
            return
        gen = end - first_token_at if first_token_at else 0.0
        usage_out = state.usage.output_tokens if state.usage else state.deltas
        yield Finished(
            finish_reason=state.finish_reason or "stop",
            model=state.model or self.model,
            time_to_first_token_s=(first_token_at - start) if first_token_at else None,
            duration_s=end - start,
            output_tokens_per_s=(usage_out / gen) if gen > 0 and usage_out else None,
        )

    def _final_usage(self, request: ChatRequest, state: StreamState, failed: bool) -> Usage:
        """The provider's usage when it arrived whole; otherwise Rung's estimate, keeping
        any exact part the provider did send (Anthropic reports input at the start)."""
        guess = estimate_usage(request, state.chars, state.deltas)
        reported = state.usage
        if reported is not None and not (failed and state.extra.get("usage_partial")):
            return reported
        if reported is None:
            return guess
        return Usage(
            input_tokens=reported.input_tokens or guess.input_tokens,
            output_tokens=max(reported.output_tokens, guess.output_tokens),
            cached_input_tokens=reported.cached_input_tokens,
            cache_write_tokens=reported.cache_write_tokens,
            cache_write_1h_tokens=reported.cache_write_1h_tokens,
            estimated=True,
        )


class _Failure(Exception):
    def __init__(self, failed: Failed) -> None:
        super().__init__(failed.message)
        self.failed = failed


def json_data(sse: ServerSentEvent) -> Any:
    return json.loads(sse.data)
