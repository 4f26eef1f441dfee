"""Remote rungs as users meet them: `rung ask --tier`, the chat screen, and key safety."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from textual.widgets import Markdown

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import load_config
from rung.tui.app import RungApp
from rung.tui.widgets.messages import MessageList
from rung.tui.widgets.status import StatusBar
from tests.conftest import wait_for
from tests.fakes import anthropic_stream, gemini_stream, json_reply, openai_stream
from tests.test_cli import rung

LEAK_KEY = "sk-LEAKCANARY-7f3a9c2e51"


def test_ask_selfhosted_with_only_a_base_url(tmp_path: Path, llama_server: str) -> None:
    """The README's example: no config, just the server's URL. An OpenAI key in the
    environment is not sent to it (checked byte-wise in test_remote)."""
    result = rung(
        tmp_path,
        "ask",
        "--tier",
        "selfhosted",
        "--base-url",
        llama_server,
        "--max-tokens",
        "8",
        "--json",
        "Say hi",
        OPENAI_API_KEY="sk-should-not-be-used",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tier"] == "selfhosted" and data["model"] == "smollm2"
    assert data["usage"]["estimated"] is True  # llama.cpp's server reports none


def test_ask_anthropic_reports_exact_usage_as_json(tmp_path: Path, servers) -> None:
    server = servers(
        lambda r: anthropic_stream(
            ["Hi", "!"], input_tokens=10, cache_read=2000, cache_write=0, output_tokens=3
        )
    )
    result = rung(
        tmp_path,
        "ask",
        "--tier",
        "anthropic",
        "--base-url",
        server.url + "/v1",
        "--json",
        "hello",
        ANTHROPIC_API_KEY="sk-ant-test",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"] == "Hi!"
    assert data["usage"] == {
        "input_tokens": 2010,
        "output_tokens": 3,
        "cached_input_tokens": 2000,
        "cache_write_tokens": 0,
        "estimated": False,
    }


def test_ask_prints_what_arrived_then_the_error(tmp_path: Path, servers) -> None:
    server = servers(lambda r: gemini_stream(["Part one. ", "Part two."], cut_after=1))
    result = rung(
        tmp_path,
        "ask",
        "--tier",
        "gemini",
        "--base-url",
        server.url + "/v1beta",
        "q",
        GEMINI_API_KEY="g-test",
    )
    assert result.returncode == 1
    assert result.stdout.startswith("Part one.")
    assert "cut mid-reply" in result.stderr


def test_ask_without_a_key_says_which_variable(tmp_path: Path) -> None:
    result = rung(tmp_path, "ask", "--tier", "deepseek", "hi")
    assert result.returncode == 1
    assert "DEEPSEEK_API_KEY" in result.stderr


def test_unknown_tier_is_a_usage_error(tmp_path: Path) -> None:
    result = rung(tmp_path, "ask", "--tier", "nonsense", "hi")
    assert result.returncode == 2 and "Unknown tier 'nonsense'" in result.stderr


async def test_chat_screen_keeps_a_cut_remote_reply_marked_failed(servers, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    server = servers(lambda r: anthropic_stream(["Half an ", "answer", "..."], cut_after=2))
    app = RungApp(load_config(), RungOverrides(tier="anthropic", base_url=server.url + "/v1"))
    async with app.run_test() as pilot:
        assert app.active_tier.name == "anthropic"
        await pilot.press(*"explain", "enter")
        items = app.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: bool(items()) and items()[0].status == "failed")
        item = items()[0]
        assert item.text == "Half an answer"
        assert item.has_class("failed")
        assert "cut mid-reply" in item.query_one(Markdown).source
        assert app.chat.history[-1].content == "Half an answer"
        assert app.chat.replies[-1].usage.estimated


async def test_selfhosted_health_is_shown(llama_server: str) -> None:
    app = RungApp(load_config(), RungOverrides(tier="selfhosted", base_url=llama_server))
    async with app.run_test():
        status = app.chat.query_one(StatusBar)
        await wait_for(lambda: "healthy" in status.state, timeout=15)
        assert "smollm2" in status.state and "ms" in status.state


async def test_dead_selfhosted_endpoint_is_shown() -> None:
    app = RungApp(load_config(), RungOverrides(tier="selfhosted", base_url="http://127.0.0.1:9/v1"))
    async with app.run_test():
        status = app.chat.query_one(StatusBar)
        await wait_for(lambda: "unreachable" in status.state, timeout=15)


def _files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.mark.parametrize(
    "tier,env,stream",
    [
        ("openai", "OPENAI_API_KEY", openai_stream),
        ("anthropic", "ANTHROPIC_API_KEY", anthropic_stream),
        ("gemini", "GEMINI_API_KEY", gemini_stream),
        ("deepseek", "DEEPSEEK_API_KEY", openai_stream),
    ],
)
def test_key_never_leaks_to_output_or_files(
    tmp_path: Path, servers, tier: str, env: str, stream
) -> None:
    """A recognisable key, a provider that echoes it back in an error: it must not show up
    on stdout, stderr, or in any file Rung writes."""
    calls = []

    def handler(r):  # type: ignore[no-untyped-def]
        calls.append(r)
        if len(calls) == 1:
            return stream(["fine"])
        return json_reply(401, {"error": {"message": f"Incorrect API key: {LEAK_KEY}"}})

    server = servers(handler)
    path = "/v1beta" if tier == "gemini" else "/v1"
    outputs = []
    for _ in range(2):  # one good reply, one rejected key
        result = rung(
            tmp_path,
            "ask",
            "--tier",
            tier,
            "--base-url",
            server.url + path,
            "--json",
            "hi",
            **{env: LEAK_KEY},
        )
        outputs.append(result.stdout + result.stderr)
    assert "rejected the API key" in outputs[1]
    assert all(LEAK_KEY not in out for out in outputs)
    assert _files_containing(tmp_path, LEAK_KEY) == []
    assert len(calls) == 2  # the key did reach its own provider


async def test_key_never_reaches_the_screen_or_logs(
    servers, monkeypatch, tmp_path: Path, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPENAI_API_KEY", LEAK_KEY)
    server = servers(lambda r: json_reply(401, {"error": {"message": f"bad key {LEAK_KEY}"}}))
    app = RungApp(load_config(), RungOverrides(tier="openai", base_url=server.url + "/v1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"hi", "enter")
        items = app.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: bool(items()) and items()[0].status == "failed")
        await pilot.pause()
        screen_text = app.export_screenshot()
        assert "rejected the API key" in items()[0].query_one(Markdown).source
        assert LEAK_KEY not in screen_text
        assert LEAK_KEY not in repr(app.active_tier)
    assert LEAK_KEY not in caplog.text
    assert _files_containing(tmp_path, LEAK_KEY) == []
