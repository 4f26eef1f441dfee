"""The remote tiers over real HTTP on 127.0.0.1: streams, exact usage, and every fault."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from rung.engine.build_tiers import RungOverrides, build_tier
from rung.engine.config import load_config
from rung.tiers.anthropic import AnthropicTier
from rung.tiers.base import ChatRequest, Message, Reply, TextDelta, Usage
from rung.tiers.gemini import GeminiTier
from rung.tiers.http import HttpOptions, RemoteTier
from rung.tiers.openai import OpenAITier, SelfHostedTier
from rung.tiers.turn import Turn, collect
from tests.fakes import (
    AnthropicCache,
    Send,
    Sleep,
    Status,
    anthropic_stream,
    gemini_stream,
    json_reply,
    openai_chunk,
    openai_stream,
)

KEY = "sk-test-0123456789abcdef"
FAST = HttpOptions(connect_timeout=2, read_timeout=5, max_retries=2, backoff_base=0.01)


def ask(text: str = "hi", **kw: object) -> ChatRequest:
    kw.setdefault("max_tokens", 64)
    return ChatRequest(messages=(Message("user", text),), **kw)  # type: ignore[arg-type]


def make_tier(cls, url: str, path: str, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {"base_url": url + path, "api_key": KEY, "options": FAST}
    return cls(**{**args, **kw})


def openai_tier(url: str, **kw: object) -> OpenAITier:
    defaults = {"name": "openai", "label": "OpenAI", "model": "gpt-test",
                "key_env": "OPENAI_API_KEY"}  # fmt: skip
    return make_tier(OpenAITier, url, "/v1", **{**defaults, **kw})


def anthropic_tier(url: str, **kw: object) -> AnthropicTier:
    defaults = {"name": "anthropic", "label": "Anthropic", "model": "claude-sonnet-4-5",
                "key_env": "ANTHROPIC_API_KEY"}  # fmt: skip
    return make_tier(AnthropicTier, url, "/v1", **{**defaults, **kw})


def gemini_tier(url: str, **kw: object) -> GeminiTier:
    defaults = {"name": "gemini", "label": "Google Gemini", "model": "gemini-2.5-flash",
                "key_env": "GEMINI_API_KEY"}  # fmt: skip
    return make_tier(GeminiTier, url, "/v1beta", **{**defaults, **kw})


def selfhosted_tier(base_url: str, options: HttpOptions, model: str = "m") -> SelfHostedTier:
    return SelfHostedTier(name="selfhosted", label="Self-hosted", api_key=None,
                          base_url=base_url, model=model, options=options)  # fmt: skip


async def run(tier: RemoteTier, request: ChatRequest | None = None) -> Reply:
    try:
        return await collect(tier, request or ask())
    finally:
        await tier.aclose()


# -- the self-hosted rung against a real llama.cpp OpenAI-compatible server ---------------
async def test_selfhosted_discovers_the_model_and_streams(llama_server: str) -> None:
    tier = SelfHostedTier(
        name="selfhosted",
        label="Self-hosted",
        base_url=llama_server,
        model="",
        api_key=None,
        options=HttpOptions(read_timeout=60),
    )
    healthy, detail = await tier.health()
    assert healthy and "ms" in detail
    assert tier.model  # discovered from /v1/models
    reply = await run(tier, ask("Say hello.", max_tokens=12, temperature=0))
    assert reply.failed is None, reply.failed
    assert reply.text.strip()
    # llama.cpp's server sends no usage while streaming: counted, and marked as such.
    assert reply.usage.estimated is True
    assert reply.usage.output_tokens >= 1 and reply.usage.input_tokens > 0
    assert reply.finished and reply.finished.duration_s > 0


async def test_openai_compatible_tier_against_llama_server(llama_server: str) -> None:
    tier = OpenAITier(
        name="custom",
        label="Custom",
        base_url=llama_server,
        model="smollm2",
        api_key=None,
        provider="custom",
        options=HttpOptions(read_timeout=60),
    )
    reply = await run(tier, ask("What is 2+2?", max_tokens=10, temperature=0))
    assert reply.failed is None and reply.text
    assert reply.finish_reason in ("stop", "length")


async def test_selfhosted_health_reports_a_dead_endpoint() -> None:
    tier = SelfHostedTier(
        name="selfhosted",
        label="Self-hosted",
        api_key=None,
        base_url="http://127.0.0.1:9/v1",
        model="",
        options=FAST,
    )
    healthy, detail = await tier.health()
    await tier.aclose()
    assert not healthy and "ConnectError" in detail


# -- exact usage, provider by provider -------------------------------------------------
async def test_openai_usage_with_cached_and_reasoning_tokens(servers) -> None:
    usage = {
        "prompt_tokens": 1200,
        # Within the request's 64-token limit: more is impossible (tiers/usage_check.py).
        "completion_tokens": 60,
        "total_tokens": 1260,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 40},
    }
    server = servers(lambda r: openai_stream(["Hel", "lo"], usage=usage))
    reply = await run(openai_tier(server.url))
    assert reply.text == "Hello"
    u = reply.usage
    assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.reasoning_tokens) == (
        1200,
        60,
        1024,
        40,
    )
    assert u.estimated is False
    body = server.requests[0].json()
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 64  # OpenAI's name for it
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_deepseek_cache_hit_and_miss_tokens(servers) -> None:
    usage = {
        "prompt_tokens": 900,
        "completion_tokens": 50,
        "total_tokens": 950,
        "prompt_cache_hit_tokens": 640,
        "prompt_cache_miss_tokens": 260,
    }
    server = servers(lambda r: openai_stream(["ok"], usage=usage, model="deepseek-chat"))
    reply = await run(openai_tier(server.url, provider="deepseek", name="deepseek"))
    assert reply.usage.cached_input_tokens == 640
    assert reply.usage.input_tokens == 900
    assert server.requests[0].json()["max_tokens"] == 64


async def test_mistral_gets_no_stream_options_and_still_reports_usage(servers) -> None:
    def strict(request):  # type: ignore[no-untyped-def]
        # Mistral's API forbids fields it does not know, as it does in production.
        if "stream_options" in request.json():
            return json_reply(
                422,
                {
                    "object": "error",
                    "message": {
                        "detail": [{"type": "extra_forbidden", "loc": ["body", "stream_options"]}]
                    },
                },
            )
        steps = openai_stream(["Bonjour"], done=False)
        # Mistral puts usage on the chunk that carries finish_reason.
        steps.insert(
            -1,
            Send(
                openai_chunk(
                    {
                        "id": "m",
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
                    }
                )
            ),
        )
        return [*steps, Send(b"data: [DONE]\n\n")]

    server = servers(strict)
    reply = await run(openai_tier(server.url, provider="mistral", name="mistral"))
    assert reply.failed is None, reply.failed
    assert reply.usage.input_tokens == 9 and not reply.usage.estimated


async def test_vllm_usage_chunk_with_null_choices(servers) -> None:
    def handler(r):  # type: ignore[no-untyped-def]
        steps = openai_stream(["a", "b"], done=False)
        steps.append(
            Send(
                openai_chunk(
                    {
                        "id": "x",
                        "choices": None,
                        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
                    }
                )
            )
        )
        steps.append(Send(b"data: [DONE]\n\n"))
        return steps

    server = servers(handler)
    reply = await run(openai_tier(server.url, provider="selfhosted"))
    assert reply.usage.input_tokens == 7 and not reply.usage.estimated


async def test_anthropic_stream_byte_for_byte(servers) -> None:
    server = servers(
        lambda r: anthropic_stream(["Hello", " world"], input_tokens=30, output_tokens=9)
    )
    reply = await run(
        anthropic_tier(server.url),
        ChatRequest(messages=(Message("user", "hi"),), system="Be brief."),
    )
    assert reply.text == "Hello world"
    assert reply.usage.input_tokens == 30 and reply.usage.output_tokens == 9
    assert reply.finish_reason == "stop"
    request = server.requests[0]
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    body = request.json()
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}


async def test_anthropic_long_chat_reads_its_prefix_from_the_cache(servers) -> None:
    """Turn 2 re-sends turn 1; the breakpoints make that a cache read, not new input."""
    cache = AnthropicCache()

    def handler(r):  # type: ignore[no-untyped-def]
        fresh, write, read = cache.usage_for(r.json())
        return anthropic_stream(["ok"], input_tokens=fresh, cache_write=write, cache_read=read)

    server = servers(handler)
    tier = anthropic_tier(server.url)
    system = "You are a careful reviewer. " * 100
    doc = "def f(x):\n    return x * 2\n" * 200
    first = await collect(tier, ChatRequest(messages=(Message("user", doc),), system=system))
    second = await collect(
        tier,
        ChatRequest(
            messages=(
                Message("user", doc),
                Message("assistant", first.text),
                Message("user", "Now add type hints."),
            ),
            system=system,
        ),
    )
    await tier.aclose()
    assert first.usage.cache_write_tokens > 1000 and first.usage.cached_input_tokens == 0
    # Everything turn 1 wrote is read back at 0.1x in turn 2; only the new turn is written.
    assert second.usage.cached_input_tokens == first.usage.cache_write_tokens
    assert second.usage.cache_write_tokens < 20
    assert second.usage.input_tokens >= second.usage.cached_input_tokens


async def test_gemini_stream_keeps_the_last_cumulative_usage(servers) -> None:
    server = servers(
        lambda r: gemini_stream(["Bon", "jour", "!"], prompt=40, cached=32, thoughts=15)
    )
    reply = await run(gemini_tier(server.url))
    assert reply.text == "Bonjour!"  # the thought part is not shown as reply text
    u = reply.usage
    assert u.input_tokens == 40 and u.cached_input_tokens == 32
    assert u.output_tokens == 3 + 15 and u.reasoning_tokens == 15  # thoughts billed as output
    request = server.requests[0]
    assert request.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert request.headers["x-goog-api-key"] == KEY
    assert "key=" not in request.path  # the key never goes in the URL


# -- faults ---------------------------------------------------------------------------
TIERS = {"openai": openai_tier, "anthropic": anthropic_tier, "gemini": gemini_tier}
STREAMS = {
    "openai": lambda pieces, **kw: openai_stream(pieces, **kw),
    "anthropic": lambda pieces, **kw: anthropic_stream(pieces, **kw),
    "gemini": lambda pieces, **kw: gemini_stream(pieces, **kw),
}


@pytest.mark.parametrize("provider", TIERS)
async def test_429_honours_retry_after_then_succeeds(servers, provider: str) -> None:
    calls = []

    def handler(r):  # type: ignore[no-untyped-def]
        calls.append(time.monotonic())
        if len(calls) == 1:
            return json_reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0.3"})
        return STREAMS[provider](["fine"])

    server = servers(handler)
    reply = await run(TIERS[provider](server.url))
    assert reply.failed is None and reply.text == "fine"
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.3
    assert any("HTTP 429" in n and "retrying" in n for n in reply.notices)


@pytest.mark.parametrize("provider", TIERS)
async def test_persistent_429_fails_after_bounded_retries(servers, provider: str) -> None:
    server = servers(lambda r: json_reply(429, {"error": {"message": "quota"}}))
    reply = await run(TIERS[provider](server.url))
    assert reply.failed is not None and reply.failed.kind == "rate_limit"
    assert "HTTP 429" in reply.failed.message and "after 3 attempts" in reply.failed.message
    assert len(server.requests) == 3  # 1 + max_retries(2)
    assert reply.failed.retryable
    # Rejected three times, used nothing: no estimated input is charged.
    assert reply.usage == Usage() and reply.failed.busy_s is not None


async def test_long_retry_after_is_not_waited_out(servers) -> None:
    server = servers(
        lambda r: json_reply(429, {"error": {"message": "later"}}, {"Retry-After": "3600"})
    )
    started = time.monotonic()
    reply = await run(openai_tier(server.url))
    assert time.monotonic() - started < 30  # an hour's wait is reported, not waited
    assert reply.failed is not None and len(server.requests) == 1


async def test_5xx_is_retried(servers) -> None:
    responses = iter([json_reply(503, {"error": "busy"}), openai_stream(["up"])])
    server = servers(lambda r: next(responses))
    reply = await run(openai_tier(server.url))
    assert reply.text == "up" and len(server.requests) == 2


@pytest.mark.parametrize("provider", TIERS)
async def test_rejected_key_names_the_provider_never_the_key(servers, provider: str) -> None:
    # Some providers echo the key back in the error; it must still not reach the user.
    server = servers(lambda r: json_reply(401, {"error": {"message": f"invalid key {KEY}"}}))
    tier = TIERS[provider](server.url)
    reply = await run(tier)
    assert reply.failed is not None and reply.failed.kind == "auth"
    assert tier.label in reply.failed.message and "401" in reply.failed.message
    assert KEY not in reply.failed.message and "****" in reply.failed.message
    assert len(server.requests) == 1  # a bad key is not retried


async def test_missing_key_fails_before_any_request(servers) -> None:
    server = servers(lambda r: openai_stream(["x"]))
    reply = await run(openai_tier(server.url, api_key=None))
    assert reply.failed is not None and "OPENAI_API_KEY" in reply.failed.message
    assert server.requests == []


async def test_connection_refused() -> None:
    reply = await run(openai_tier("http://127.0.0.1:9"))
    assert reply.failed is not None and reply.failed.kind == "network"
    assert "connection refused" in reply.failed.message
    assert reply.usage == Usage() and reply.failed.busy_s == 0.0


async def test_dns_failure() -> None:
    reply = await run(anthropic_tier("http://rung-test.invalid"))
    assert reply.failed is not None
    assert "could not be resolved" in reply.failed.message
    assert "rung-test.invalid" in reply.failed.message


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_failure_then_custom_ca_bundle_works(servers, self_signed) -> None:
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = servers(lambda r: openai_stream(["secure"]), tls=context)
    reply = await run(selfhosted_tier(server.url + "/v1", FAST))
    assert reply.failed is not None and "TLS verification failed" in reply.failed.message
    trusted = HttpOptions(read_timeout=5, ca_bundle=str(cert))
    reply = await run(selfhosted_tier(server.url + "/v1", trusted))
    assert reply.failed is None and reply.text == "secure"


async def test_stall_mid_stream_keeps_the_partial_reply_and_counts_it(servers) -> None:
    server = servers(lambda r: openai_stream(["one ", "two ", "three"], stall_after=2, stall=3))
    tier = openai_tier(server.url, options=HttpOptions(read_timeout=0.5, max_retries=0))
    reply = await run(tier)
    assert reply.text == "one two "
    assert reply.failed is not None and "stalled" in reply.failed.message
    assert reply.usage.estimated and reply.usage.output_tokens >= 2
    assert reply.usage.input_tokens > 0


@pytest.mark.parametrize("provider", TIERS)
async def test_cut_mid_stream_keeps_text_and_counts_usage(servers, provider: str) -> None:
    server = servers(lambda r: STREAMS[provider](["alpha ", "beta ", "gamma"], cut_after=2))
    reply = await run(TIERS[provider](server.url))
    assert reply.text == "alpha beta "
    assert reply.failed is not None and reply.failed.kind == "network"
    assert "cut mid-reply" in reply.failed.message or "ended before" in reply.failed.message
    assert reply.usage.estimated is True and reply.usage.output_tokens >= 2
    if provider == "anthropic":
        # message_start told us the exact input; the estimate keeps it.
        assert reply.usage.input_tokens == 25


async def test_stream_ending_without_finish_is_reported(servers) -> None:
    def handler(r):  # type: ignore[no-untyped-def]
        steps = openai_stream(["half"], done=False)
        return steps[:-1]  # drop the finish_reason chunk too: a clean close mid-reply

    server = servers(handler)
    reply = await run(openai_tier(server.url))
    assert reply.text == "half"
    assert (
        reply.failed is not None and "ended before the reply was complete" in reply.failed.message
    )


async def test_malformed_event(servers) -> None:
    server = servers(
        lambda r: [
            Status(200),
            Send(openai_chunk({"choices": [{"delta": {"content": "ok"}}]})),
            Send(b"data: {not json\n\n"),
        ]
    )
    reply = await run(openai_tier(server.url))
    assert reply.text == "ok"
    assert reply.failed is not None and "malformed event" in reply.failed.message
    assert reply.failed.kind == "protocol"


async def test_error_body_instead_of_an_event_stream(servers) -> None:
    server = servers(lambda r: json_reply(200, {"error": {"message": "model is loading"}}))
    reply = await run(openai_tier(server.url))
    assert reply.failed is not None
    assert "instead of an event stream" in reply.failed.message
    assert "model is loading" in reply.failed.message


async def test_html_error_page(servers) -> None:
    server = servers(
        lambda r: [
            Status(400, content_type="text/html"),
            Send(b"<html><body>Bad gateway config</body></html>"),
        ]
    )
    reply = await run(openai_tier(server.url))
    assert reply.failed is not None and "HTTP 400" in reply.failed.message


async def test_anthropic_error_event_mid_stream(servers) -> None:
    server = servers(
        lambda r: anthropic_stream(
            ["Partial"], error={"type": "overloaded_error", "message": "Overloaded"}
        )
    )
    reply = await run(anthropic_tier(server.url))
    assert reply.text == "Partial"
    assert reply.failed is not None and "Overloaded" in reply.failed.message
    assert reply.failed.retryable


@pytest.mark.parametrize("provider", TIERS)
async def test_cancel_closes_the_stream_at_once(servers, provider: str) -> None:
    def slow(r):  # type: ignore[no-untyped-def]
        steps = STREAMS[provider](["tick "] * 200)  # 20 s if streamed to the end
        out = []
        for step in steps:
            out.append(step)
            if isinstance(step, Send):
                out.append(Sleep(0.1))
        return out

    server = servers(slow)
    tier = TIERS[provider](server.url)
    seen: list[str] = []
    turn: Turn

    def on_event(event: object) -> None:
        if isinstance(event, TextDelta):
            seen.append(event.text)
            if len(seen) == 3:
                turn.cancel()

    turn = Turn(tier, ask(), [on_event])
    started = time.monotonic()
    reply = await asyncio.wait_for(turn.run(), timeout=10)
    await tier.aclose()
    assert time.monotonic() - started < 10  # far from the 20 s the full stream takes
    assert reply.finish_reason == "cancelled" and reply.text == "tick " * 3
    assert reply.usage.output_tokens >= 3  # what was used is counted


# -- key isolation ---------------------------------------------------------------------
ALL_KEYS = {
    "OPENAI_API_KEY": "sk-openai-AAAA1111",
    "ANTHROPIC_API_KEY": "sk-ant-BBBB2222",
    "GEMINI_API_KEY": "gem-CCCC3333",
    "DEEPSEEK_API_KEY": "sk-ds-DDDD4444",
    "MISTRAL_API_KEY": "mis-EEEE5555",
    "OPENROUTER_API_KEY": "sk-or-FFFF6666",
}


@pytest.mark.parametrize(
    "tier_name,own_env",
    [
        ("selfhosted", None),
        ("custom", None),
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("gemini", "GEMINI_API_KEY"),
        ("deepseek", "DEEPSEEK_API_KEY"),
        ("mistral", "MISTRAL_API_KEY"),
        ("openrouter", "OPENROUTER_API_KEY"),
    ],
)
async def test_each_tier_sends_only_its_own_key(
    servers, monkeypatch, tier_name: str, own_env: str | None
) -> None:
    for env, value in ALL_KEYS.items():
        monkeypatch.setenv(env, value)
    streams = {"anthropic": anthropic_stream, "gemini": gemini_stream}
    server = servers(lambda r: streams.get(tier_name, openai_stream)(["ok"]))
    path = "/v1beta" if tier_name == "gemini" else "/v1"
    tier = build_tier(
        tier_name,
        load_config(),
        RungOverrides(tier=tier_name, model="m", base_url=server.url + path),
    )
    reply = await run(tier)  # type: ignore[arg-type]
    assert reply.failed is None, reply.failed
    sent = " ".join(server.requests[0].headers.values()) + server.requests[0].path
    for env, value in ALL_KEYS.items():
        if env == own_env:
            assert value in sent  # the user pointed this provider at this URL
        else:
            assert value not in sent, f"{env} leaked to {tier_name}"


def test_key_goes_only_to_the_providers_own_host() -> None:
    from rung.tiers.providers import allowed_key_for

    assert allowed_key_for("openai", "https://api.openai.com/v1", None)
    assert not allowed_key_for("openai", "https://evil.example.com/v1", None)
    assert allowed_key_for("openai", "https://gw.corp/v1", "https://gw.corp/v1")
    # A hosted provider's key never goes to a local server unless pointed there.
    assert not allowed_key_for("openai", "http://127.0.0.1:8000/v1", None)
    assert not allowed_key_for("anthropic", "https://api.openai.com/v1", None)
    assert not allowed_key_for("nonexistent", "https://api.openai.com/v1", None)


async def test_redirects_are_not_followed(servers) -> None:
    target = servers(lambda r: openai_stream(["stolen"]))
    server = servers(
        lambda r: [Status(307, {"Location": target.url + "/v1/chat/completions"}, "text/plain")]
    )
    reply = await run(openai_tier(server.url))
    assert reply.failed is not None and target.requests == []
    assert "does not follow redirects" in reply.failed.message
    assert target.url in reply.failed.message
    assert reply.usage == Usage()  # a refused redirect is not charged


async def test_retry_after_as_an_http_date(servers) -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    responses = iter([json_reply(429, {"error": "wait"}, {"Retry-After": soon}),
                      openai_stream(["ok"])])  # fmt: skip
    server = servers(lambda r: next(responses))
    reply = await run(openai_tier(server.url))
    assert reply.text == "ok" and len(server.requests) == 2
