"""What every tier speaks: the request, the events of a reply, and the Tier protocol.

A tier turns one ``ChatRequest`` into an async stream of events. Every tier, local
or remote, yields the same event types, so the UI, the cost meter and the store
never need to know which tier they are listening to.

Token counts follow one convention everywhere (the one genai-prices uses):
``input_tokens`` is the whole prompt, and ``cached_input_tokens`` and
``cache_write_tokens`` are parts of it. Providers that report cache tokens
separately (Anthropic) are normalised by their tier.

Tool calling (the agent) is provider-neutral here: a request offers ``ToolSpec``s, a
reply yields one ``ToolCallReady`` per COMPLETE call (never a half one: a stream cut
mid-call ends in ``Failed``) and ends with ``Finished("tool_calls")``. The transcript is
``Message``s: an assistant message carries its ``tool_calls`` and the provider-private
parts (``PrivatePart``: Anthropic thinking blocks with their signature, Gemini thought
signatures) tagged with the provider and model that made them; a "tool" message carries
one call's result. Each dialect renders this transcript itself (tiers/transcript.py):
its own private parts unchanged, foreign ones dropped, ids remapped where a dialect
needs its own shape. ``Reply.assistant_message()`` folds a reply into the message the
next step sends back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: ``parameters`` is the JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One complete call the model asked for.

    ``arguments`` is the raw JSON TEXT the model sent, possibly malformed (the dispatcher
    tells the model so; nothing crashes on it). ``origin`` is the dialect that issued
    ``id`` ("openai", "anthropic", "gemini", "text"): another dialect remaps the id to its
    own shape when it renders the transcript. ``private`` holds provider-only parts bound
    to this call (Gemini's thoughtSignature on a functionCall part).
    """

    id: str
    name: str
    arguments: str
    origin: str = ""
    private: tuple[PrivatePart, ...] = ()


@dataclass(frozen=True)
class PrivatePart:
    """An opaque part of a reply that only its own provider understands and that must go
    back to it unchanged (an Anthropic thinking block with its signature, a Gemini
    thoughtSignature). ``data`` is the part's JSON text as the provider sent it (the
    tier that made it decodes it; others drop it). ``provider`` is the dialect
    ("anthropic", "gemini"), ``model`` the model that made it."""

    provider: str
    model: str
    kind: str  # "thinking", "redacted_thinking", "thought_signature"
    data: str


@dataclass(frozen=True)
class Message:
    """One message of a conversation or agent transcript.

    - "assistant": ``content`` is its text; ``tool_calls`` the calls it made, in order;
      ``private`` its provider-private parts (rendered before the text and calls).
    - "tool": the result of one call: ``tool_call_id`` (the ToolCall's id), ``name`` (the
      tool), ``is_error`` and the result text as ``content``. Consecutive tool messages
      are the results of one assistant message's calls.
    """

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""
    name: str = ""
    is_error: bool = False
    private: tuple[PrivatePart, ...] = ()


@dataclass(frozen=True)
class ChatRequest:
    """One question to a model, with the conversation that leads up to it."""

    messages: tuple[Message, ...]
    system: str | None = None
    max_tokens: int = 1024
    temperature: float = 0.2
    stop: tuple[str, ...] = ()
    # Offered tools, in a FIXED order from step to step: a re-ordered list changes the
    # prompt prefix and re-bills it uncached.
    tools: tuple[ToolSpec, ...] = ()


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply, in order."""

    text: str


@dataclass(frozen=True)
class Usage:
    """Tokens a reply used. A later Usage for the same reply replaces an earlier one.

    ``estimated`` is True when the numbers were counted by Rung rather than reported
    by the provider (a cut stream, a server that reports nothing).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0  # part of output_tokens, billed as output
    estimated: bool = False
    # Anthropic bills 1-hour cache writes at 2x instead of 1.25x.
    cache_write_1h_tokens: int = 0
    # A running figure sent while the reply streams (Anthropic's input at the start,
    # Gemini's cumulative counts, the local model's count so far); a final Usage follows.
    partial: bool = False


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not part of the reply (context trimmed, retrying)."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The reply ended normally ("stop", "length") or was cancelled ("cancelled")."""

    finish_reason: str
    model: str = ""
    time_to_first_token_s: float | None = None
    duration_s: float = 0.0
    output_tokens_per_s: float | None = None
    # Seconds the server spent working on the request, without retry waits (a self-hosted
    # rung is charged GPU time for these); None: the tier does not know, use duration_s.
    busy_s: float | None = None


