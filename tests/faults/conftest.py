"""The remote tier kinds the fault matrix runs against, and how a test watches a reply.

Every kind gets a canary key that a hostile server echoes back in its errors; every
message a reply produces is scanned for any piece of it.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from rung.tiers.anthropic import AnthropicTier
from rung.tiers.base import ChatRequest, Event, Failed, Finished, Message, Notice, Reply
from rung.tiers.gemini import GeminiTier
from rung.tiers.http import HttpOptions, RemoteTier
from rung.tiers.openai import OpenAITier, SelfHostedTier
from rung.tiers.turn import Turn
from tests.fakes import ANTHROPIC, GEMINI, OPENAI, Dialect, ScriptedServer

# Small limits so that every fault ends in well under a second or two.
FAST = HttpOptions(
    connect_timeout=0.5,
    read_timeout=2.0,
    idle_timeout=0.5,
    total_timeout=4.0,
    max_retries=2,
    backoff_base=0.01,
    backoff_cap=0.05,
    max_retry_after=1.0,
    max_event_bytes=64 * 1024,
    max_reply_bytes=512 * 1024,
)
MAX_TOKENS = 64


@dataclass(frozen=True)
class Kind:
    """One kind of remote rung: how to build it against a server, and how it speaks."""

    name: str
    label: str
    dialect: Dialect
    path: str
    build: Callable[..., RemoteTier]

    def tier(self, url: str, key: str, options: HttpOptions = FAST) -> RemoteTier:
        return self.build(base_url=url + self.path, api_key=key, options=options)


def _openai(**kw: object) -> RemoteTier:
    return OpenAITier(name="openai", label="OpenAI", model="gpt-test",
                      key_env="OPENAI_API_KEY", **kw)  # type: ignore[arg-type]  # fmt: skip


def _selfhosted(**kw: object) -> RemoteTier:
    # A model given, so the only request is the chat itself (discovery has its own tests).
    return SelfHostedTier(name="selfhosted", label="Self-hosted", model="served-model",
                          key_env="RUNG_SELFHOSTED_API_KEY", **kw)  # type: ignore[arg-type]  # fmt: skip


def _anthropic(**kw: object) -> RemoteTier:
    return AnthropicTier(name="anthropic", label="Anthropic", model="claude-sonnet-4-5",
                         key_env="ANTHROPIC_API_KEY", **kw)  # type: ignore[arg-type]  # fmt: skip


def _gemini(**kw: object) -> RemoteTier:
    return GeminiTier(name="gemini", label="Google Gemini", model="gemini-2.5-flash",
                      key_env="GEMINI_API_KEY", **kw)  # type: ignore[arg-type]  # fmt: skip


KINDS = {
    # OpenAI-compatible: the same code serves deepseek, mistral, openrouter, groq,
    # together and custom endpoints.
    "openai": Kind("openai", "OpenAI", OPENAI, "/v1", _openai),
    "selfhosted": Kind("selfhosted", "Self-hosted", OPENAI, "/v1", _selfhosted),
    "anthropic": Kind("anthropic", "Anthropic", ANTHROPIC, "/v1", _anthropic),
    "gemini": Kind("gemini", "Google Gemini", GEMINI, "/v1beta", _gemini),
}


def canary_key() -> str:
    """A recognisable key; its random part is what must never show."""
    return "sk-" + secrets.token_hex(16)


def leaked(text: str, key: str, window: int = 6) -> bool:
    """Whether any 6 characters of the key's random part appear in ``text``."""
    secret = key.removeprefix("sk-")
    return any(secret[i : i + window] in text for i in range(len(secret) - window + 1))


def ask(max_tokens: int = MAX_TOKENS) -> ChatRequest:
    return ChatRequest(messages=(Message("user", "Tell me about faults."),), max_tokens=max_tokens)


@dataclass
class Outcome:
    """Everything one reply delivered to its listener, in order, and how long it took."""

    reply: Reply
    events: list[Event] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ends(self) -> list[Finished | Failed]:
        return [e for e in self.events if isinstance(e, Finished | Failed)]

    @property
    def messages(self) -> list[str]:
        """What the user reads besides the reply: notices and the failure."""
        out = [e.text for e in self.events if isinstance(e, Notice)]
        return out + [e.message for e in self.events if isinstance(e, Failed)]


async def watch(tier: RemoteTier, request: ChatRequest | None = None) -> Outcome:
    outcome = Outcome(Reply())
    started = time.monotonic()
    outcome.reply = await Turn(tier, request or ask(), [outcome.events.append]).run()
    outcome.elapsed = time.monotonic() - started
    return outcome


async def works_again(tier: RemoteTier) -> None:
    """The same tier object answers a normal request (the server has recovered)."""
    outcome = await watch(tier)
    assert outcome.reply.failed is None, outcome.reply.failed
    assert outcome.reply.text == "fine" and outcome.reply.finish_reason == "stop"
    assert not outcome.reply.usage.estimated


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def later_server() -> Iterator[Callable[..., ScriptedServer]]:
    """Start a server on a given port (where a refused or stuck connection was)."""
    started: list[ScriptedServer] = []

    def start(handler, port: int) -> ScriptedServer:  # type: ignore[no-untyped-def]
        started.append(ScriptedServer(handler, port=port))
        return started[-1]

    yield start
    for server in started:
        server.close()


class StuckPort:
    """A port whose accept queue is full, so a new connection hangs in its handshake:
    a slow connect, without leaving this machine. ``release`` frees the port."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._clog: list[socket.socket] = []
        for _ in range(3):
            sock = socket.socket()
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", self.port))
            self._clog.append(sock)
        time.sleep(0.05)

    def release(self) -> None:
        for sock in [*self._clog, self._listener]:
            sock.close()
        self._clog = []


@pytest.fixture
def stuck_port() -> Iterator[StuckPort]:
    stuck = StuckPort()
    yield stuck
    stuck.release()
