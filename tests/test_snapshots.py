"""What the screens look like, pinned as snapshots: the chat mid-reply, the settings and
the cost detail. Scripted tiers keep the content fixed; a change to any of these
screens shows up here as a picture to look at (`pytest --snapshot-update` to accept)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

from textual.pilot import Pilot

from rung.engine.config import load_config
from rung.tui.app import RungApp
from tests.conftest import wait_for
from tests.scripted import Script, anthropic, local

REPLY = [
    "Use a **token bucket** per customer:\n\n",
    "```python\ndef allow(bucket, now):\n",
    "    bucket.refill(now)\n    return bucket.take(1)\n```\n\n",
    "Then keep the buckets in Redis so every region ",
]


def chat_app(hold: asyncio.Event | None = None) -> RungApp:
    config = load_config()
    config.set("ladder", "rungs", ["local", "anthropic"])
    config.set("ladder", "mode", "anthropic")
    tiers = {
        "local": local(),
        "anthropic": anthropic(Script(pieces=REPLY, hold=hold), Script(pieces=["Fine."])),
    }
    return RungApp(config, tiers=tiers)  # type: ignore[arg-type]


def steady(app: RungApp) -> None:
    """No blinking cursors: a picture must not depend on the moment it is taken."""
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False  # type: ignore[attr-defined]


def test_chat_screen_mid_reply(snap_compare) -> None:
    hold = asyncio.Event()  # never set: the reply is still streaming in the picture
    app = chat_app(hold)

    async def ask(pilot: Pilot) -> None:
        steady(app)
        await pilot.press(*"How do I rate-limit an API?", "enter")
        items = app.chat.query_one("MessageList").assistant_items
        await wait_for(lambda: "every region" in items()[0].text)
        await asyncio.sleep(0.4)  # the live cost catches up on its next tick
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=ask)


def test_cost_detail_screen(snap_compare) -> None:
    app = chat_app()

    async def two_replies(pilot: Pilot) -> None:
        for question in ("first", "second"):
            await pilot.press(*question, "enter")
            await wait_for(lambda: not app.chat.busy and len(app.chat.replies) >= 1)
        await wait_for(lambda: len(app.chat.replies) == 2 and not app.chat.busy)
        # A fixed clock, so the picture does not change with the time of day.
        meter = app.session.meter
        noon = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
        meter.records[:] = [dataclasses.replace(r, when=noon) for r in meter.records]
        await pilot.press("f7")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 30), run_before=two_replies)


def test_settings_screen(snap_compare) -> None:
    app = chat_app()

    async def open_settings(pilot: Pilot) -> None:
        await pilot.press("f6")
        await pilot.pause()
        steady(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 36), run_before=open_settings)
