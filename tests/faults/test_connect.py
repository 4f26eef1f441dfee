"""Faults before any HTTP answer: refused, slow connect, DNS, TLS, a key no header can
carry. None of them reached the provider, so none of them costs anything."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from rung.tiers.base import Failed, Usage
from rung.tiers.http import HttpOptions
from tests.faults.conftest import (
    FAST,
    KINDS,
    StuckPort,
    canary_key,
    free_port,
    leaked,
    watch,
    works_again,
)


def assert_nothing_charged(outcome, kind, key: str) -> Failed:  # type: ignore[no-untyped-def]
    """One Failed naming the provider, no key, zero usage, zero server time."""
    assert len(outcome.ends) == 1 and isinstance(outcome.ends[0], Failed)
    failed = outcome.ends[0]
    assert kind.label in failed.message
    assert not any(leaked(m, key) for m in outcome.messages)
    assert outcome.reply.usage == Usage() and outcome.reply.text == ""
    assert failed.busy_s == 0.0
    return failed


@pytest.mark.parametrize("kind_name", KINDS)
async def test_connection_refused_then_the_server_comes_up(later_server, kind_name) -> None:
    kind, key, port = KINDS[kind_name], canary_key(), free_port()
    tier = kind.tier(f"http://127.0.0.1:{port}", key)
    try:
        outcome = await watch(tier)
        failed = assert_nothing_charged(outcome, kind, key)
        assert "connection refused" in failed.message and "127.0.0.1" in failed.message
        assert failed.kind == "network" and outcome.elapsed < 1.0
        later_server(lambda r: kind.dialect.stream(["fine"]), port)
        await works_again(tier)
    finally:
        await tier.aclose()


@pytest.mark.parametrize("kind_name", KINDS)
async def test_slow_connect_times_out_then_works(
    later_server, stuck_port: StuckPort, kind_name
) -> None:
    kind, key = KINDS[kind_name], canary_key()
    tier = kind.tier(f"http://127.0.0.1:{stuck_port.port}", key)
    try:
        outcome = await watch(tier)
        failed = assert_nothing_charged(outcome, kind, key)
        assert f"within {FAST.connect_timeout:g}s" in failed.message
        # httpx tries a connection twice; no more.
        assert outcome.elapsed < 3 * FAST.connect_timeout + 0.5
        stuck_port.release()
        later_server(lambda r: kind.dialect.stream(["fine"]), stuck_port.port)
        await works_again(tier)
    finally:
        await tier.aclose()


@pytest.mark.parametrize("kind_name", KINDS)
async def test_unknown_host_costs_nothing(kind_name) -> None:
    kind, key = KINDS[kind_name], canary_key()
    tier = kind.tier("http://rung-faults.invalid", key)
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    failed = assert_nothing_charged(outcome, kind, key)
    assert "could not be resolved" in failed.message and "rung-faults.invalid" in failed.message


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("kind_name", KINDS)
async def test_untrusted_certificate_costs_nothing(servers, self_signed, kind_name) -> None:
    kind, key = KINDS[kind_name], canary_key()
    server = servers(lambda r: kind.dialect.stream(["secret"]), tls=self_signed)
    tier = kind.tier(server.url, key)
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    failed = assert_nothing_charged(outcome, kind, key)
    assert "TLS verification failed" in failed.message
    assert server.requests == []  # the key never went out


@pytest.mark.parametrize("bad", ["\r", "\n", " ", "\t", "\x00", "\u2019"])
@pytest.mark.parametrize("kind_name", KINDS)
async def test_key_with_a_control_character_fails_clearly(servers, kind_name, bad) -> None:
    """A CRLF .env file leaves a \\r on the key: httpx would quote the whole header in its
    error. The tier names the provider and the problem, never the key, and sends nothing."""
    kind = KINDS[kind_name]
    server = servers(lambda r: kind.dialect.stream(["fine"]))
    key = canary_key() + bad
    tier = kind.tier(server.url, key)
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    failed = assert_nothing_charged(outcome, kind, key)
    assert failed.kind == "auth" and "API key contains" in failed.message
    assert server.requests == []


async def test_missing_ca_bundle_names_the_file_and_the_setting(tmp_path: Path) -> None:
    kind, key = KINDS["selfhosted"], canary_key()
    missing = tmp_path / "corp-ca.pem"
    options = HttpOptions(**{**FAST.__dict__, "ca_bundle": str(missing)})
    tier = kind.tier("https://127.0.0.1:9", key, options)
    try:
        outcome = await watch(tier)
        healthy, detail = await tier.health()
        ok, connection = await tier.check_connection()
    finally:
        await tier.aclose()
    failed = assert_nothing_charged(outcome, kind, key)
    assert str(missing) in failed.message and "[selfhosted] ca_bundle" in failed.message
    assert "no such file" in failed.message and failed.kind == "config"
    assert not healthy and "[selfhosted] ca_bundle" in detail
    assert not ok and str(missing) in connection


async def test_ca_bundle_that_is_not_a_certificate(tmp_path: Path) -> None:
    bundle = tmp_path / "notes.txt"
    bundle.write_text("not a certificate\n")
    options = HttpOptions(**{**FAST.__dict__, "ca_bundle": str(bundle)})
    tier = KINDS["selfhosted"].tier("https://127.0.0.1:9", canary_key(), options)
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    assert outcome.reply.failed is not None
    assert str(bundle) in outcome.reply.failed.message
    assert "no PEM certificate" in outcome.reply.failed.message
