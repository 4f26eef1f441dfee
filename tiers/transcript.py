"""One provider-neutral transcript (tiers/base.py ``Message``), rendered per dialect.

A transcript made on one provider may go to another in the next step (the router moves
steps between rungs). What belongs to a provider stays with it:

- ids: each dialect has its own shape (Anthropic ``[A-Za-z0-9_-]{1,64}``, conventionally
  ``toolu_``; OpenAI-compatible servers up to 40 characters, Mistral exactly 9
  alphanumerics; Gemini's are optional). An id keeps its value in the dialect that made
  it and is remapped, the same way for a call and its result, everywhere else.
- private parts (Anthropic thinking blocks with their signature, Gemini thought
  signatures) go back unchanged to the provider AND model that made them, and are
  dropped everywhere else (a signature is only valid for its own model).
- arguments a model sent malformed go back as ``{}`` (every dialect wants an object
  there; the tool's error result already told the model what was wrong).

Only the message list and tool declarations are rendered here; each tier adds its own
sampling fields. Tools keep the request's order (a stable prefix is a cached prefix).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

from .base import ChatRequest, Message, PrivatePart, ToolCall, ToolSpec

ANTHROPIC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
OPENAI_ID = re.compile(r"[A-Za-z0-9_.:-]{1,40}")
MISTRAL_ID = re.compile(r"[A-Za-z0-9]{9}")
# Gemini 3 rejects a function-call turn without a thought signature; a call another
# provider made has none, and Google documents this value for exactly that case.
GEMINI_FOREIGN_SIGNATURE = "skip_thought_signature_validator"
EPHEMERAL = {"type": "ephemeral"}


def _digest(call_id: str) -> str:
    return hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).hexdigest()


def render_id(call: ToolCall | str, origin: str, dialect: str, provider: str = "") -> str:
    """The id a call (or a result naming it) carries in ``dialect``: its own where the
    dialect made it and the shape fits, else a stable one derived from it."""
    call_id = call.id if isinstance(call, ToolCall) else call
    native = origin == dialect
    if dialect == "anthropic":
        return (
            call_id
            if native and ANTHROPIC_ID.fullmatch(call_id)
            else "toolu_" + _digest(call_id)[:24]
        )
    if provider == "mistral":
        return call_id if MISTRAL_ID.fullmatch(call_id) else _digest(call_id)[:9]
    return call_id if native and OPENAI_ID.fullmatch(call_id) else "call_" + _digest(call_id)[:24]


def id_map(messages: tuple[Message, ...], dialect: str, provider: str = "") -> dict[str, str]:
    """Every call id in the transcript, to the id it carries in ``dialect``."""
    return {c.id: render_id(c, c.origin, dialect, provider) for m in messages for c in m.tool_calls}


def arguments_object(call: ToolCall) -> dict[str, Any]:
    """A call's arguments as an object; malformed or non-object arguments become {}."""
    try:
        value = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def own_parts(parts: tuple[PrivatePart, ...], provider: str, model: str) -> Iterator[PrivatePart]:
    """The private parts that may go back: made by this provider and this model."""
    return (p for p in parts if p.provider == provider and p.model == model)


def result_text(message: Message) -> str:
    return message.content if message.content else "(no output)"


# -- OpenAI-compatible ------------------------------------------------------------------
def openai_tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def openai_messages(request: ChatRequest, provider: str) -> list[dict[str, Any]]:
    ids = id_map(request.messages, "openai", provider)
    out: list[dict[str, Any]] = (
        [{"role": "system", "content": request.system}] if request.system else []
    )
    for m in request.messages:
        if m.role == "tool":
            content = result_text(m)
            if m.is_error:  # OpenAI has no error flag: say it in the text
                content = f"Error: {content}"
            call_id = ids.get(m.tool_call_id) or render_id(m.tool_call_id, "", "openai", provider)
            out.append({"role": "tool", "tool_call_id": call_id, "content": content})
        elif m.role == "assistant" and m.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": m.content or None,
                    "tool_calls": [
                        {
                            "id": ids[c.id],
                            "type": "function",
                            "function": {
                                "name": c.name,
                                "arguments": json.dumps(arguments_object(c), ensure_ascii=False),
                            },
                        }
                        for c in m.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": m.role, "content": m.content})
    return out


# -- Anthropic ----------------------------------------------------------------------------
def anthropic_tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]