@dataclass(frozen=True)
class Failed:
    """The reply ended with an error. What arrived before it stays valid."""

    message: str
    retryable: bool = False
    kind: str = "error"  # "auth", "rate_limit", "network", "server", "protocol", "model", "budget"
    duration_s: float = 0.0
    # As in Finished: the server's working time, without retry waits (0 for a request
    # it never took); None: unknown, use duration_s.
    busy_s: float | None = None


@dataclass(frozen=True)
class ToolCallReady:
    """A complete tool call, emitted as soon as its arguments are whole (Anthropic:
    content_block_stop; OpenAI: the next call's index or the finish; Gemini: its part;
    text protocol: the closing fence). Never emitted for a call a cut stream left half."""

    call: ToolCall


@dataclass(frozen=True)
class PrivateDelta:
    """A provider-private part of the reply (see PrivatePart), complete, in reply order.
    Not shown; the next step sends it back inside the assistant message."""

    part: PrivatePart


Event = TextDelta | Usage | Notice | Finished | Failed | ToolCallReady | PrivateDelta


@runtime_checkable
class Tier(Protocol):
    """A model backend. ``stream`` yields events and ends with exactly one Finished or Failed.

    Cancelling the task that iterates (or calling ``aclose`` on the iterator) stops the
    reply: a remote tier closes its connection, the local tier stops within one token.
    The optional abilities below have defaults in ``TierBase``; callers read the
    declared flags instead of probing a tier's type.
    """

    name: str  # the rung's name in the ladder, e.g. "local", "anthropic"
    kind: str  # "local", "selfhosted" or "api"
    provider: str  # key of tiers.providers.PROVIDERS: who bills it and how
    model: str
    can_stop: bool  # stops itself within a token on ``stop()``, usage still exact
    has_health: bool  # an endpoint worth checking before anyone asks (``health()``)
    needs_loading: bool  # ``load()`` does real work (a model to read) before the first reply
    can_call_tools: bool  # a request's ``tools`` are honoured (natively or by text protocol)
    # How: "native" (the dialect's tool fields), "text" (tools described in the system
    # prompt, fenced ```tool_call blocks parsed back: tiers/tool_text.py), "none".
    tool_protocol: str

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]: ...

    async def load(self) -> None: ...

    @property
    def ready(self) -> bool: ...

    @property
    def unusable_reason(self) -> str | None: ...

    def stop(self) -> None: ...

    async def health(self) -> tuple[bool, str]: ...

    async def check_connection(self) -> tuple[bool, str]: ...

    async def list_models(self) -> ModelList: ...

    def scrub(self, text: str) -> str: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ModelList:
    """What an endpoint said when asked for its models: ok, what to show, the ids."""

    ok: bool
    message: str
    ids: list[str] = field(default_factory=list)


class TierLoadError(Exception):
    """A tier cannot be made ready (a missing or broken model). The message says why."""


class TierBase:
    """Defaults for a tier's optional abilities: a tier overrides only what it has."""

    name: str
    kind: str
    provider: str
    model: str
    can_stop = False
    has_health = False
    # A yes/no question to ask before this tier may send its key (a base URL from the
    # config file the user never confirmed), or None. See engine/trusted_hosts.py.
    host_question: str | None = None
    needs_loading = False
    can_call_tools = False
    tool_protocol = "none"

    async def load(self) -> None:
        """Wait until the tier can answer; raise TierLoadError saying why it cannot."""

    @property
    def ready(self) -> bool:
        """Whether ``load()`` has finished (always, for tiers with nothing to load)."""
        return True

    @property
    def unusable_reason(self) -> str | None:
        """Why no request can go out right now (no key, model failed to load), or None."""
        return None

    def stop(self) -> None:
        """Ask the reply in flight to stop (only meaningful when ``can_stop``)."""

    async def health(self) -> tuple[bool, str]:
        """(healthy, what to show). Only called when ``has_health``."""
        return True, ""

    async def check_connection(self) -> tuple[bool, str]:
        """The cheapest real call, for Settings' "Test connection": (ok, what to show)."""
        return True, "Nothing to connect to."

    async def list_models(self) -> ModelList:
        """The models this tier can use, for a picker (empty when it cannot say)."""
        return ModelList(False, "This rung has no model list.")

    def scrub(self, text: str) -> str:
        """Remove this tier's secrets from text that may be shown or stored."""
        return text

    async def aclose(self) -> None:
        """Release connections and threads; the tier is not used again."""


