"""The user's config at work, a mixin of RungApp: the themes, the keys (and the F1 list
of them), Settings (F6) and its saved config applied at once, and the question about a
configured host that would receive a key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rung.engine.safe_text import for_terminal
from rung.tui.app_engine import AUTO, chat_options
from rung.tui.chat import ChatScreen
from rung.tui.themes import DEFAULT_THEME, builtin_themes, user_themes
from rung.tui.widgets.prompt import PromptInput

if TYPE_CHECKING:
    from rung.engine.config import Config


class ConfigHost:
    """Mixed into RungApp (before App): what the config says, applied."""

    config: Config

    def init_config(self) -> None:
        """Before the first frame: the themes registered and the config's one in use."""
        self.hosts_asked: set[str] = set()  # rungs whose unconfirmed host was asked about
        self.rung_theme_names: set[str] = set()
        self.theme_problems: list[str] = []  # shown when the engine is ready (app_engine.py)
        self.keymap_problems: list[str] = []
        self._register_themes()

    # -- themes --------------------------------------------------------------------
    def _register_themes(self) -> None:
        themes = builtin_themes()
        mine, self.theme_problems = user_themes(self.config.path.parent / "themes")
        for theme in [*themes, *mine]:
            self.register_theme(theme)
            self.rung_theme_names.add(theme.name)
        self.apply_theme_name(self.config.get("ui", "theme"))

    def apply_theme_name(self, name: str) -> None:
        if name in self.rung_theme_names or name in self.available_themes:
            self.theme = name
        else:
            self.theme = DEFAULT_THEME
            self.theme_problems.append(f"Theme {name!r} is not available; using {DEFAULT_THEME}.")

    # -- a configured host that would receive a key ----------------------------------
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

    # -- Settings (F6) and keys (F1) -------------------------------------------------
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
