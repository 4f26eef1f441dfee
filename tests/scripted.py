"""A tier that plays a script: the engine's tests drive real routing, budgets, fallback,
pricing and the SQLite history with it, without a model or a network."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from rung.tiers.base import (
    ChatRequest,
    Event,
    Failed,
    Finished,
    TextDelta,
    TierBase,
    Usage,
)


@dataclass
class Script:
    """One reply: these pieces (``delay`` s apart), then this usage, then the end."""

    pieces: list[str] = field(default_factory=lambda: ["Hello", " there."])
    usage: Usage | None = field(default_factory=lambda: Usage(20, 3))
    fail: str | None = None  # end with Failed(fail) instead of Finished
    fail_kind: str = "server"
    delay: float = 0.0
    finish: str = "stop"
    hold: asyncio.Event | None = None  # after the pieces, wait for this (a reply mid-stream)


class ScriptedTier(TierBase):
    def __init__(
        self, name: str, kind: str, provider: str, model: str, scripts: list[Script] | None = None
    ) -> None:
        self.name, self.kind, self.provider, self.model = name, kind, provider, model
        self.scripts = list(scripts or [])
        self.requests: list[ChatRequest] = []
        self.closed = False

    def then(self, *scripts: Script) -> ScriptedTier:
        self.scripts.extend(scripts)
        return self

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        self.requests.append(request)
        script = self.scripts.pop(0) if self.scripts else Script()
        for piece in script.pieces:
            if script.delay:
                await asyncio.sleep(script.delay)
            yield TextDelta(piece)
        if script.hold is not None:
            await script.hold.wait()
        if script.usage is not None:
            yield script.usage
        if script.fail is not None:
            yield Failed(script.fail, kind=script.fail_kind, duration_s=0.5)
        else:
            yield Finished(script.finish, model=self.model, duration_s=0.5)

    async def aclose(self) -> None:
        self.closed = True


def local(*scripts: Script) -> ScriptedTier:
    return ScriptedTier("local", "local", "local", "SmolLM2-135M-Instruct", list(scripts))


def anthropic(*scripts: Script) -> ScriptedTier:
    return ScriptedTier("anthropic", "api", "anthropic", "claude-sonnet-4-5", list(scripts))


def deepseek(*scripts: Script) -> ScriptedTier:
    return ScriptedTier("deepseek", "api", "deepseek", "deepseek-chat", list(scripts))
