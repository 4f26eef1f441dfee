"""The key never shows, however a server or an exception writes it; model lists and
health checks are bounded like replies; the self-hosted rung's discovery fails cleanly."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from rung.tiers.base import Usage
from rung.tiers.faults import error_detail
from tests.fakes import Request, Send, Status, Step, json_reply, openai_chunk
from tests.faults.conftest import FAST, KINDS, canary_key, leaked, watch

KEY = "sk-" + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    "key,shown",
    [
        (KEY, KEY),
        (KEY + "\r", KEY + "\r"),  # raw, with the CR of a CRLF .env line
        (KEY + "\r", KEY),  # stripped
        (KEY + "\r", repr(KEY + "\r")),  # repr quotes it with escapes
        (KEY + "\r", str((KEY + "\r").encode())),  # "Illegal header value b'...\\r'"
        (KEY + "\n", json.dumps(KEY + "\n")),  # JSON-escaped
        ("sk-é" + KEY, repr(("sk-é" + KEY).encode())),  # \xc3\xa9 in a bytes repr
        (KEY + "/+", "key=" + KEY + "%2F%2B"),  # URL-quoted
    ],
)
def test_scrub_masks_every_form_of_the_key(key: str, shown: str) -> None:
    tier = KINDS["openai"].tier("http://127.0.0.1:9", key)
    text = tier.scrub(f"Illegal header value {shown} in request")
    assert "0123456789abcdef" not in text and "****" in text


def test_a_key_straddling_the_cut_is_masked_before_it() -> None:
    """The old order (cut at 300, then scrub) showed all but the key's last characters."""
    tier = KINDS["anthropic"].tier("http://127.0.0.1:9", KEY)
    for at in range(270, 301):
        body = json.dumps({"error": {"message": "x" * at + KEY + " rejected"}}).encode()
        detail = error_detail(body, tier.scrub)
        assert not leaked(detail, KEY), at
        assert len(detail) <= 300


def test_a_key_hidden_by_json_escapes_is_masked() -> None:
    tier = KINDS["gemini"].tier("http://127.0.0.1:9", KEY)
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)  # the raw body never spells it
    body = ('{"error": {"message": "bad key ' + escaped + '"}}').encode()
    assert not leaked(error_detail(body, tier.scrub), KEY)


async def test_malformed_event_and_error_event_quote_no_key(servers) -> None:
    key = canary_key()

    def handler(r: Request) -> list[Step]:
        bad = "x" * 100 + r.headers["authorization"].removeprefix("Bearer ") + "{"
        return [Status(200), Send(openai_chunk({"choices": []})), Send(f"data: {bad}\n\n".encode())]

    server = servers(handler)
    tier = KINDS["openai"].tier(server.url, key)
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    assert outcome.reply.failed is not None and "malformed event" in outcome.reply.failed.message
    assert not leaked(outcome.reply.failed.message, key)


# -- model lists and health: bounded like replies -----------------------------------------
def endless_listing(r: Request) -> Iterator[Step]:
    yield Status(200, content_type="application/json")
    yield Send(b'{"data": [')
    while True:
        yield Send(b'{"id": "m"},' * 5000)


async def test_an_endless_model_list_is_cut_at_the_bound(servers) -> None:
    server = servers(endless_listing)
    tier = KINDS["selfhosted"].build(base_url=server.url + "/v1", api_key=None, options=FAST)
    tier.model = ""  # discover it
    started = time.monotonic()
    try:
        healthy, detail = await tier.health()
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    assert not healthy and "larger than 8 MiB" in detail
    assert time.monotonic() - started < 5
    assert outcome.reply.failed is not None and "Self-hosted" in outcome.reply.failed.message
    assert outcome.reply.usage == Usage()  # never asked anything: nothing to charge
    assert server.sent_bytes < 64 * 1024 * 1024


async def test_discovery_failure_is_named_and_costs_nothing(servers) -> None:
    key = canary_key()
    server = servers(lambda r: json_reply(500, {"error": {"message": f"down {key}"}}))
    tier = KINDS["selfhosted"].tier(server.url, key)
    tier.model = ""
    try:
        healthy, detail = await tier.health()
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    assert not healthy and "HTTP 500" in detail and "/models" in detail
    failed = outcome.reply.failed
    assert failed is not None and "Self-hosted" in failed.message and "HTTP 500" in failed.message
    assert outcome.reply.usage == Usage() and failed.busy_s is not None
    assert all(not leaked(m, key) for m in [detail, *outcome.messages])


@pytest.mark.parametrize("kind_name", ["openai", "anthropic", "gemini"])
async def test_check_connection_with_an_echoing_401(servers, kind_name: str) -> None:
    kind, key = KINDS[kind_name], canary_key()
    server = servers(
        lambda r: json_reply(401, kind.dialect.error_body(401, "x" * 290 + key + " is wrong"))
    )
    tier = kind.tier(server.url, key)
    try:
        ok, detail = await tier.check_connection()
    finally:
        await tier.aclose()
    assert not ok and kind.label in detail and "401" in detail
    assert not leaked(detail, key)


@pytest.mark.parametrize(
    ("kind_name", "listing", "ids"),
    [
        ("openai", {"data": [{"id": "gpt-5.5"}, {"id": "gpt-5-mini"}]}, ["gpt-5.5", "gpt-5-mini"]),
        ("anthropic", {"data": [{"id": "claude-opus-4-7", "type": "model"}]}, ["claude-opus-4-7"]),
        ("gemini", {"models": [{"name": "models/gemini-3.1-pro"}]}, ["gemini-3.1-pro"]),
    ],
)
async def test_list_models_gives_the_ids_a_picker_shows(
    servers, kind_name: str, listing: dict, ids: list[str]
) -> None:
    kind = KINDS[kind_name]
    server = servers(lambda r: json_reply(200, listing))
    tier = kind.tier(server.url, canary_key())
    try:
        found = await tier.list_models()
    finally:
        await tier.aclose()
    assert found.ok and found.ids == ids
    assert f"{len(ids)} models listed" in found.message
