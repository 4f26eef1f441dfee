"""The limits of every remote request (``HttpOptions``) and the error a provider
reports (``ProviderError``): shared by the request loop (http.py), the reading of a
reply (reply.py), model listing (endpoint.py) and key handling (key_safety.py)."""

from __future__ import annotations

from dataclasses import dataclass

# Output estimates are rough (about 4 characters a token), so a stream is cut only when
# it is clearly past max_tokens: at twice as much, plus a little for tiny limits
# (usage_check.OUTPUT_SLACK and OUTPUT_SLACK_TOKENS: the same bound judges reported usage).
# OpenAI frames each streamed token in about 250-300 bytes of JSON; a reply allowed many
# tokens may use this many bytes for each before the per-reply byte bound applies.
WIRE_BYTES_PER_TOKEN = 512


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
