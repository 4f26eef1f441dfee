"""Opt-in online price updates. Off by default: Rung makes no network call for prices
unless ``[network] update_prices = true``; then genai-prices refreshes its table in the
background (hourly) and the bundled snapshot stays in use if a fetch fails."""

from __future__ import annotations

from typing import Any

from rung.engine.config import Config


def start_price_updates(config: Config) -> Any | None:
    """Start the background updater if the user opted in; None otherwise."""
    if not config.get("network", "update_prices"):
        return None
    from genai_prices import UpdatePrices

    url = config.get("network", "price_update_url")
    updater = UpdatePrices(url=url) if url else UpdatePrices()
    updater.start()
    return updater


def wait_for_prices(updater: Any, timeout: float) -> str | None:
    """Wait up to ``timeout`` for fresh prices; a message if the update failed."""
    try:
        updater.wait(timeout)
    except Exception as exc:  # any fetch failure: keep the bundled prices
        return f"Price update failed ({type(exc).__name__}: {exc}); using the bundled prices."
    return None
