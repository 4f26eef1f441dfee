"""The settings screen: providers and keys, the self-hosted endpoint, the local model,
the ladder and budgets, and the theme.

It edits a copy of the config and dismisses with the saved config (the app applies it)
or None. Keys go to the KeyStore only, never into the config file, and are shown only
masked; what a server said (test results, model ids) is made one safe line first.

This module is the screen itself: its look, its keys and where each event goes. Its
parts are mixins, one purpose each: settings_layout (the tabs), settings_state (what the
list, the sections and the ladder show), settings_local (the Local model tab),
settings_connection (Test connection) and settings_save (checking and saving)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, ContentSwitcher, OptionList, Select

from rung.engine.config import Config, data_dir
from rung.engine.secrets import KeyStore
from rung.tiers.providers import PROVIDERS
from rung.tui.settings_connection import ConnectionTest
from rung.tui.settings_form import KEYED
from rung.tui.settings_layout import SettingsLayout
from rung.tui.settings_local import LocalModelTab
from rung.tui.settings_save import SettingsSave
from rung.tui.settings_state import SettingsState
from rung.tui.widgets.provider_section import ProviderSection, SavedKey, saved_key
from rung.tui.widgets.settings_ladder import LadderEditor
from rung.tui.widgets.settings_provider_list import STORAGE


class SettingsScreen(
    SettingsLayout,
    SettingsState,
    LocalModelTab,
    ConnectionTest,
    SettingsSave,
    ModalScreen["Config | None"],
):
    """Edits a copy of the config; dismisses with the saved config (the app applies it)
    or None when cancelled."""

    @dataclass
    class PreviewTheme(Message):
        """Show this theme now (the app switches; Esc asks for the original back)."""

        theme: str

    # Classes on the screen by size: a short or narrow terminal gets no frame around it.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    SettingsScreen #frame { width: 100%; height: 100%; max-width: 120; max-height: 46;
        border: round $accent; border-title-color: $accent; background: $surface; }
    SettingsScreen.-short #frame, SettingsScreen.-narrow #frame { border: none; }
    SettingsScreen TabbedContent { height: 1fr; }
    SettingsScreen TabbedContent > ContentSwitcher { height: 1fr; }
    SettingsScreen TabPane { height: 1fr; padding: 0; }
    SettingsScreen TabPane > VerticalScroll, SettingsScreen #section-storage { padding: 0 1; }
    SettingsScreen #providers { height: 1fr; }
    SettingsScreen #provider-detail { width: 1fr; height: 1fr; }
    SettingsScreen .field { height: auto; margin-bottom: 1; max-width: 100; }
    SettingsScreen LadderEditor { max-width: 100; }
    SettingsScreen.-short .field { margin-bottom: 0; }
    SettingsScreen .field:focus-within > FieldLabel { color: $accent; }
    /* Compact fields have no border: a tint shows where each one is (in 256 colours too). */
    SettingsScreen Input { background: $foreground 15%; }
    SettingsScreen Input:focus { background: $primary 40%; }
    SettingsScreen Select { width: 1fr; }
    SettingsScreen Select > SelectCurrent { background: $foreground 15%; }
    SettingsScreen Select:focus > SelectCurrent { background: $primary 40%; }
    SettingsScreen Button { min-width: 0; }
    SettingsScreen Button.plain { background: $foreground 20%; }
    SettingsScreen .hint { color: $text-muted; }
    SettingsScreen .intro { color: $text-muted; margin-bottom: 1; }
    SettingsScreen .title { text-style: bold; color: $accent; }
    SettingsScreen .warn { color: $warning; padding: 0 1; }
    SettingsScreen #local-path-field { display: none; }
    SettingsScreen #local-path-field.-shown { display: block; }
    SettingsScreen #buttons { height: 1; padding: 0 1; dock: bottom; }
    SettingsScreen #buttons Button { margin-right: 2; }
    SettingsScreen Horizontal.buttons { height: auto; }
    SettingsScreen Horizontal.buttons Button { margin-right: 2; }
    SettingsScreen #keys-hint { width: 1fr; color: $text-muted; text-align: right; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="settings-save", priority=True),
        Binding("escape", "cancel", "Cancel", id="settings-cancel"),
    ]

    def __init__(self, config: Config, theme_names: set[str], current_theme: str) -> None:
        super().__init__()
        self.config = config
        self.theme_names = set(theme_names)
        self.original_theme = current_theme
        self.keys = KeyStore(data_dir(), config.get("secrets", "plaintext_file"))
        self.keyring_ok, self.keyring_text = self.keys.keyring_status()
        self.saved: dict[str, SavedKey] = {name: saved_key(self.keys, name) for name in KEYED}
        self.tested: dict[str, bool] = {}  # provider: reached by Test connection
        # Calibrate only this many prompts (None: the whole set); a quick look, and tests.
        self.calibration_limit: int | None = None

    def on_mount(self) -> None:
        self.form_mounted()

    # -- interaction ----------------------------------------------------------------------
    @on(OptionList.OptionHighlighted, "#provider-list")
    def _show_provider(self, event: OptionList.OptionHighlighted) -> None:
        self.query_one("#provider-detail", ContentSwitcher).current = f"section-{event.option.id}"

    @on(OptionList.OptionSelected, "#provider-list")
    def _enter_provider(self, event: OptionList.OptionSelected) -> None:
        # Enter on a provider: straight to its first field.
        if event.option.id == STORAGE:
            self.query_one("#plaintext-file", Checkbox).focus()
        else:
            self.section(event.option.id or "").field("key").focus()

    @on(ProviderSection.Edited)
    def _edited(self, event: ProviderSection.Edited) -> None:
        if event.field in ("key", "url"):
            self.tested.pop(event.provider, None)  # the last test says nothing about this
        self.refresh_states(only=event.provider)

    @on(ProviderSection.AddToLadder)
    def _add_to_ladder(self, event: ProviderSection.AddToLadder) -> None:
        where = self.query_one(LadderEditor).add(event.provider)
        label = PROVIDERS[event.provider].label.split(" (")[0]
        self.notify(
            f"{label} is on the ladder, {where}. Reorder it under Ladder & budget.", markup=False
        )
        # The button that was pressed is gone: stay in this provider's form.
        self.section(event.provider).query_one(f"#{event.provider}-test").focus()

    @on(LadderEditor.Changed)
    def _ladder_changed(self) -> None:
        self.refresh_states()

    @on(Checkbox.Changed, "#plaintext-file")
    def _storage_changed(self, event: Checkbox.Changed) -> None:
        # The key file is read only when allowed: what is "saved" changes with the switch.
        self.keys = KeyStore(data_dir(), event.value)
        self.saved = {name: saved_key(self.keys, name) for name in KEYED}
        self.refresh_states()

    @on(Select.Changed, "#local-model")
    def _local_model_changed(self, event: Select.Changed) -> None:
        self.local_model_changed(event.value)

    @on(Button.Pressed, "#calibrate")
    def _calibrate_pressed(self) -> None:
        self.calibrate_picked()

    @on(Button.Pressed, "#get-model")
    def _get_model(self) -> None:
        self.get_model()

    @on(Button.Pressed, "#open-mcp")
    def _mcp_servers(self) -> None:
        from rung.tui.mcp_screen import McpScreen

        # A running agent's servers show their live state (running, failed and why).
        agent = getattr(getattr(self.app, "chat", None), "agent", None)
        live = agent.tools.mcp if agent is not None else None

        def done(mcp: dict[str, object] | None) -> None:
            # The MCP screen wrote [mcp] to the file and to this screen's copy; the app's
            # own config takes it too, so the next agent turn sees it without a restart.
            if mcp is not None:
                self.app.config.raw.update(mcp=mcp)  # type: ignore[attr-defined]

        self.app.push_screen(McpScreen(self.config, Path.cwd(), live), done)

    @on(Select.Changed, "#theme")
    def preview_theme(self, event: Select.Changed) -> None:
        # The blank entry (Select.NULL in this Textual, BLANK in older ones) is no theme.
        if isinstance(event.value, str) and event.value in self.theme_names:
            self.post_message(self.PreviewTheme(event.value))

    @on(Button.Pressed, "#save")
    async def _save_pressed(self) -> None:
        await self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(ProviderSection.TestRequested)
    def _test_requested(self, event: ProviderSection.TestRequested) -> None:
        self.test_connection(event.provider)

    def action_cancel(self) -> None:
        self.post_message(self.PreviewTheme(self.original_theme))  # undo the live preview
        self.dismiss(None)
