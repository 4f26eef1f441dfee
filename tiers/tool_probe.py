"""Does a self-hosted OpenAI-compatible server take native tool calls?

vLLM answers a request with ``tools`` and ``tool_choice: "auto"`` with HTTP 400 unless
it was started with ``--enable-auto-tool-choice --tool-call-parser …``; SGLang needs
``--tool-call-parser``; llama.cpp's server needs ``--jinja``. One tiny request (one
tool, one output token) tells, once per base URL and model; a server that refuses gets
the text protocol (tiers/tool_text.py) instead. ``[selfhosted] tools`` = "native" or
"text" skips the question.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx

from .reply import content_coding, read_capped

if TYPE_CHECKING:
    from .openai import SelfHostedTier

TOOL_MODES = ("auto", "native", "text")
# What was learned, per (base URL, model): "native" or "text". A failure that says
# nothing about tools (no connection, 5xx without a word on tools) is not remembered.
_DETECTED: dict[tuple[str, str], str] = {}
PROBE_BODY_LIMIT = 64 * 1024
# Words of a refusal that is about tools (vLLM, SGLang, llama.cpp, TGI phrase it so).
TOOL_WORDS = ("tool", "jinja", "function")

PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "ping",
        "description": "Answer ping.",
        "parameters": {"type": "object", "properties": {}},
    },
}


def known_protocol(base_url: str, model: str) -> str | None:
    return _DETECTED.get((base_url, model))


def forget() -> None:
    """Clear what was learned (tests; a server restarted with other flags)."""
    _DETECTED.clear()


def verdict(status: int, body: bytes) -> str | None:
    """ "native", "text", or None when the answer says nothing about tools."""
    if status < 300:
        return "native"
    text = body.decode("utf-8", "replace").lower()
    if status in (400, 422) or (status >= 500 and any(w in text for w in TOOL_WORDS)):
        return "text"
    return None


async def detect(tier: SelfHostedTier) -> str:
    """The protocol to use with this server: remembered, or asked once."""
    key = (tier.base_url, tier.model)
    if key in _DETECTED:
        return _DETECTED[key]
    body: dict[str, Any] = {
        "model": tier.model,
        "messages": [{"role": "user", "content": "ping"}],
        "tools": [PROBE_TOOL],
        "tool_choice": "auto",
        "max_tokens": 1,
        "stream": False,
    }
    o = tier.options
    try:
        async with asyncio.timeout(o.connect_timeout + o.read_timeout):
            request = tier.client.build_request(
                "POST",
                tier.url("/chat/completions"),
                headers={"accept-encoding": "identity", **tier.auth_headers()},
                json=body,
            )
            response = await tier.client.send(request, stream=True)
            if content_coding(response) is not None:
                await response.aclose()
                return "native"  # the real request reports the odd server
            raw = await read_capped(response, PROBE_BODY_LIMIT, o.read_timeout)
    except (TimeoutError, httpx.HTTPError):
        return "native"  # not learned: the real request says what is wrong
    found = verdict(response.status_code, raw)
    if found is None:
        return "native"
    _DETECTED[key] = found
    return found
