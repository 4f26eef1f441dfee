"""The Textual application: owns the config, the rungs, and the screens."""

from __future__ import annotations

from textual import work
from textual.app import App
from textual.binding import Binding

from tiers.base import Tier
from tiers.local import LocalModelError, LocalTier

from .chat import ChatScreen
from .config import Config
from .rungs import RungOverrides, build_rungs
from .session import Session


class RungApp(App[None]):
    TITLE = "Rung"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(self, config: Config, overrides: RungOverrides | None = None) -> None:
        super().__init__()
        self.config = config
        self.overrides = overrides or RungOverrides()
        self.rungs: dict[str, Tier] = build_rungs(config, self.overrides)
        self.session = Session(config, "tui")
        self.active_name = self.overrides.tier or next(iter(self.rungs))

    @property
    def active_tier(self) -> Tier:
        return self.rungs[self.active_name]

    @property
    def mode_label(self) -> str:
        return "pinned"

    @property
    def chat(self) -> ChatScreen:
        return self.get_screen("chat")  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.install_screen(ChatScreen(), "chat")
        self.push_screen("chat")
        if self.session.store_error:
            self.notify(self.session.store_error, severity="warning")
        for problem in self.config.problems:
            self.notify(problem, title="Config", severity="warning", timeout=15)
        self.load_local_models()
        self.check_health()

    @work(group="health", exclusive=True)
    async def check_health(self) -> None:
        """Self-hosted endpoints can be down: say so before the user asks anything."""
        tier = self.active_tier
        health = getattr(tier, "health", None)
        if health is None:
            if not isinstance(tier, LocalTier):
                self.chat.refresh_status("ready")
            return
        self.chat.refresh_status("checking endpoint…")
        healthy, detail = await health()
        if tier is self.active_tier:
            self.chat.refresh_status(
                f"● healthy: {detail}" if healthy else f"✗ unreachable: {detail}"
            )

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
        for tier in self.rungs.values():
            if isinstance(tier, LocalTier):
                tier.close()  # joins the worker: exiting mid-load can kill the process
            else:
                await tier.aclose()
