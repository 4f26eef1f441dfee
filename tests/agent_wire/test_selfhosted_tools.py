"""The self-hosted rung: native tool calls when the server parses them, the text
protocol when it refuses ``tools`` (asked once per base URL and model), or as set."""

from __future__ import annotations

import json

import pytest

from rung.tiers import tool_probe
from rung.tiers.openai import SelfHostedTier
from tests.fakes import Request, json_reply, openai_stream, openai_tool_stream

from .helpers import FAST, ask, recording, run

VLLM_REFUSAL = {"object": "error", "type": "BadRequestError", "code": 400,
                "message": '"auto" tool choice requires --enable-auto-tool-choice and '
                           "--tool-call-parser to be set"}  # fmt: skip
TEXT_CALL = '```tool_call\n{"name": "read", "arguments": {"path": "a.py"}}\n```'
USAGE = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}


@pytest.fixture(autouse=True)
def _fresh() -> None:
    tool_probe.forget()


def selfhosted(url: str, tools: str = "auto") -> SelfHostedTier:
    args = {"name": "selfhosted", "label": "Self-hosted", "api_key": None, "model": "qwen"}
    return SelfHostedTier(**args, base_url=url + "/v1", options=FAST, tools=tools)


def vllm_without_tool_parser(request: Request):  # type: ignore[no-untyped-def]
    body = request.json()
    if "tools" in body:
        return json_reply(400, VLLM_REFUSAL)
    return openai_stream(["Reading.\n", TEXT_CALL], usage=USAGE)


async def test_a_server_that_refuses_tools_gets_the_text_protocol_once(servers) -> None:
    seen: list = []
    server = servers(recording(vllm_without_tool_parser, seen))
    tier = selfhosted(server.url)
    assert tier.tool_protocol == "native"  # until the server says otherwise
    reply = await run(tier, ask())
    assert reply.failed is None, reply.failed
    assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [
        ("read", {"path": "a.py"})
    ]
    assert reply.text == "Reading.\n" and reply.finish_reason == "tool_calls"
    probe, real = (r.json() for r in seen)
    assert probe["max_tokens"] == 1 and probe["stream"] is False
    assert "tools" not in real and "```tool_call" in real["messages"][0]["content"]
    # Remembered per base URL and model: the next step asks nothing.
    again = selfhosted(server.url)
    assert again.tool_protocol == "text"
    await run(again, ask())
    assert len(seen) == 3 and "tools" not in seen[2].json()


async def test_a_server_with_a_tool_parser_gets_native_calls(servers) -> None:
    seen: list = []

    def vllm_with_parser(request: Request):  # type: ignore[no-untyped-def]
        if request.json()["stream"] is False:
            return json_reply(200, {"choices": [{"message": {"content": "ping"}}]})
        return openai_tool_stream([("chatcmpl-tool-1", "read", '{"path": "a.py"}')], usage=USAGE)

    server = servers(recording(vllm_with_parser, seen))
    reply = await run(selfhosted(server.url), ask())
    assert [c.id for c in reply.tool_calls] == ["chatcmpl-tool-1"]
    assert seen[1].json()["tool_choice"] == "auto"
    assert selfhosted(server.url).tool_protocol == "native"


@pytest.mark.parametrize("mode", ["text", "native"])
async def test_a_set_mode_asks_nothing(servers, mode: str) -> None:
    seen: list = []
    server = servers(recording(lambda r: openai_stream(["ok"], usage=USAGE), seen))
    await run(selfhosted(server.url, tools=mode), ask())
    assert len(seen) == 1
    assert ("tools" in seen[0].json()) == (mode == "native")


async def test_a_probe_that_learns_nothing_is_not_remembered(servers) -> None:
    answers = iter([json_reply(503, {"error": "loading"}), openai_stream(["ok"], usage=USAGE)])
    server = servers(lambda r: next(answers))
    reply = await run(selfhosted(server.url), ask())
    assert reply.failed is None and reply.text == "ok"
    assert tool_probe.known_protocol(server.url + "/v1", "qwen") is None


@pytest.mark.parametrize(("setting", "mode"), [("", "auto"), ('tools = "text"\n', "text")])
def test_the_config_setting_reaches_the_tier(tmp_path, setting: str, mode: str) -> None:
    from rung.engine.build_tiers import RungOverrides, build_tier
    from rung.engine.config import load_config

    path = tmp_path / "config.toml"
    path.write_text(f'[selfhosted]\nmodel = "qwen"\n{setting}')
    config = load_config(path)
    tier = build_tier("selfhosted", config, RungOverrides(base_url="http://127.0.0.1:9/v1"))
    assert isinstance(tier, SelfHostedTier) and tier.tools_mode == mode
    assert tier.can_call_tools and tier.tool_protocol == ("text" if mode == "text" else "native")


async def test_the_text_protocol_through_a_real_openai_compatible_server(llama_server) -> None:
    """llama-cpp-python's server (the CPU stand-in for vLLM) accepts ``tools`` but has no
    parser for this model: so "auto" cannot tell, and ``tools = "text"`` is the setting.
    With it, the real model's fenced block comes back as a call."""
    from rung.tiers.base import ChatRequest, Message
    from rung.tiers.http import HttpOptions

    from .helpers import TOOLS

    block = '```tool_call\n{"name": "read", "arguments": {"path": "app/x.py"}}\n```'
    question = f"Repeat exactly this text and nothing else:\n{block}"
    tier = SelfHostedTier(name="selfhosted", label="Self-hosted", api_key=None,
                          base_url=llama_server, model="", options=HttpOptions(read_timeout=60),
                          tools="text")  # fmt: skip
    request = ChatRequest((Message("user", question),), tools=TOOLS, max_tokens=60, temperature=0)
    reply = await run(tier, request)
    assert reply.failed is None, reply.failed
    assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [
        ("read", {"path": "app/x.py"})
    ]
    assert reply.finish_reason == "tool_calls" and "tool_call" not in reply.text
