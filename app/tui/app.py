"""The Textual application: owns the config, the ladder of rungs, the session, the screens."""

from __future__ import annotations

from textual import work
from textual.app import App
from textual.binding import Binding

from rung.engine.build_tiers import RungOverrides, build_rungs
from rung.engine.config import Config
from rung.engine.ladder import rung_for_tier
from rung.engine.prices_update import start_price_updates, wait_for_prices
from rung.engine.session import Session
from rung.tiers.base import ChatRequest, Tier
from rung.tiers.local import LocalModelError, LocalTier
from rung.tiers.router import Decision, Rung, choose, next_usable
from rung.tui.chat import ChatScreen
from rung.tui.commands import RungCommands
from rung.tui.themes import DEFAULT_THEME, builtin_themes, user_themes

AUTO = "auto"


class RungApp(App[None]):
    TITLE = "Rung"
    COMMANDS = App.COMMANDS | {RungCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("f6", "settings", "Settings", id="settings", priority=True),
    ]

    def __init__(
        self, config: Config, overrides: RungOverrides | None = None, resume: int | None = None
    ) -> None:
        super().__init__()
        self.resume_id = resume
        self.config = config
        self.overrides = overrides or RungOverrides()
        self.rungs: dict[str, Tier] = build_rungs(config, self.overrides)
        self.session = Session(config, "tui")
        self.health: dict[str, bool] = {}
        # A tier named on the command line is pinned; otherwise the config's mode.
        mode = self.overrides.tier or config.get("ladder", "mode")
        self.mode = mode if mode == AUTO or mode in self.rungs else AUTO
        # The rung shown in the status line: the pinned one, or the last one routed to.
        self.active_name = self.mode if self.mode != AUTO else next(iter(self.rungs))
        self.startup_warnings: list[str] = []
        self.rung_theme_names: set[str] = set()
        self._theme_problems: list[str] = []
        self._register_themes()

    # -- themes --------------------------------------------------------------------
    def _register_themes(self) -> None:
        themes = builtin_themes()
        mine, self._theme_problems = user_themes(self.config.path.parent / "themes")
        for theme in [*themes, *mine]:
            self.register_theme(theme)
            self.rung_theme_names.add(theme.name)
        self._apply_theme_name(self.config.get("ui", "theme"))

    def _apply_theme_name(self, name: str) -> None:
        if name in self.rung_theme_names or name in self.available_themes:
            self.theme = name
        else:
            self.theme = DEFAULT_THEME
            self._theme_problems.append(f"Theme {name!r} is not available; using {DEFAULT_THEME}.")

    # -- the ladder -------------------------------------------------------------
    @property
    def active_tier(self) -> Tier:
        return self.rungs[self.active_name]

    @property
    def mode_label(self) -> str:
        return "Auto" if self.mode == AUTO else "Pinned"

    @property
    def names(self) -> list[str]:
        return list(self.rungs)

    def ladder(self) -> list[Rung]:
        return [
            rung_for_tier(tier, self.session, self.health.get(name))
            for name, tier in self.rungs.items()
        ]

    def decide(self, request: ChatRequest) -> Decision:
        """The rung for a new message: the pinned one, or the router's choice."""
        if self.mode != AUTO:
            index = self.names.index(self.mode)
            return Decision(index, self.mode, 0.0, f"pinned: {self.mode}")
        return choose(request, self.ladder(), self.config.get("ladder", "quality"))

    def rung_above(self, name: str) -> str | None:
        """The next usable rung above ``name``, for fallback and escalation."""
        index = next_usable(self.ladder(), self.names.index(name))
        return None if index is None else self.names[index]

    def pin(self, position: int) -> None:
        names = self.names
        if position >= len(names):
            self.notify(
                f"The ladder has {len(names)} rung(s); add more under [ladder] rungs.",
                severity="warning",
            )
            return
        self.mode = self.active_name = names[position]
        self.chat.refresh_status()
        self.check_health()
        self.notify(f"Pinned to {self.mode} ({self.active_tier.model}).")

    def toggle_auto(self) -> None:
        if self.mode == AUTO:
            self.mode = self.active_name
            self.notify(f"Auto off: pinned to {self.mode}.")
        else:
            self.mode = AUTO
            self.notify("Auto on: each message goes to the cheapest rung that fits.")
        self.chat.refresh_status()

    # -- screens and background work -------------------------------------------------
    @property
    def chat(self) -> ChatScreen:
        return self.get_screen("chat")  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.install_screen(ChatScreen(), "chat")
        self.push_screen("chat")
        if self.config.keymap:
            self.set_keymap(self.config.keymap)
        if self.session.store_error:
            self.notify(self.session.store_error, severity="warning")
        for warning in self.startup_warnings:
            self.notify(warning, title="Crash", severity="warning", timeout=30)
        for problem in self.config.problems:
            self.notify(problem, title="Config", severity="warning", timeout=15)
        if self._theme_problems:
            # One notification for all broken themes, not one per file.
            self.notify("\n".join(self._theme_problems), title="Theme", severity="warning",
                        timeout=15)  # fmt: skip
        self.load_local_models()
        self.check_health()
        self.price_updater = start_price_updates(self.config)
        if self.price_updater is not None:
            self.watch_price_updates()
        if self.resume_id is not None:
            self.resume_session(self.resume_id)

    @work(group="prices", thread=True)
    def watch_price_updates(self) -> None:
        problem = wait_for_prices(self.price_updater, 30)
        if problem:
            self.call_from_thread(self.notify, problem, title="Prices", severity="warning")

    @work(group="resume")
    async def resume_session(self, session_id: int) -> None:
        try:
            stored = self.session.resume(session_id)
        except LookupError as exc:
            self.notify(str(exc), title="Resume", severity="error")
            return
        await self.chat.restore(stored)
        self.notify(f"Continuing session #{session_id} ({len(stored)} messages).")

    def action_settings(self) -> None:
        from rung.tui.settings import SettingsScreen

        if not isinstance(self.screen, SettingsScreen):
            self.push_screen(SettingsScreen())

    async def apply_config(self, config: Config) -> None:
        """Use saved settings at once: rungs, prices, budgets, keys, theme."""
        old = self.config
        self.config = config
        local_same = all(
            old.get("local", k) == config.get("local", k)
            for k in ("model_path", "n_ctx", "threads")
        )
        keep = self.rungs.get("local") if local_same else None
        for tier in self.rungs.values():
            if tier is keep:
                continue
            if isinstance(tier, LocalTier):
                tier.close()
            else:
                await tier.aclose()
        self.rungs = build_rungs(config, self.overrides, {"local": keep} if keep else None)
        if keep is not None and keep not in self.rungs.values():
            keep.close()  # local was taken off the ladder
        self.health.clear()
        if self.mode != AUTO and self.mode not in self.rungs:
            self.mode = AUTO
        if self.active_name not in self.rungs:
            self.active_name = self.mode if self.mode != AUTO else next(iter(self.rungs))
        self.session.reload_config(config)
        self.set_keymap(config.keymap)
        self._apply_theme_name(config.get("ui", "theme"))
        self.chat.refresh_status()
        self.chat.refresh_cost()
        if keep is None:
            self.load_local_models()
        self.check_health()

    @work(group="health", exclusive=True)
    async def check_health(self) -> None:
        """Self-hosted endpoints can be down: say so before the user asks anything."""
        for name, tier in self.rungs.items():
            health = getattr(tier, "health", None)
            if health is None:
                continue
            if tier is self.active_tier:
                self.chat.refresh_status("checking endpoint…")
            healthy, detail = await health()
            self.health[name] = healthy
            if tier is self.active_tier:
                self.chat.refresh_status(
                    f"● healthy: {detail}" if healthy else f"✗ unreachable: {detail}"
                )
        if (
            not isinstance(self.active_tier, LocalTier)
            and getattr(self.active_tier, "health", None) is None
        ):
            self.chat.refresh_status("ready")

    @work(group="load")
    async def load_local_models(self) -> None:
        for tier in self.rungs.values():
            if not isinstance(tier, LocalTier):
                continue
            if tier is self.active_tier:
                self.chat.refresh_status("loading model")
            try:
                await tier.load()
            except LocalModelError as exc:
                self.notify(str(exc), title="Local model", severity="error", timeout=30)
                if tier is self.active_tier:
                    self.chat.refresh_status("model failed to load")
                continue
            if tier is self.active_tier:
                self.chat.refresh_status("ready")

    async def on_unmount(self) -> None:
        self.session.close()
        if getattr(self, "price_updater", None) is not None:
            self.price_updater.stop()
        for tier in self.rungs.values():
            if isinstance(tier, LocalTier):
                tier.close()  # joins the worker: exiting mid-load can kill the process
            else:
                await tier.aclose()
