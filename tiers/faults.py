"""How a remote tier's failures are put into words: by status, by network fault.

Every message names the provider and the host, says what to do when there is
something to do, and passes through ``scrub`` so a key never appears in it. Server
text is scrubbed whole, before anything cuts it short: a key cut in two by a
truncation would no longer match, and all but its last characters would show.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from .base import Failed

DETAIL_CHARS = 300
_HTML_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


class FaultMessages:
    """Mixed into RemoteTier: needs ``label``, ``model``, ``base_url``, ``shown_url``,
    ``options``,
    ``_api_key``, ``_key_env`` and ``scrub``."""

    label: str
    model: str
    base_url: str
    shown_url: str  # the base URL without its credentials (urls.display_url)
    _api_key: str | None
    _key_env: str | None

    def scrub(self, text: str) -> str:
        raise NotImplementedError

    def _http_failure(self, status: int, body: bytes, attempts: int) -> Failed:
        detail = error_detail(body, self.scrub)
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        if status in (401, 403):
            where = f" or ${self._key_env}" if self._key_env else ""
            if self._api_key is None:
                msg = f"{self.label} needs an API key (HTTP {status}). Add it in Settings{where}."
            else:
                msg = (
                    f"{self.label} rejected the API key (HTTP {status}): {detail}. "
                    f"Check the key in Settings{where}."
                )
            return Failed(msg, retryable=False, kind="auth")
        if status == 429:
            return Failed(
                f"{self.label} is rate-limiting requests (HTTP 429){tried}: {detail}",
                retryable=True,
                kind="rate_limit",
            )
        if status >= 500:
            return Failed(
                f"{self.label} server error (HTTP {status}){tried}: {detail}",
                retryable=True,
                kind="server",
            )
        if status == 404:
            return Failed(
                f"{self.label} answered 404 for model {self.model!r} at {self.shown_url}: {detail}",
                kind="model",
            )
        return Failed(f"{self.label} refused the request (HTTP {status}): {detail}", kind="request")

    def deadline_failure(self, which: str, received_text: bool, quiet_events: int) -> Failed:
        """A reply that ran out of time: in total, or idle (no new text) for too long."""
        o = self.options  # type: ignore[attr-defined]
        if which == "total":
            return Failed(
                f"{self.label} took longer than {o.total_timeout:g}s for one reply; "
                "Rung stopped waiting.",
                retryable=True,
                kind="network",
            )
        why = " (it sent only keep-alives or events without text)" if quiet_events else ""
        if received_text:
            msg = f"The {self.label} stream stalled: no new text for {o.idle_limit:g}s{why}."
        else:
            msg = f"{self.label} did not start replying within {o.idle_limit:g}s{why}."
        return Failed(msg, retryable=True, kind="network")

    def _network_failure(self, exc: Exception, received_text: bool) -> Failed:
        host = host_name(self.base_url)
        o = self.options  # type: ignore[attr-defined]
        if isinstance(exc, httpx.ConnectTimeout):
            return Failed(
                f"Could not connect to {self.label} at {host} within {o.connect_timeout:g}s.",
                retryable=True,
                kind="network",
            )
        if isinstance(exc, httpx.ReadTimeout | httpx.PoolTimeout):
            if received_text:
                msg = f"The {self.label} stream stalled: no data for {o.read_timeout:g}s."
            else:
                msg = f"{self.label} did not answer within {o.read_timeout:g}s."
            return Failed(msg, retryable=True, kind="network")
        if isinstance(exc, httpx.ConnectError):
            chain = _causes(exc)
            low = " ".join(f"{type(e).__name__} {e}" for e in chain).lower()
            if "certificate" in low or "ssl" in low or "tls" in low:
                reason = (
                    "TLS verification failed (for a private CA, set its bundle in the settings)"
                )
            elif any(
                s in low for s in ("name or service", "nodename", "getaddrinfo", "name resolution")
            ):
                reason = "the host name could not be resolved (DNS)"
            elif any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in low:
                reason = "connection refused (is the server running?)"
            else:
                reason = clip(self.scrub(str(exc)), DETAIL_CHARS) or type(exc).__name__
            return Failed(
                f"Could not connect to {self.label} at {host}: {reason}.",
                retryable=True,
                kind="network",
            )
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            if received_text:
                msg = f"The connection to {self.label} was cut mid-reply."
            else:
                msg = f"The connection to {self.label} closed before any reply."
            return Failed(msg, retryable=True, kind="network")
        return Failed(
            f"{self.label}: {type(exc).__name__}: {clip(self.scrub(str(exc)), DETAIL_CHARS)}",
            retryable=True,
            kind="network",
        )


def error_detail(body: bytes, scrub: Callable[[str], str] = str) -> str:
    """The human part of an error body: JSON error messages, the text of an HTML page,
    or the start of the text. ``scrub`` sees the whole text before it is cut short."""
    text = scrub(body.decode("utf-8", "replace").strip())
    try:
        data = json.loads(text)
    except ValueError:
        if text.lstrip()[:1] == "<":
            text = html_text(text)
        return clip(text, DETAIL_CHARS) or "(empty body)"
    # JSON escapes (\u0041, \r) hide a key from the raw-text scrub: scrub the decoded text.
    return clip(scrub(_json_message(data) or text), DETAIL_CHARS)


def _json_message(data: object) -> str:
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        return ""
    err = data.get("error", data)
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or err)
    if isinstance(err, str):
        return err
    return str(data["message"]) if "message" in data else ""


def html_text(page: str) -> str:
    """What a person reads on an HTML error page (a proxy's "502 Bad Gateway")."""
    page = _HTML_DROP.sub(" ", page)
    return html.unescape(_HTML_TAG.sub(" ", page))


def clip(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, with no control characters. Call it
    only on scrubbed text: cutting first could split a key past recognition."""
    text = " ".join(_CONTROL.sub("?", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def size_text(n: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def host_name(url: str) -> str:
    """The host of a URL for a message (never its credentials), whatever the URL."""
    try:
        return urlsplit(url).hostname or "(no host)"
    except ValueError:
        return "(a malformed URL)"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from (httpx wraps the real reason)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
