"""What every remote tier shares: one httpx client, timeouts, retries, SSE, and faults.

A protocol module (openai, anthropic, gemini) says how to build a request and how to
read one server-sent event; this module does the rest, so every provider fails the
same way: a ``Failed`` event with a clear message, after the text that arrived and a
``Usage`` for what was used (the provider's, Rung's estimate, or zero for a request the
provider never took).

Every reply is bounded, whatever the server does: in time (idle and total deadlines), in
bytes (per event and per reply, read with a bounded parser), and in output (a stream
that runs past ``max_tokens`` is stopped and ends as "length"). The parser is in
sse.py, the reading of one reply in reply.py, the usage check in usage_check.py.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import re
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from .base import (
    ChatRequest,
    Event,
    Failed,
    Finished,
    ModelList,
    Notice,
    TierBase,
    Usage,
    estimate_usage,
)
from .faults import FaultMessages, clip, error_detail, size_text
from .reply import (
    ReplyClock,
    ReplyReader,
    StreamFailure,
    StreamState,
    content_coding,
    read_capped,
)
from .sse import BOM, EventTooLarge, SSEParser
from .urls import display_url, split_query, url_secrets, with_query
from .usage_check import check_usage

# Where these lived before the split (sse.py, reply.py); tests and tiers import them here.
__all__ = [
    "BOM",
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
# A model list, even a big gateway's with hundreds of models, is far smaller than this.
LISTING_LIMIT = 8 * 1024 * 1024
# Output estimates are rough (about 4 characters a token), so a stream is cut only when
# it is clearly past max_tokens: at twice as much, plus a little for tiny limits
# (usage_check.OUTPUT_SLACK and OUTPUT_SLACK_TOKENS: the same bound judges reported usage).
# OpenAI frames each streamed token in about 250-300 bytes of JSON; a reply allowed many
# tokens may use this many bytes for each before the per-reply byte bound applies.
WIRE_BYTES_PER_TOKEN = 512
# The only setting that fills HttpOptions.ca_bundle (see app/engine/build_tiers.py).
CA_BUNDLE_SETTING = "[selfhosted] ca_bundle"
# What a key may contain to go in a header: visible ASCII, nothing else.
HEADER_SAFE_KEY = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class HttpOptions:
    connect_timeout: float = 10.0
    # The longest wait for the server to say anything at all (a slow prefill of a big
    # prompt can take a minute); also the idle limit when idle_timeout is None.
    read_timeout: float = 120.0
    # The longest time without new reply text (visible or reasoning). SSE comments,
    # pings and events with no content count as idle: they keep a dead stream alive.
    idle_timeout: float | None = None
    # One reply, retries and waits included.
    total_timeout: float = 600.0
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    # A Retry-After longer than this is not waited out: the user is told instead.
    max_retry_after: float = 60.0
    # One server-sent event (or one line of it), and all bytes of one reply; a reply
    # allowed more than max_reply_bytes / WIRE_BYTES_PER_TOKEN tokens gets more.
    max_event_bytes: int = 1024 * 1024
    max_reply_bytes: int = 8 * 1024 * 1024
    verify_tls: bool = True
    ca_bundle: str | None = None

    @property
    def idle_limit(self) -> float:
        return self.read_timeout if self.idle_timeout is None else self.idle_timeout

    def reply_byte_limit(self, max_tokens: int) -> int:
        return max(self.max_reply_bytes, WIRE_BYTES_PER_TOKEN * max_tokens)


class ProviderError(Exception):
    """The provider said something went wrong (an error event or error body)."""

    def __init__(self, message: str, kind: str = "server", retryable: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable


class RemoteTier(FaultMessages, TierBase):
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

    async def list_models(self) -> ModelList:
        """The models the endpoint serves (``GET {base}/models``), or why not: the
        cheapest real call, for Settings' "Test connection" and its model picker."""
        if self.host_problem:
            return ModelList(False, self.host_problem)
        if self.needs_key and not self._api_key:
            return ModelList(False, f"No API key for {self.label}.")
        problem = self.key_problem()
        if problem:
            return ModelList(False, problem)
        start = time.monotonic()
        try:
            status, body = await self.get_small(self.url("/models"))
        except httpx.HTTPError as exc:
            return ModelList(False, self._network_failure(exc, False).message)
        except ProviderError as exc:
            return ModelList(False, f"{self.label}: {clip(self.scrub(str(exc)), 300)}")
        latency = 1000 * (time.monotonic() - start)
        if status >= 400:
            return ModelList(False, self._http_failure(status, body, 1).message)
        try:
            data = json.loads(body)
            listed = data.get("data") or data.get("models") or []
            # OpenAI-style {"id": ...}; Gemini's {"name": "models/gemini-…"}.
            ids = [
                str(m.get("id") or m.get("name", "")).removeprefix("models/")
                for m in listed
                if isinstance(m, dict)
            ]
        except (ValueError, AttributeError):
            return ModelList(False, f"{self.label} answered, but not with a model list.")
        ids = [i for i in ids if i]
        message = f"Connected to {self.label} in {latency:.0f} ms · {len(ids)} models listed"
        return ModelList(True, message, ids)

    async def check_connection(self) -> tuple[bool, str]:
        listed = await self.list_models()
        return listed.ok, listed.message

    async def get_small(self, url: str) -> tuple[int, bytes]:
        """GET a small document (a model list): (status, body), bounded in bytes and time."""
        o = self.options
        shown = display_url(url)
        try:
            async with asyncio.timeout(o.connect_timeout + o.read_timeout):
                # identity: httpx would otherwise offer gzip, deflate (and br, zstd),
                # and a compressed answer is refused unread (content_coding).
                headers = {"accept-encoding": "identity", **self.auth_headers()}
                request = self.client.build_request("GET", url, headers=headers)
                response = await self.client.send(request, stream=True)
        except TimeoutError:
            raise ProviderError(
                f"no answer from {shown} within {o.connect_timeout + o.read_timeout:g}s",
                kind="network",
                retryable=True,
            ) from None
        coding = content_coding(response)
        if coding is not None:
            await response.aclose()
            raise ProviderError(
                f"the answer from {shown} is {coding}-compressed although Rung asked for "
                "an uncompressed one; Rung does not inflate it",
                kind="protocol",
            )
        body = await read_capped(response, LISTING_LIMIT + 1, o.read_timeout)
        if len(body) > LISTING_LIMIT:
            raise ProviderError(
                f"the answer from {shown} is larger than {size_text(LISTING_LIMIT)}",
                kind="protocol",
            )
        return response.status_code, body

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
        key = self._api_key
        if not key or HEADER_SAFE_KEY.fullmatch(key):
            return None
        bad = next(c for c in key if not HEADER_SAFE_KEY.fullmatch(c))
        if bad in "\r\n":
            what = "a line break (often a stray \\r from a Windows .env file)"
        elif bad.isspace():
            what = "a space or tab"
        elif bad.isascii():
            what = "a control character"
        else:
            what = "a non-ASCII character (a pasted quote or dash?)"
        where = f" or ${self._key_env}" if self._key_env else ""
        return (
            f"The {self.label} API key contains {what}, so it cannot be sent. "
            f"Enter it again in Settings{where}."
        )

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

    def _ending(
        self,
        request: ChatRequest,
        state: StreamState,
        clock: ReplyClock,
        failed: Failed | None,
        over_limit: bool,
    ) -> list[Event]:
        """The events that close a reply: a notice if it was cut at the output limit,
        its usage, then exactly one Finished or Failed."""
        clock.end_attempt()
        end = time.monotonic()
        duration = end - clock.started
        events: list[Event] = []
        if over_limit:
            events.append(
                Notice(
                    f"{self.label} kept sending past the {request.max_tokens}-token limit; "
                    "Rung stopped reading."
                )
            )
        usage = self._final_usage(request, state, complete=failed is None and not over_limit)
        usage, problems = check_usage(usage, request)
        if problems:
            events.append(
                Notice(
                    f"{self.label} reported impossible usage ({'; '.join(problems)}); Rung "
                    "charged no more than this request's limits."
                )
            )
        events.append(usage)
        if failed is not None:
            return [*events, replace(failed, duration_s=duration, busy_s=clock.busy_s)]
        first = clock.first_text_at
        gen = end - first if first else 0.0
        usage_out = usage.output_tokens if state.usage else state.deltas
        finished = Finished(
            finish_reason="length" if over_limit else state.finish_reason or "stop",
            model=state.model or self.model,
            time_to_first_token_s=(first - clock.started) if first else None,
            duration_s=duration,
            output_tokens_per_s=(usage_out / gen) if gen > 0 and usage_out else None,
            busy_s=clock.busy_s,
        )
        return [*events, finished]

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

    def _final_usage(self, request: ChatRequest, state: StreamState, complete: bool) -> Usage:
        """The provider's usage when it arrived whole; otherwise Rung's estimate, keeping
        any exact part the provider did send (Anthropic reports input at the start).

        A request the provider never took (an error status, a redirect, no connection)
        used nothing. An estimated output never exceeds what was asked for: a runaway
        stream is not billed beyond max_tokens by any real provider.
        """
        reported = state.usage
        if not state.accepted:
            return reported or Usage()
        if reported is not None and (complete or not state.extra.get("usage_partial")):
            return reported
        guess = estimate_usage(request, state.chars + state.hidden_chars, state.deltas)
        guessed_out = min(guess.output_tokens, request.max_tokens)
        if reported is None:
            return replace(guess, output_tokens=guessed_out)
        return Usage(
            input_tokens=reported.input_tokens or guess.input_tokens,
            # A running count (Gemini's) past max_tokens is a server gone wrong, not use.
            output_tokens=min(max(reported.output_tokens, guessed_out), request.max_tokens),
            cached_input_tokens=reported.cached_input_tokens,
            cache_write_tokens=reported.cache_write_tokens,
            cache_write_1h_tokens=reported.cache_write_1h_tokens,
            estimated=True,
        )


