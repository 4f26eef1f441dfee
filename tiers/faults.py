"""How a remote tier's failures are put into words: by status, by network fault.

Every message names the provider and the host, says what to do when there is
something to do, and passes through ``scrub`` so a key never appears in it.
"""

from __future__ import annotations

import json

import httpx

from .base import Failed


class FaultMessages:
    """Mixed into RemoteTier: needs ``label``, ``model``, ``base_url``, ``options``,
    ``_api_key``, ``_key_env`` and ``scrub``."""

    label: str
    model: str
    base_url: str
    _api_key: str | None
    _key_env: str | None

    def scrub(self, text: str) -> str:
        raise NotImplementedError

    def _http_failure(self, status: int, body: bytes, attempts: int) -> Failed:
        detail = self.scrub(error_detail(body))
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
                f"{self.label} answered 404 for model {self.model!r} at {self.base_url}: {detail}",
                kind="model",
            )
        return Failed(f"{self.label} refused the request (HTTP {status}): {detail}", kind="request")

    def _network_failure(self, exc: Exception, received_text: bool) -> Failed:
        host = httpx.URL(self.base_url).host
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
                reason = self.scrub(str(exc)) or type(exc).__name__
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
            f"{self.label}: {type(exc).__name__}: {self.scrub(str(exc))}",
            retryable=True,
            kind="network",
        )


def error_detail(body: bytes) -> str:
    """The human part of an error body: JSON error messages, or the start of the text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200] or "(empty body)"
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or err)[:300]
        if isinstance(err, str):
            return err[:300]
        if "message" in data:
            return str(data["message"])[:300]
    return text[:200]


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from (httpx wraps the real reason)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
