"""The Textual application: owns the config, the ladder, the session and the conversation
engine, and holds the state the status and cost lines show.

The chat screen is drawn before the engine is built (app_engine.py). The app's parts are
mixins, one module each: the engine's life (app_engine.py), the status and cost lines'
state (app_status.py), the config at work: themes, keys, Settings (app_config.py), and
what the chat screen asks of the app (app_chat.py). This module is the App itself: its
keys, its start and end, and the work it runs in the background.

Data flows one way: the engine's events and the screens' messages come up to the app,
which updates its reactive ``status`` and ``cost_view``; the widgets watch those. The
app calls down into the engine (pin, apply settings), never into a screen.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from rung.engine.prices_update import wait_for_prices
from rung.engine.safe_text import for_terminal
from rung.tui import gc_pause
from rung.tui.app_chat import ChatHost
from rung.tui.app_config import ConfigHost
from rung.tui.app_engine import EngineHost
from rung.tui.app_status import StatusHost
from rung.tui.chat import ChatScreen
from rung.tui.widgets.meter import CostView
from rung.tui.widgets.status import StatusView

if TYPE_CHECKING:
    from textual.command import Provider

    from rung.engine.build_tiers import RungOverrides
    from rung.engine.config import Config
    from rung.tiers.base import Tier

# Screens other than the chat are imported when first opened, not at start: together
# they were ~80 ms of the time to the first frame (bench/startup.py).


def rung_commands() -> type[Provider]:
    """The palette's Rung commands (Textual accepts a callable that returns a provider)."""
    from rung.tui.commands import RungCommands

    return RungCommands


