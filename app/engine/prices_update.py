"""Opt-in online price updates. Off by default: Rung makes no network call for prices
unless ``[network] update_prices = true``; then genai-prices refreshes its table in the
background (hourly) and the bundled snapshot stays in use if a fetch fails.

The table is downloaded by Rung, not by genai-prices' own fetch, which inflated any
``Content-Encoding`` the server declared and read the body whole with no size limit (a
1 KB gzip bomb became gigabytes). Here: raw bytes, uncompressed only, capped in size and
time, no redirects; then the library's own parser.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rung.engine.config import Config
from rung.tiers.urls import display_url, url_secrets

# genai-prices' whole table is about 1 MiB; a table 16 times that is not a price table.
PRICE_TABLE_LIMIT = 16 * 1024 * 1024
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
# The whole download, however slowly the bytes trickle in.
TOTAL_TIMEOUT_S = 60.0


class PriceUpdateError(Exception):
    """A price table that was not used, and why (never with the URL's credentials)."""


def fetch_table(url: str, limit: int = PRICE_TABLE_LIMIT) -> bytes:
    """The price table's bytes: uncompressed, at most ``limit``, within the timeouts."""
    import httpx

    shown = display_url(url)
    deadline = time.monotonic() + TOTAL_TIMEOUT_S
    data = bytearray()
    try:
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url, headers={"accept-encoding": "identity"}) as response,
        ):
            if response.status_code != 200:
                raise PriceUpdateError(f"{shown} answered HTTP {response.status_code}")
            coding = response.headers.get("content-encoding", "").strip().lower()
            if coding not in ("", "identity"):
                raise PriceUpdateError(
                    f"{shown} sent a {coding[:40]}-compressed table although Rung asked for "
                    "an uncompressed one; Rung does not inflate it"
                )
            for chunk in response.iter_raw():
                data += chunk
                if len(data) > limit:
                    raise PriceUpdateError(f"{shown} sent more than {limit // 2**20} MiB")
                if time.monotonic() > deadline:
                    raise PriceUpdateError(f"{shown} took longer than {TOTAL_TIMEOUT_S:g}s")
    except httpx.HTTPError as exc:
        detail = str(exc)
        for secret in url_secrets(url):
            detail = detail.replace(secret, "****")
        raise PriceUpdateError(f"{shown}: {type(exc).__name__}: {detail[:200]}") from None
    return bytes(data)


def _updater_class() -> type[Any]:
    from genai_prices import UpdatePrices, data_snapshot

    class BoundedUpdatePrices(UpdatePrices):  # type: ignore[misc]
        """genai-prices' updater, with Rung's bounded download."""

        def fetch(self) -> Any:
            raw = json.loads(fetch_table(self.url))
            if not isinstance(raw, list):
                raise PriceUpdateError("the price table is not a list of providers")
            # The parser genai-prices' own fetch uses (it has no public one); pinned by
            # tests/test_prices_update.py.
            from genai_prices.types import _providers_from_raw

            providers = _providers_from_raw(raw)
            return data_snapshot.DataSnapshot(providers, from_auto_update=True)

    return BoundedUpdatePrices


def start_price_updates(config: Config) -> Any | None:
    """Start the background updater if the user opted in; None otherwise."""
    if not config.get("network", "update_prices"):
        return None
    updates = _updater_class()
    url = config.get("network", "price_update_url")
    updater = updates(url=url) if url else updates()
    updater.start()
    return updater


def wait_for_prices(updater: Any, timeout: float) -> str | None:
    """Wait up to ``timeout`` for fresh prices; a message if the update failed."""
    try:
        updater.wait(timeout)
    except Exception as exc:  # any fetch failure: keep the bundled prices
        detail = str(exc)
        for secret in url_secrets(getattr(updater, "url", "") or ""):
            detail = detail.replace(secret, "****")
        return (
            f"Price update failed ({type(exc).__name__}: {detail[:300]}); using the bundled prices."
        )
    return None
