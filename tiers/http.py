"""What every remote tier shares: one httpx client, timeouts, retries, SSE, and faults.

A protocol module (openai, anthropic, gemini) says how to build a request and how to
read one server-sent event; this module does the rest, so every provider fails the
same way: a ``Failed`` event with a clear message, after the text that arrived and a
``Usage`` for what was used (the provider's, Rung's estimate, or zero for a request the
provider never took).

Every reply is bounded, whatever the server does: in time (idle and total deadlines), in
bytes (per event and per reply, read with a bounded parser), and in output (a stream
that runs past ``max_tokens`` is stopped and ends as "length"). This module is the
request loop (send, retry, fail); the parts live beside it: the SSE parser in sse.py,
the reading of one reply in reply.py, how a reply ends (usage, Finished/Failed) in
reply_end.py, model lists in endpoint.py, keys and TLS in key_safety.py, the options
and ProviderError in http_options.py, the usage check in usage_check.py.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from .base import (
    ChatRequest,
    Event,
    Failed,
    Notice,
    TierBase,
    Usage,
)
from .endpoint import LISTING_LIMIT, EndpointListing
from .faults import FaultMessages, clip, error_detail
from .http_options import WIRE_BYTES_PER_TOKEN, HttpOptions, ProviderError
from .key_safety import (
    CA_BUNDLE_SETTING,
    HEADER_SAFE_KEY,
    ca_context,
    header_key_problem,
    key_forms,
)
from .reply import (
    ReplyClock,
    ReplyReader,
    StreamFailure,
    StreamState,
    content_coding,
    read_capped,
)
from .reply_end import ReplyEnding
from .sse import BOM, EventTooLarge, SSEParser
from .urls import display_url, split_query, url_secrets, with_query
from .usage_check import check_usage

# Where these lived before the splits; tests and tiers import them here.
__all__ = [
    "BOM",
    "CA_BUNDLE_SETTING",
    "HEADER_SAFE_KEY",
    "LISTING_LIMIT",
    "WIRE_BYTES_PER_TOKEN",
    "EventTooLarge",
    "HttpOptions",
    "ProviderError",
    "RemoteTier",
    "ReplyClock",
    "ReplyReader",
    "SSEParser",
    "StreamFailure",
    "StreamState",
    "ca_context",
    "content_coding",
    "json_data",
    "key_forms",
    "read_capped",
]

RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504, 529}
# An error page says what went wrong in its first few KiB; the rest is never read.
ERROR_BODY_LIMIT = 64 * 1024


class RemoteTier(EndpointListing, ReplyEnding, FaultMessages, TierBase):
    """Base of the remote tiers. Subclasses implement ``build`` and ``parse``.

    Cancelling is closing the connection, so ``can_stop`` stays False (TierBase)."""

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
        host_problem: str | None = None,
        host_question: str | None = None,
    ) -> None:
        """``host_problem``: why no request may go out because the base URL's host was
        never confirmed for this provider's key (the tier then has no key); the chat
        screen asks ``host_question`` once and rebuilds the tier on a yes."""
        self.name = name
        self.label = label
        # A query on the base URL (a gateway's ?token=...) goes at the end of every
        # request URL, after the path; it is never shown (display_url).
        base, self._query = split_query(base_url.strip())
        self.base_url = self.normalize_base_url(base.rstrip("/"))
        self.shown_url = display_url(with_query(self.base_url, self._query))
        self._url_secrets = url_secrets(base_url)
        self.model = model
        self.kind = kind
        self.options = options or HttpOptions()
        self._api_key = api_key
        self._key_env = key_env
        self.host_problem = host_problem
        self.host_question = host_question
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never show the key
        return f"<{type(self).__name__} {self.name} {self.shown_url} model={self.model!r}>"

    @classmethod
    def normalize_base_url(cls, base_url: str) -> str:
        """The base URL requests are built on, from what the user pasted (protocols
        whose SDKs spell it differently accept both spellings)."""
        return base_url

    def url(self, path: str) -> str:
        """The real URL of an endpoint under the base (``path`` starts with "/" and may
        have its own query), with the base URL's query kept."""
        return with_query(f"{self.base_url}{path}", self._query)

    # -- to implement ------------------------------------------------------------
    def build(self, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        raise NotImplementedError

    def parse(self, sse: ServerSentEvent, state: StreamState) -> list[Event]:
        """The events in one server-sent event: TextDelta, ToolCallReady (complete calls
        only), PrivateDelta, Notice."""
        raise NotImplementedError

    async def prepare(self) -> None:
        """Hook before the first request (the self-hosted rung discovers its model)."""

    def auth_headers(self) -> dict[str, str]:
        """The headers that carry this provider's key (and nothing of any other's)."""
        raise NotImplementedError

    # -- plumbing -----------------------------------------------------------------
    @property
    def needs_key(self) -> bool:
        return self.kind == "api"

    @property
    def has_key(self) -> bool:
        """Whether a request can go out: a key is set, or this endpoint needs none."""
        return bool(self._api_key) or not self.needs_key

    @property
    def unusable_reason(self) -> str | None:
        # Auto routing skips a rung with no key (and says so); a pinned one still
        # answers with the message that tells the user where to put the key.
        if self.host_problem:
            return "base URL not confirmed"
        return None if self.has_key else "no API key"

    def key_problem(self) -> str | None:
        """Why the key cannot be sent in a header (never showing it), or None."""
        return header_key_problem(self._api_key, self.label, self._key_env)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            o = self.options
            verify: bool | ssl.SSLContext = o.verify_tls
            if o.verify_tls and o.ca_bundle:
                verify = ca_context(o.ca_bundle)
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
        """Remove the key from any text that might reach the screen or a log: as sent,
        stripped, and as reprs and escapes show it (an exception quoting a header)."""
        for form in key_forms(self._api_key or ""):
            text = text.replace(form, "****")
        for secret in self._url_secrets:  # a base URL's password or token
            text = text.replace(secret, "****")
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
        clock = ReplyClock(self.options)
        state = StreamState()
        failed: Failed | None = None
        problem = self._request_problem()
        if problem is not None:
            yield Usage()  # nothing was sent, nothing is charged
            yield Failed(problem, kind="auth", busy_s=0.0)
            return
        response: httpx.Response | None = None
        reader: ReplyReader | None = None
        try:
            await self.prepare()
            url, headers, body = self.build(request)
            # identity: a compressed stream would be inflated a network read at a time
            # (up to ~1000x each) before the byte bounds below could see it.
            headers = {"accept": "text/event-stream", "accept-encoding": "identity", **headers}
            for attempt in range(self.options.max_retries + 1):
                response = await self._send(url, headers, body, clock)
                if response.status_code < 400:
                    break
                notice, wait = await self._retry_or_fail(response, attempt, clock)
                yield notice
                await asyncio.sleep(wait)
            assert response is not None
            await self._check_stream_response(response, clock)
            state.accepted = True
            reader = ReplyReader(self, response, request, state, clock)
            shown: Usage | None = None
            while (deltas := await reader.next_deltas()) is not None:
                if state.usage is not shown and state.extra.get("usage_partial"):
                    # The provider's running counts (Anthropic's input at the start):
                    # the live cost uses them at once instead of guessing.
                    shown = state.usage
                    if shown is not None:
                        running, _ = check_usage(shown, request)  # told once, at the end
                        yield replace(running, partial=True)
                for delta in deltas:
                    yield delta
            failed = reader.incomplete()
        except StreamFailure as f:
            failed = f.failed
        except ProviderError as exc:
            failed = Failed(
                f"{self.label}: {clip(self.scrub(str(exc)), 300)}",
                retryable=exc.retryable,
                kind=exc.kind,
            )
        except httpx.HTTPError as exc:
            failed = self._network_failure(exc, bool(state.deltas))
        except Exception as exc:  # a tier bug or odd server must end as Failed, not crash
            failed = Failed(
                f"{self.label} failed unexpectedly: {type(exc).__name__}: "
                f"{clip(self.scrub(str(exc)), 300)}",
                kind="protocol",
            )
        finally:
            if reader is not None:
                await reader.aclose()
            if response is not None:
                await response.aclose()
        over_limit = reader is not None and reader.over_limit
        for event in self._ending(request, state, clock, failed, over_limit):
            yield event

    # -- the steps of one reply ---------------------------------------------------------
    def _request_problem(self) -> str | None:
        """Why no request may go out at all (an unconfirmed host, no key, a key no
        header can carry)."""
        if self.host_problem:
            return self.host_problem
        if self.needs_key and not self._api_key:
            where = f" ${self._key_env} or" if self._key_env else ""
            return f"No API key for {self.label}: set{where} add one in Settings."
        return self.key_problem()

    async def _retry_or_fail(
        self, response: httpx.Response, attempt: int, clock: ReplyClock
    ) -> tuple[Notice, float]:
        """After an error status: the notice and the wait before the next attempt, or
        (raised) the failure when there is none."""
        status = response.status_code
        error_body = await self._error_body(response, clock)
        clock.end_attempt()
        wait = self._retry_wait(status, attempt, response, clock)
        if wait is None:
            raise StreamFailure(self._http_failure(status, error_body, attempt + 1))
        notice = Notice(
            f"{self.label} answered HTTP {status}; retrying in {wait:.1f}s "
            f"({attempt + 1}/{self.options.max_retries})."
        )
        return notice, wait

    async def _send(
        self, url: str, headers: dict[str, str], body: dict[str, Any], clock: ReplyClock
    ) -> httpx.Response:
        """One attempt, up to the response headers, within the reply's total deadline."""
        client = self.client  # first: a broken CA bundle fails before any attempt
        clock.begin_attempt()
        try:
            async with asyncio.timeout(clock.total_deadline - time.monotonic()):
                return await client.send(
                    client.build_request("POST", url, headers=headers, json=body), stream=True
                )
        except (httpx.ConnectError, httpx.ConnectTimeout):
            clock.end_attempt(server_worked=False)
            raise
        except TimeoutError:
            raise StreamFailure(self.deadline_failure("total", False, 0)) from None

    async def _error_body(self, response: httpx.Response, clock: ReplyClock) -> bytes:
        """The start of an error body; a compressed one is described, never inflated."""
        coding = content_coding(response)
        if coding is not None:
            await response.aclose()
            return f"({coding}-compressed body, not read)".encode()
        return await read_capped(response, ERROR_BODY_LIMIT, self._body_wait(clock))

    def _body_wait(self, clock: ReplyClock) -> float:
        return max(0.0, min(self.options.idle_limit, clock.total_deadline - time.monotonic()))

    def _retry_wait(
        self, status: int, attempt: int, response: httpx.Response, clock: ReplyClock
    ) -> float | None:
        """Seconds before the next attempt, or None when this failure is final."""
        if status not in RETRY_STATUSES or attempt >= self.options.max_retries:
            return None
        wait = self._backoff(attempt, response)
        if wait is None or not clock.fits(wait):
            return None
        return wait

    async def _check_stream_response(self, response: httpx.Response, clock: ReplyClock) -> None:
        """Fail unless the answer is the event stream itself (not a redirect, not a page)."""
        if response.is_redirect:
            where = clip(self.scrub(response.headers.get("location", "another address")), 200)
            raise StreamFailure(
                Failed(
                    f"{self.label} redirected to {where}. Rung does not follow redirects, "
                    "so a key never goes to another host: use that address as the base URL.",
                    kind="request",
                )
            )
        coding = content_coding(response)
        if coding is not None:
            raise StreamFailure(
                Failed(
                    f"{self.label} sent a {clip(self.scrub(coding), 60)}-compressed reply "
                    "although Rung asked for an uncompressed one (accept-encoding: "
                    "identity). Rung does not inflate replies, so it stopped reading.",
                    kind="protocol",
                )
            )
        content_type = clip(self.scrub(response.headers.get("content-type", "")), 80)
        if "text/event-stream" not in content_type:
            raw = await read_capped(response, ERROR_BODY_LIMIT, self._body_wait(clock))
            raise StreamFailure(
                Failed(
                    f"{self.label} sent {content_type or 'no content type'} instead of an "
                    f"event stream: {error_detail(raw, self.scrub)}",
                    kind="protocol",
                )
            )

    def checked_parse(self, sse: ServerSentEvent, state: StreamState) -> list[Event]:
        """``parse``, with anything it cannot read turned into a protocol failure."""
        try:
            return self.parse(sse, state)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StreamFailure(
                Failed(
                    f"{self.label} sent a malformed event ({type(exc).__name__}): "
                    f"{clip(self.scrub(sse.data), 120)!r}",
                    kind="protocol",
                )
            ) from None


def json_data(sse: ServerSentEvent) -> Any:
    return json.loads(sse.data)