@dataclass
class Reply:
    """Everything one reply produced, folded from its events (used by `rung ask` and tests)."""

    text: str = ""
    usage: Usage = field(default_factory=Usage)
    finished: Finished | None = None
    failed: Failed | None = None
    notices: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    private: list[PrivatePart] = field(default_factory=list)

    def observe(self, event: Event) -> None:
        match event:
            case TextDelta(text=t):
                self.text += t
            case ToolCallReady(call=call):
                self.tool_calls.append(call)
            case PrivateDelta(part=part):
                self.private.append(part)
            case Usage():
                self.usage = event
            case Notice(text=t):
                self.notices.append(t)
            case Finished():
                self.finished = event
            case Failed():
                self.failed = event

    def assistant_message(self) -> Message:
        """The assistant message this reply adds to a transcript (text, calls, private
        parts), ready to be sent back in the next step's request."""
        return Message(
            "assistant", self.text, tool_calls=tuple(self.tool_calls), private=tuple(self.private)
        )

    @property
    def finish_reason(self) -> str:
        if self.failed is not None:
            return "error"
        return self.finished.finish_reason if self.finished else "incomplete"

    @property
    def duration_s(self) -> float:
        if self.finished is not None:
            return self.finished.duration_s
        return self.failed.duration_s if self.failed else 0.0


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (about 4 characters a token for English and code).

    Used only when a provider reports no usage; such usage is marked estimated.
    """
    return (len(text) + 3) // 4


# The last request counted, and its count: an agent step asks for the same request's
# size four to eight times (routing, the context meter, compaction, the usage check),
# each a walk over the whole transcript with the tools' schemas dumped as JSON (~0.2 ms
# at 30 steps). An equal request compares in microseconds: its messages are the same
# objects, and a tuple compares identical elements by identity.
_last_counted: tuple[ChatRequest, int] | None = None


def prompt_chars(request: ChatRequest) -> int:
    """Characters of the prompt, tools and tool calls included (they are billed input)."""
    global _last_counted
    last = _last_counted
    if last is not None and (last[0] is request or last[0] == request):
        return last[1]
    chars = len(request.system or "") + sum(len(m.content) for m in request.messages)
    for m in request.messages:
        chars += len(m.tool_call_id) + sum(len(p.data) for p in m.private)
        chars += sum(len(c.id) + len(c.name) + len(c.arguments) for c in m.tool_calls)
    for t in request.tools:
        chars += len(t.name) + len(t.description) + len(json.dumps(t.parameters))
    _last_counted = (request, chars)
    return chars


def live_usage(
    request: ChatRequest, reply_chars: int, deltas: int, reported: Usage | None
) -> Usage:
    """The usage of a reply still streaming, kept below the final figure so that the live
    cost only ever converges upward: the provider's running counts where it sent some,
    and for the rest lower-bound guesses (about 5 characters a token of prompt; for the
    reply, the smaller of its pieces and a quarter of its characters)."""
    if reported is not None and not reported.partial:
        return reported
    guess_out = min(deltas, reply_chars // 4)
    if reported is not None:
        return Usage(
            input_tokens=reported.input_tokens,
            output_tokens=max(reported.output_tokens, guess_out),
            cached_input_tokens=reported.cached_input_tokens,
            cache_write_tokens=reported.cache_write_tokens,
            cache_write_1h_tokens=reported.cache_write_1h_tokens,
            reasoning_tokens=reported.reasoning_tokens,
            estimated=True,
            partial=True,
        )
    return Usage(
        input_tokens=prompt_chars(request) // 5,
        output_tokens=guess_out,
        estimated=True,
        partial=True,
    )


def estimate_usage(request: ChatRequest, reply_chars: int, deltas: int) -> Usage:
    """Counted usage for a reply whose provider reported none.

    Streaming servers send about one token per delta, so the delta count is a better
    output estimate than characters when it is larger. Lengths only: this runs while a
    reply streams, so it builds no strings. The output is never estimated above what
    was requested: a provider does not bill past ``max_tokens``.
    """
    return Usage(
        input_tokens=(prompt_chars(request) + 3) // 4 + 4 * len(request.messages),
        output_tokens=min(request.max_tokens, max(deltas, (reply_chars + 3) // 4)),
        estimated=True,
    )
