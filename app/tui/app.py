"""The Textual application: owns the config, the ladder, the session and the conversation
engine, and holds the state the status and cost lines show.

The chat screen is drawn before the engine is built (app_engine.py).

Data flows one way: the engine's events and the screens' messages come up to the app,
which updates its reactive ``status`` and ``cost_view``; the widgets watch those. The
app calls down into the engine (pin, apply settings), never into a screen.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from rung.engine.cost_label import spent_is_estimate
from rung.engine.prices_update import wait_for_prices
from rung.engine.safe_text import for_terminal
from rung.tui import gc_pause
from rung.tui.app_engine import AUTO, EngineHost, chat_options
from rung.tui.chat import ChatScreen
from rung.tui.themes import DEFAULT_THEME, builtin_themes, user_themes
from rung.tui.widgets.meter import CostView
from rung.tui.widgets.prompt import PromptInput
from rung.tui.widgets.status import StatusView

if TYPE_CHECKING:
    from textual.command import Provider

    from rung.engine.build_tiers import RungOverrides
    from rung.engine.config import Config
    from rung.engine.conversation import EngineEvent
    from rung.tiers.base import Tier
    from rung.tui.chat_options import ChatChoice
    from rung.tui.sessions_screen import OpenSession

# Screens other than the chat are imported when first opened, not at start: together
# they were ~80 ms of the time to the first frame (bench/startup.py).


def rung_commands() -> type[Provider]:
    """The palette's Rung commands (Textual accepts a callable that returns a provider)."""
    from rung.tui.commands import RungCommands

    return RungCommands


