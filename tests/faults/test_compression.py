"""Compression bombs: a server declares ``Content-Encoding: gzip, gzip`` (Rung asked
for identity) and sends a few KiB that inflate to 300 MB. httpx stacked a decoder per
coding and inflated each network read whole before Rung's byte bounds saw it: the
reviewer's 3,480 bytes took the process to 4.24 GB. Each path runs in a child process
so its peak memory (ru_maxrss) can be measured alone; the bomb is kept modest so that
the run before the fix did not take the machine down with it.

Run one path by hand: ``python -m tests.faults.test_compression stream openai URL``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import resource
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests.fakes import Request, Send, Status, Step, openai_piece
from tests.faults.conftest import FAST, KINDS, canary_key, leaked

ROOT = Path(__file__).resolve().parents[2]
INFLATED_MB = 300
# The child's peak may grow this much while it handles the bomb (it grew by >300 MB
# before the fix); Python, httpx and the tier are already imported when it is measured.
MAX_GROWTH_MB = 100


def _gzip(chunks: list[bytes] | None = None, data: bytes = b"") -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip wrapper
    out = [packer.compress(c) for c in (chunks or [data])]
    return b"".join(out) + packer.flush()


@functools.cache
def bomb() -> bytes:
    """300 MB of zeros, gzipped twice: 658 bytes on the wire."""
    inner = _gzip([bytes(1024 * 1024)] * INFLATED_MB)
    return _gzip(data=inner)


BOMB_HEADERS = {"Content-Encoding": "gzip, gzip"}


def bomb_server_handler(path: str, kind: str):  # type: ignore[no-untyped-def]
    def handler(r: Request) -> list[Step]:
        if path == "error":
            return [Status(401, BOMB_HEADERS, "application/json"), Send(bomb())]
        if path in ("models", "health", "prices"):
            return [Status(200, BOMB_HEADERS, "application/json"), Send(bomb())]
        if path == "page":
            return [Status(200, BOMB_HEADERS, "text/html"), Send(bomb())]
        return [Status(200, BOMB_HEADERS), Send(bomb())]  # an event stream

    return handler


def run_child(path: str, kind: str, url: str, key: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.faults.test_compression", path, kind, url, key],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


CASES = [
    # (path, kind, what the user reads)
    ("stream", "openai", "OpenAI sent a gzip, gzip-compressed reply"),
    ("stream", "selfhosted", "Self-hosted sent a gzip, gzip-compressed reply"),
    ("stream", "anthropic", "Anthropic sent a gzip, gzip-compressed reply"),
    ("stream", "gemini", "Google Gemini sent a gzip, gzip-compressed reply"),
    ("page", "openai", "OpenAI sent a gzip, gzip-compressed reply"),
    ("error", "openai", "OpenAI rejected the API key (HTTP 401): (gzip, gzip-compressed body"),
    ("error", "anthropic", "Anthropic rejected the API key (HTTP 401): (gzip, gzip-compressed"),
    ("models", "openai", "is gzip, gzip-compressed although Rung asked for an uncompressed"),
    ("health", "selfhosted", "is gzip, gzip-compressed although Rung asked for an uncompressed"),
    # kind: unused; the price table comes from [network] price_update_url.
    ("prices", "openai", "sent a gzip, gzip-compressed table although Rung asked for an"),
]


@pytest.mark.parametrize("path,kind,expected", CASES, ids=[f"{p}-{k}" for p, k, _ in CASES])
def test_a_compression_bomb_is_refused_without_inflating_it(
    servers, path: str, kind: str, expected: str
) -> None:
    key = canary_key()
    bomb()  # built now: building it while the client waits would look like a slow server
    server = servers(bomb_server_handler(path, kind))
    report = run_child(path, kind, server.url, key)
    growth = float(report["growth_mb"])  # type: ignore[arg-type]
    message = str(report["message"])
    assert growth < MAX_GROWTH_MB, f"{growth:.0f} MB for a {len(bomb())}-byte body: {message}"
    assert expected in message, message
    assert not leaked(message, key)
    assert len(server.requests) == 1  # not retried, nothing else asked
    # Rung asked for an uncompressed body on every path (httpx offers gzip by default).
    assert server.requests[0].headers.get("accept-encoding") == "identity"


def test_the_bomb_really_inflates_to_300_mb() -> None:
    """The test above would prove nothing with a dud bomb."""
    inflated = 0
    outer = zlib.decompressobj(31)
    inner = zlib.decompressobj(31)
    data = outer.decompress(bomb())
    while data:
        inflated += len(inner.decompress(data, 16 * 1024 * 1024))
        data = inner.unconsumed_tail
    assert len(bomb()) < 4096 and inflated == INFLATED_MB * 1024 * 1024


async def test_an_identity_reply_still_streams(servers) -> None:
    """Declared identity (or nothing) is read as before."""
    server = servers(
        lambda r: [
            Status(200, {"Content-Encoding": "identity"}),
            Send(openai_piece("fine")),
            *KINDS["openai"].dialect.tail(1),
        ]
    )
    tier = KINDS["openai"].tier(server.url, canary_key())
    try:
        from tests.faults.conftest import watch

        outcome = await watch(tier)
    finally:
        await tier.aclose()
    assert outcome.reply.failed is None and outcome.reply.text == "fine"


# -- the child process --------------------------------------------------------------------
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _prices(url: str) -> str:
    import tempfile

    from rung.engine.config import load_config
    from rung.engine.prices_update import start_price_updates, wait_for_prices

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(f'[network]\nupdate_prices = true\nprice_update_url = "{url}/p.json"\n')
        updater = start_price_updates(load_config(path))
        try:
            return wait_for_prices(updater, 60) or "prices updated"
        finally:
            updater.stop()


async def _child(path: str, kind: str, url: str, key: str) -> str:
    from rung.tiers.openai import SelfHostedTier
    from tests.faults.conftest import watch

    if path == "prices":
        return await asyncio.to_thread(_prices, url)

    if path == "health":
        tier = SelfHostedTier(name="selfhosted", label="Self-hosted", model="",
                              base_url=url + "/v1", api_key=key, options=FAST)  # fmt: skip
    else:
        tier = KINDS[kind].tier(url, key)
    try:
        if path == "models":
            return (await tier.list_models()).message
        if path == "health":
            return (await tier.health())[1]
        outcome = await watch(tier)
        return "\n".join(outcome.messages)
    finally:
        await tier.aclose()


def main(argv: list[str]) -> None:
    path, kind, url, key = argv
    import httpx  # noqa: F401 -- imported before the baseline, like the tier's own imports

    import rung.tiers.openai  # noqa: F401

    before = _peak_mb()
    message = asyncio.run(_child(path, kind, url, key))
    print(json.dumps({"growth_mb": _peak_mb() - before, "message": message}))


if __name__ == "__main__":
    main(sys.argv[1:])