def anthropic_messages(request: ChatRequest, model: str) -> list[dict[str, Any]]:
    """The messages as content blocks; consecutive same-role messages merged (tool
    results and the user's next words form one user turn, results first)."""
    ids = id_map(request.messages, "anthropic")
    out: list[dict[str, Any]] = []
    for m in request.messages:
        blocks: list[dict[str, Any]] = []
        role = "user" if m.role in ("user", "tool") else "assistant"
        if m.role == "tool":
            call_id = ids.get(m.tool_call_id) or render_id(m.tool_call_id, "", "anthropic")
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": call_id,
                "content": result_text(m),
            }
            if m.is_error:
                block["is_error"] = True
            blocks.append(block)
        else:
            if m.role == "assistant":
                # Thinking blocks first, exactly as they came (signature included).
                blocks += [json.loads(p.data) for p in own_parts(m.private, "anthropic", model)]
            if m.content:
                blocks.append({"type": "text", "text": m.content})
            for c in m.tool_calls:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": ids[c.id],
                        "name": c.name,
                        "input": arguments_object(c),
                    }
                )
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            previous = out[-1]["content"]
            if role == "user" and m.role == "tool":  # results go before any text
                n = sum(1 for b in previous if b.get("type") == "tool_result")
                previous[n:n] = blocks
            else:
                previous += blocks
        else:
            out.append({"role": role, "content": blocks})
    return out


def anthropic_cache_points(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]], has_system: bool
) -> None:
    """Cache breakpoints (at most 4): the tools when there is no system prompt (a system
    breakpoint covers the tools before it), the previous user turn (the prefix the last
    request wrote, read now at 0.1x) and the newest one (written now, read next step)."""
    if tools and not has_system:
        tools[-1]["cache_control"] = EPHEMERAL
    user_turns = [i for i, m in enumerate(messages) if m["role"] == "user"]
    for i in user_turns[-2:]:
        messages[i]["content"][-1]["cache_control"] = EPHEMERAL


# -- Gemini -------------------------------------------------------------------------------
def gemini_tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    if not tools:
        return []
    declarations = [
        {"name": t.name, "description": t.description, "parametersJsonSchema": t.parameters}
        for t in tools
    ]
    return [{"functionDeclarations": declarations}]


def _signature(parts: tuple[PrivatePart, ...], model: str) -> str | None:
    for p in own_parts(parts, "gemini", model):
        if p.kind == "thought_signature":
            return str(json.loads(p.data))
    return None


def gemini_contents(request: ChatRequest, model: str) -> list[dict[str, Any]]:
    """Model turns with their functionCall parts (own signatures kept), each run of tool
    results as one user turn of functionResponse parts."""
    names = {c.id: c.name for m in request.messages for c in m.tool_calls}
    origins = {c.id: c.origin for m in request.messages for c in m.tool_calls}
    out: list[dict[str, Any]] = []
    for m in request.messages:
        parts: list[dict[str, Any]] = []
        role = "model" if m.role == "assistant" else "user"
        if m.role == "tool":
            answer = {"error" if m.is_error else "result": result_text(m)}
            response: dict[str, Any] = {
                "name": m.name or names.get(m.tool_call_id, ""),
                "response": answer,
            }
            if _gemini_id(m.tool_call_id, origins.get(m.tool_call_id, "")):
                response["id"] = m.tool_call_id
            parts.append({"functionResponse": response})
        else:
            if m.content:
                part: dict[str, Any] = {"text": m.content}
                signature = _signature(m.private, model) if m.role == "assistant" else None
                if signature:
                    part["thoughtSignature"] = signature
                parts.append(part)
            signed = False
            for c in m.tool_calls:
                call: dict[str, Any] = {"name": c.name, "args": arguments_object(c)}
                if _gemini_id(c.id, c.origin):
                    call["id"] = c.id
                part = {"functionCall": call}
                signature = _signature(c.private, model)
                if signature is None and not signed and model.startswith("gemini-3"):
                    signature = GEMINI_FOREIGN_SIGNATURE
                if signature:
                    part["thoughtSignature"] = signature
                    signed = True
                parts.append(part)
        if not parts:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["parts"] += parts
        else:
            out.append({"role": role, "parts": parts})
    return out


def _gemini_id(call_id: str, origin: str) -> bool:
    """Gemini gets back only the ids Gemini itself sent (its ids are optional)."""
    return origin == "gemini" and bool(call_id) and not call_id.startswith("rung-")