def json_data(sse: ServerSentEvent) -> Any:
    return json.loads(sse.data)


def key_forms(key: str) -> list[str]:
    """Every way a key may be written out, longest first: raw, stripped, as ``repr``
    and bytes ``repr`` (exceptions quoting a header), JSON-escaped and URL-quoted."""
    from urllib.parse import quote

    if not key:
        return []
    forms = {
        key,
        key.strip(),
        repr(key)[1:-1],
        repr(key.encode("utf-8", "backslashreplace"))[2:-1],
        json.dumps(key)[1:-1],
        json.dumps(key, ensure_ascii=False)[1:-1],
        quote(key, safe=""),
    }
    # A form this short would mask ordinary words; no real key is that short.
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def ca_context(path: str) -> ssl.SSLContext:
    """A TLS context trusting ``path``; a missing or broken file is named with its setting."""
    try:
        return ssl.create_default_context(cafile=os.path.expanduser(path))
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "it is a directory, not a file"
    except PermissionError:
        reason = "permission denied"
    except ssl.SSLError:
        reason = "it holds no PEM certificate"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    raise ProviderError(
        f"cannot use the CA bundle {path!r} ({CA_BUNDLE_SETTING}): {reason}. "
        "Fix the path in Settings or clear it.",
        kind="config",
    )