class RungApp(ChatHost, ConfigHost, StatusHost, EngineHost, App[None]):
    TITLE = "Rung"
    COMMANDS = App.COMMANDS | {rung_commands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding(
            "f6",
            "settings",
            "Settings",
            id="settings",
            priority=True,
            tooltip="Providers, keys, ladder, budgets",
        ),
        Binding("f1", "help", "Keys", id="help", tooltip="This list of keys"),
        # Function keys reach the app in every common terminal and inside tmux, where
        # ctrl+digit and many alt chords do not.
        Binding("f2", "pin(0)", "Rung 1", id="pin-rung-1", priority=True),
        Binding("f3", "pin(1)", "Rung 2", id="pin-rung-2", priority=True),
        Binding("f4", "pin(2)", "Rung 3", id="pin-rung-3", priority=True),
        Binding("f5", "pin(3)", "Rung 4", id="pin-rung-4", priority=True),
        Binding(
            "f8",
            "toggle_auto",
            "Auto",
            id="toggle-auto",
            priority=True,
            tooltip="Auto routing on/off",
        ),
    ]

    # Notifications at the top right, over old messages: at the bottom (Textual's place)
    # they covered the status and cost lines for their whole five seconds.
    CSS = """
    ToastRack { dock: top; align: right top; margin-bottom: 0; }
    """

    status: reactive[StatusView] = reactive(StatusView, always_update=False)
    cost_view: reactive[CostView | None] = reactive(None, always_update=False)

    def __init__(
        self,
        config: Config,
        overrides: RungOverrides | None = None,
        resume: int | None = None,
        *,
        tiers: dict[str, Tier] | None = None,
    ) -> None:
        """``tiers``: ready-made tiers for rungs of the ladder (the others are built from
        the config), for embedding Rung's chat screen around other backends."""
        super().__init__()
        self.resume_id = resume
        self.config = config
        # The engine: built after the first frame, or on first use (app_engine.py).
        self.init_engine(overrides, tiers)
        # The rung shown in the status line: the pinned one, or the last one routed to.
        mode = config.get("ladder", "mode")
        names = self.rung_names
        self.active_name = mode if mode in names else names[0]
        self.price_updater = None
        self._as_program = False  # run() as the program, not run_test() or embedded
        self._left_loading = False  # quit while a local model was still loading
        self.init_status()
        self.init_config()  # themes registered last: the config's theme is applied

    # -- start ---------------------------------------------------------------------
    def on_mount(self) -> None:
        self.apply_keymap(self.config.keymap)  # before the chat screen: its keys drawn once
        engine = self._conversation  # given built (tests, embedding) or None
        self.install_screen(ChatScreen(engine, self.resume_id, config=self.config), "chat")
        self.push_screen("chat")
        if self.engine_built:  # built already (a test or an embedding read app.ladder)
            self._engine_ready()
            return
        # The first frame: the rung and mode from the config, until the engine says more.
        mode = self.config.get("ladder", "mode")
        pinned = (self.overrides is not None and self.overrides.tier) or mode in self.rung_names
        self.status = self._first_status = StatusView(
            mode="Pinned" if pinned else "Auto",
            tier=self.active_name, model="…", state="starting",
        )  # fmt: skip
        # The chat screen starts the engine once it is drawn (ChatScreen.on_mount): its
        # imports compete with drawing it.

    # -- background work -----------------------------------------------------------
    @work(group="warm-up", thread=True)
    def warm_up(self) -> None:
        """Import what the first reply needs while the user types, off the event loop:
        the router (its signals, competence, the task kinds: ~40 ms of regexes, imported
        on first use since the ladder no longer loads them at start), one attempt's
        turn, the Markdown view, and the price tables the live meter reads with the first
        token (imported on the event loop they held the first reply back ~140 ms)."""
        import rung.tiers.competence
        import rung.tiers.route_cost
        import rung.tiers.router
        import rung.tiers.task_kind
        import rung.tiers.turn  # noqa: F401
        from rung.tiers.pricing import load_price_tables
        from rung.tui.widgets.messages_item import markdown_widget

        markdown_widget()
        load_price_tables()

    @work(group="prices", thread=True)
    def watch_price_updates(self) -> None:
        problem = wait_for_prices(self.price_updater, 30)
        if problem:
            self.call_from_thread(self.notify, problem, title="Prices", severity="warning",
                                  markup=False)  # fmt: skip

    @work(group="health", exclusive=True)
    async def check_health(self) -> None:
        """Self-hosted endpoints can be down: say so before the user asks anything."""
        for name, tier in list(self.ladder.built().items()):
            if not tier.has_health:
                continue
            if tier is self.active_tier:
                self.show_status("checking endpoint…")
            healthy, detail = await tier.health()
            self.ladder.health[name] = healthy
            if tier is self.active_tier:
                self.show_status(f"● healthy: {detail}" if healthy else f"✗ unreachable: {detail}")

    @work(group="load")
    async def load_local_models(self) -> None:
        from rung.tiers.base import TierLoadError

        for tier in list(self.ladder.built().values()):
            if not tier.needs_loading:
                continue
            try:
                await tier.load()
            except TierLoadError as exc:
                self.notify(for_terminal(str(exc)), title="Local model", severity="error",
                            timeout=30, markup=False)  # fmt: skip
                if tier is self.active_tier:
                    self.show_status("model failed to load")
                continue
            if tier is self.active_tier and self.status.state == "loading model":
                self.show_status("ready")

    # -- the program's end ---------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> None:
        """Run the chat as the program (what `rung` does): its end is the program's end.

        Quitting used to take 3x a bare Textual app's time (bench/startup.py): the
        interpreter's teardown collected the whole heap, and a model still loading was
        waited for (by the worker's join, and by asyncio.run's end, which joins the
        executor threads: the warm-up's imports among them). Now the teardown skips
        garbage collection, and when llama.cpp is still loading on its thread (a quick
        Ctrl+Q after start) the process ends as soon as the terminal is restored and the
        history is written and closed: an interpreter finalizing around llama.cpp
        mid-load can crash, an ended process cannot."""
        # Headless runs (snapshots, scripts) are not the program's end.
        self._as_program = not kwargs.get("headless", False)
        if self._as_program:
            atexit.register(gc_pause.at_exit)
        return super().run(*args, **kwargs)

    async def run_async(self, *args: Any, **kwargs: Any) -> None:
        result = await super().run_async(*args, **kwargs)
        if self._left_loading:  # the terminal is back, the history closed: see run()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(self.return_code or 0)
        return result

    async def on_unmount(self) -> None:
        if self._ladder is None or self._session is None:
            # Quit before the engine was built: nothing to write, no model to stop.
            if self._session is not None:
                self._session.close()
            return
        self.session.close()  # the history is written and closed first, always
        if self.price_updater is not None:
            self.price_updater.stop()
        loading = [
            tier
            for tier in self.ladder.built().values()
            if tier.needs_loading and not tier.ready and tier.unusable_reason is None
        ]
        if self._as_program and len(loading) == 1:
            # Not waited for: run() ends the process without a teardown (see there).
            self._left_loading = True
            await self.ladder.aclose(keep=loading[0])
            return
        # Joins the local worker: an interpreter that goes on (tests, embedding) or
        # finalizes while llama.cpp is loading can be killed.
        await self.ladder.aclose()