class RungApp(EngineHost, App[None]):
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
        self.hosts_asked: set[str] = set()  # rungs whose unconfirmed host was asked about
        # The rung shown in the status line: the pinned one, or the last one routed to.
        mode = config.get("ladder", "mode")
        names = self.rung_names
        self.active_name = mode if mode in names else names[0]
        self.rung_theme_names: set[str] = set()
        self._theme_problems: list[str] = []
        self._budget_level = "ok"
        self.price_updater = None
        self.keymap_problems: list[str] = []
        self._routed_at = 0.0  # when the reply in flight was asked for
        self._first_text_at: float | None = None  # when its first text arrived
        self._as_program = False  # run() as the program, not run_test() or embedded
        self._left_loading = False  # quit while a local model was still loading
        # Each rung's last measured speed (tokens/s, time to first token), for the status.
        self._speeds: dict[str, tuple[float | None, float | None]] = {}
        self._register_themes()

    # -- themes --------------------------------------------------------------------
    def _register_themes(self) -> None:
        themes = builtin_themes()
        mine, self._theme_problems = user_themes(self.config.path.parent / "themes")
        for theme in [*themes, *mine]:
            self.register_theme(theme)
            self.rung_theme_names.add(theme.name)
        self.apply_theme_name(self.config.get("ui", "theme"))

    def apply_theme_name(self, name: str) -> None:
        if name in self.rung_theme_names or name in self.available_themes:
            self.theme = name
        else:
            self.theme = DEFAULT_THEME
            self._theme_problems.append(f"Theme {name!r} is not available; using {DEFAULT_THEME}.")

    # -- the ladder: state the status line shows --------------------------------------
    @property
    def active_tier(self) -> Tier:
        return self.ladder.tier(self.active_name)

    @property
    def mode_label(self) -> str:
        return "Auto" if self.ladder.mode == AUTO else "Pinned"

    @property
    def names(self) -> list[str]:
        return list(self.ladder.names)

    def show_status(self, state: str | None = None, **changes: object) -> None:
        """Point the status line at the active rung; ``state`` and speed if given."""
        tier = self.active_tier
        view = dataclasses.replace(
            self.status, mode=self.mode_label, tier=tier.name, model=tier.model,
            **({"state": state} if state is not None else {}), **changes,  # type: ignore[arg-type]
        )  # fmt: skip
        self.status = view

    def show_cost(self, live: object = None) -> None:
        meter = self.session.meter
        budget = self.session.budget_state(live)  # type: ignore[arg-type]
        totals = meter.totals(live)  # type: ignore[arg-type]
        # "~" on the line exactly when a figure in it is an estimate by the same rule as
        # the message header and F7 (GPU-time prices are estimates, see cost_label).
        records = [*meter.records, *([live] if live is not None else [])]
        estimated = spent_is_estimate(r.cost for r in records)  # type: ignore[attr-defined]
        totals = dataclasses.replace(totals, estimated=estimated)
        self.cost_view = CostView(totals, meter.reference_model, live, budget)  # type: ignore[arg-type]
        if budget.level != self._budget_level:
            self._budget_level = budget.level
            if budget.level in ("warn", "over"):
                self.notify(budget.message, title="Budget", timeout=10,
                            severity="warning" if budget.level == "warn" else "error")  # fmt: skip

    def idle_state(self) -> str:
        tier = self.active_tier
        if tier.unusable_reason:
            return tier.unusable_reason
        if tier.needs_loading and not tier.ready:
            return "loading model"
        return "ready"

    def action_pin(self, position: int) -> None:
        names = self.ladder.names
        pinned = self.ladder.pin(position)
        if pinned is None:
            self.notify(
                f"The ladder has {len(names)} rung(s); add more under [ladder] rungs "
                "in Settings (F6).",
                severity="warning",
                markup=False,
            )
            return
        self.active_name = pinned
        self.session.note_pin(pinned)
        self.show_status(self.idle_state(), **self._speed_of(pinned))
        self.check_health()
        model = self.active_tier.model
        self.notify(f"Pinned to {pinned}" + (f" ({model})." if model else "."), markup=False)

    def action_toggle_auto(self) -> None:
        mode = self.ladder.toggle_auto(self.active_name)
        self.session.note_pin(None if mode == AUTO else mode)
        if mode == AUTO:
            self.notify("Auto on: each message goes to the cheapest rung that fits.")
        else:
            self.notify(f"Auto off: pinned to {mode}.", markup=False)
        self.show_status(**self._speed_of(self.active_name))

    def _speed_of(self, name: str) -> dict[str, float | None]:
        """The status line's speed fields for rung ``name``: its own last reply's figures,
        never another rung's (a pin used to keep showing the previous rung's speed)."""
        tokens_per_s, ttft_s = self._speeds.get(name, (None, None))
        return {"tokens_per_s": tokens_per_s, "ttft_s": ttft_s}

    # -- what the engine says ---------------------------------------------------------
    def _on_engine_event(self, event: EngineEvent) -> None:
        from rung.engine.conversation import FallingBack, LiveCost, Recorded, Routed, StoreProblem
        from rung.tiers.base import Notice, TextDelta

        if isinstance(event, TextDelta):
            if self._first_text_at is None:
                self._first_text_at = time.monotonic()
            if self.status.state != "streaming":
                self.show_status("streaming")
            return
        match event:
            case Routed(tier=tier):
                # Time to first token is measured here, from the request to the first
                # text, the same way for a send, a regenerate and an escalation (a tier's
                # own figure said 0.00 s for an answer whose prompt was all cached).
                self._routed_at, self._first_text_at = time.monotonic(), None
                self.active_name = tier
                self.show_status("waiting for first token", tokens_per_s=None, ttft_s=None)
            case LiveCost(record=record):
                self.show_cost(record)
            case Notice(text=text):
                self.notify(for_terminal(text), title=self.active_name, markup=False)
            case FallingBack():
                self.notify(f"{event.notice}.", title="Fallback", severity="warning",
                            markup=False)  # fmt: skip
            case StoreProblem(message=message):
                self.notify(for_terminal(message), severity="warning", markup=False)
            case Recorded(reply=reply, last=last):
                finished = reply.finished
                word = "failed" if reply.failed else reply.finish_reason
                state = {"stop": "ready", "length": "ready"}.get(word, word)
                if last and reply.failed is not None:
                    self.notify(for_terminal(reply.failed.message), title=f"{event.tier} failed",
                                severity="error", markup=False)  # fmt: skip
                first = self._first_text_at
                ttft = first - self._routed_at if first is not None and finished else None
                self._speeds[event.tier] = (
                    finished.output_tokens_per_s if finished else None,
                    ttft,
                )
                if last and self.ladder.mode != AUTO:
                    self.active_name = self.ladder.mode  # the status shows the pin, not the detour
                self.show_status(state, **self._speed_of(self.active_name))
                self.show_cost()

    def on_chat_screen_options_wanted(self) -> None:
        from rung.tui.chat_options import ChatOptionsScreen

        self.push_screen(
            ChatOptionsScreen(self.conversation.options, self.active_tier), self._options_chosen
        )

    def _options_chosen(self, choice: ChatChoice | None) -> None:
        if choice is None:
            return
        self.conversation.options = choice.options
        if choice.model:
            self.ladder.use_model(self.active_name, choice.model)
            self.show_status()
        self.notify("Options set for this conversation.")

    def on_chat_screen_compared(self) -> None:
        self.show_cost()

    def on_chat_screen_new_chat(self) -> None:
        self.show_cost()
        self.show_status(self.idle_state(), tokens_per_s=None, ttft_s=None)

    def on_chat_screen_resumed(self, message: ChatScreen.Resumed) -> None:
        self.show_cost()
        pin = self.session.stored_pin(message.session_id)
        # The conversation's own pin comes back with it, unless this run's --tier chose.
        if pin in self.ladder.names and self.overrides.tier is None and pin != self.ladder.mode:
            self.ladder.mode = self.active_name = pin
            self.show_status(self.idle_state(), **self._speed_of(pin))
            self.check_health()
            pinned = f"; pinned to {pin} as before (F8: Auto)"
        else:
            pinned = ""
        self.session.note_pin(None if self.ladder.mode == AUTO else self.ladder.mode)
        self.notify(
            f"Continuing session #{message.session_id} ({message.count} messages){pinned}.",
            markup=False,
        )

    # -- screens and background work -------------------------------------------------
    @property
    def chat(self) -> ChatScreen:
        return self.get_screen("chat")  # type: ignore[return-value]

    def on_chat_screen_sessions_wanted(self) -> None:
        if self.session.store is None:
            self.notify(self.session.store_error or "History is off.", severity="warning",
                        markup=False)  # fmt: skip
            return
        from rung.tui.sessions_screen import SessionsScreen

        self.push_screen(
            SessionsScreen(self.session.store, self.config, self.session.session_id),
            self._session_chosen,
        )

    async def _session_chosen(self, choice: OpenSession | None) -> None:
        if choice is None or choice.session_id == self.session.session_id:
            return
        if self.conversation.busy:
            self.notify("A reply is still streaming: Esc cancels it.", severity="warning")
            return
        # A fresh chat screen for the chosen conversation; the old one stops listening.
        old = self.chat
        old.detach()
        self.conversation.start_new()
        fresh = ChatScreen(self.conversation, choice.session_id, config=self.config)
        await self.switch_screen(fresh)
        self.uninstall_screen("chat")
        self.install_screen(fresh, "chat")

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

    def confirm_hosts(self) -> None:
        """Ask once for each rung whose key would go to a base URL that config.toml names
        but the user never confirmed (engine/trusted_hosts.py). Yes: the host is recorded
        and the rungs are built again with the key; no: that rung keeps refusing, saying
        why, and nothing is sent."""
        from rung.engine.trusted_hosts import trust_configured
        from rung.tui.confirm import ConfirmScreen

        asked = self.hosts_asked
        pending = [
            (name, tier.host_question)
            for name, tier in self.ladder.built().items()
            if tier.host_question and name not in asked
        ]
        if not pending:
            return
        name, question = pending[0]
        asked.add(name)

        async def answered(yes: bool | None) -> None:
            if yes:
                host, message = trust_configured(self.config, name)
                self.notify(for_terminal(message), markup=False)
                if host:
                    await self.apply_config(self.config)
            self.confirm_hosts()

        self.push_screen(ConfirmScreen(question or "", yes="Send the key", no="Do not send"),
                         answered)  # fmt: skip

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

    def action_settings(self) -> None:
        from rung.tui.settings import SettingsScreen

        if not isinstance(self.screen, SettingsScreen):
            self.push_screen(SettingsScreen(self.config, self.rung_theme_names, self.theme),
                             self._settings_closed)  # fmt: skip

    def apply_keymap(self, keymap: dict[str, str]) -> None:
        """Use the user's keys, and say at once which of them cannot work."""
        self.set_keymap(keymap)
        if not keymap:  # nothing of the user's to check (and no screens to import for it)
            self.keymap_problems = []
            return
        from rung.tui.chat_options import ChatOptionsScreen
        from rung.tui.compare_screen import CompareScreen
        from rung.tui.confirm import ConfirmScreen
        from rung.tui.cost_screen import CostScreen
        from rung.tui.help import HelpScreen
        from rung.tui.keymap import keymap_problems
        from rung.tui.review_screen import ReviewScreen
        from rung.tui.sessions_screen import SessionsScreen
        from rung.tui.settings import SettingsScreen

        screens = (SettingsScreen, HelpScreen, CostScreen, ChatOptionsScreen, ConfirmScreen,
                   CompareScreen, ReviewScreen, SessionsScreen)  # fmt: skip
        others = [screen.BINDINGS for screen in screens]
        self.keymap_problems = keymap_problems(
            keymap, [self.BINDINGS, ChatScreen.BINDINGS], PromptInput.BINDINGS, others
        )
        if self.keymap_problems:
            self.notify("\n".join(self.keymap_problems), title="Keys", severity="warning",
                        timeout=20, markup=False)  # fmt: skip

    def action_help(self) -> None:
        from rung.tui.help import HelpScreen, binding_rows

        self.push_screen(HelpScreen(binding_rows(self), self.keymap_problems))

    def on_settings_screen_preview_theme(self, message: object) -> None:
        self.theme = message.theme  # type: ignore[attr-defined]

    async def _settings_closed(self, config: Config | None) -> None:
        if config is not None:
            await self.apply_config(config)

    async def apply_config(self, config: Config) -> None:
        """Use saved settings at once: rungs, prices, budgets, keys, theme."""
        old = self.config
        self.config = config
        local_same = all(
            old.get("local", k) == config.get("local", k)
            for k in (
                "model_path",
                "n_ctx",
                "threads",
                "max_tokens",
                "repeat_penalty",
                "repeat_guard",
                "weight_repacking",
            )
        )
        built = self.ladder.built()
        keep = built.get("local") if local_same else None
        await self.ladder.aclose(keep=keep)
        previous_mode = self.ladder.mode
        mode_changed = old.get("ladder", "mode") != config.get("ladder", "mode")
        from rung.engine.ladder import Ladder

        self.ladder = Ladder(config, self.overrides, reuse={"local": keep} if keep else None)
        for problem in [*self.ladder.problems, *self.ladder.build_all()]:
            self.notify(for_terminal(problem), severity="warning", markup=False)
        if keep is not None and "local" not in self.ladder.names:
            await keep.aclose()  # local was taken off the ladder
        # A pin made with a key this run survives a save, unless Settings chose a mode.
        if not mode_changed and previous_mode in self.ladder.names:
            self.ladder.mode = previous_mode
        if self.active_name not in self.ladder.names:
            self.active_name = (
                self.ladder.mode if self.ladder.mode != AUTO else self.ladder.names[0]
            )
        self.session.reload_config(config)
        self.session.note_pin(None if self.ladder.mode == AUTO else self.ladder.mode)
        self.conversation.ladder = self.ladder
        self.conversation.options = chat_options(config)
        self.apply_keymap(config.keymap)
        self.apply_theme_name(config.get("ui", "theme"))
        self.refresh_bindings()  # the pin keys follow the new ladder
        self.show_status(self.idle_state())
        self.show_cost()
        if keep is None:
            self.load_local_models()
        self.check_health()

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
