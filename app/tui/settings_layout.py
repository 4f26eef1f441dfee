"""The settings screen's layout: its tabs (Providers, Self-hosted, Local model, Ladder &
budget, Appearance, MCP) and the fields in each, drawn from the config. A mixin of
SettingsScreen; what the fields do when edited is the screen's."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, ContentSwitcher, Select, Static, TabbedContent, TabPane

from rung.engine.config import Config, data_dir
from rung.tiers.lessons import FILE_NAME as LESSONS_FILE
from rung.tiers.lessons_store import summary as lessons_summary
from rung.tiers.providers import PROVIDERS
from rung.tui.settings_form import API_PROVIDERS, FIELDS, KEYED
from rung.tui.widgets.provider_section import ProviderSection
from rung.tui.widgets.settings_fields import FieldLabel, field_widget
from rung.tui.widgets.settings_ladder import LadderEditor
from rung.tui.widgets.settings_provider_list import STORAGE, ProviderList


class SelfHostedSection(ProviderSection):
    """The self-hosted endpoint: the provider fields plus cost and TLS, then the test."""

    def compose_extra(self) -> Iterable[Widget]:
        return [field_widget(field, self.config) for field in FIELDS["selfhosted"]]


class SettingsLayout:
    """Mixed into SettingsScreen: it provides config, theme_names, original_theme and
    keyring_ok/keyring_text, and (from the other mixins) the rows, states and the Local
    model tab's fields."""

    config: Config
    theme_names: set[str]
    original_theme: str
    keyring_ok: bool
    keyring_text: str

    def compose(self) -> ComposeResult:
        config = self.config
        frame = Vertical(id="frame")
        frame.border_title = "Settings"
        with frame:
            with TabbedContent(initial="tab-providers"):
                with TabPane("Providers", id="tab-providers"):
                    yield from self._providers_tab()
                with TabPane("Self-hosted", id="tab-selfhosted"):
                    yield SelfHostedSection(
                        "selfhosted",
                        config,
                        intro="Your own OpenAI-compatible server (TGI works too); "
                        "deploy/README.md has a recipe for one H100.",
                        focusable=True,
                    )
                with TabPane("Local model", id="tab-local"), VerticalScroll():
                    yield Static(
                        "The model on this computer (llama.cpp): free and private, the bottom "
                        "rung of most ladders.",
                        classes="intro",
                    )
                    yield from self.local_model_fields()
                    for field in FIELDS["local"]:
                        yield field_widget(field, config)
                with TabPane("Ladder & budget", id="tab-ladder"), VerticalScroll():
                    yield LadderEditor(
                        config.get("ladder", "rungs"),
                        config.get("ladder", "mode"),
                        self.rung_states(),
                        id="ladder-editor",
                    )
                    yield from self._ladder_fields()
                    # Read only: what the router learned from F9 (`rung route --forget`).
                    yield Static(lessons_summary(data_dir() / LESSONS_FILE), classes="hint",
                                 markup=False, id="lessons")  # fmt: skip
                with TabPane("Appearance", id="tab-appearance"), VerticalScroll():
                    with Vertical(classes="field"):
                        yield FieldLabel("Theme", "previewed as you pick; Esc undoes it")
                        yield Select(
                            [(name, name) for name in sorted(self.theme_names)],
                            value=self.original_theme
                            if self.original_theme in self.theme_names
                            else Select.NULL,
                            prompt="choose a theme",
                            id="theme",
                            compact=True,
                        )
                    yield Static(
                        f"Your own themes: TOML files in {config.path.parent / 'themes'}",
                        classes="hint",
                        markup=False,
                    )
                with TabPane("MCP", id="tab-mcp"), VerticalScroll():
                    yield Static(
                        "MCP servers (stdio programs or HTTP endpoints) whose tools the agent "
                        "can call, under the same permission rules as its own tools "
                        "(mcp:SERVER/TOOL). `rung mcp list` shows them headless.",
                        classes="intro",
                        markup=False,
                    )
                    yield Button("MCP servers…", id="open-mcp", compact=True, classes="plain")
            with Horizontal(id="buttons"):
                yield Button("Save  Ctrl+S", id="save", variant="success", compact=True)
                yield Button("Cancel  Esc", id="cancel", compact=True, classes="plain")
                yield Static("Tab: next field · ←→ on the tabs: next tab", id="keys-hint")

    def _providers_tab(self) -> ComposeResult:
        if not self.keyring_ok:
            yield Static(
                "No OS keyring here: keys can be saved only in a plaintext file (Key storage).",
                classes="warn",
                id="no-keyring",
            )
        with Horizontal(id="providers"):
            yield ProviderList(self.provider_rows(), self.storage_row(), id="provider-list")
            with ContentSwitcher(initial=f"section-{API_PROVIDERS[0]}", id="provider-detail"):
                for name in API_PROVIDERS:
                    yield ProviderSection(name, self.config)
                with VerticalScroll(id=f"section-{STORAGE}", can_focus=False):
                    yield from self._storage_fields()

    def _storage_fields(self) -> ComposeResult:
        yield Static("Key storage", classes="title")
        if self.keyring_ok:
            text = (
                f"Keys you enter are saved in the OS keyring ({self.keyring_text}), never "
                "in the config file."
            )
        else:
            text = self.keyring_text
        yield Static(text, classes="intro", markup=False)
        for field in FIELDS["storage"]:
            yield field_widget(field, self.config)
        yield Static(
            f"Off by default. On: keys go to {data_dir() / 'keys.toml'}, readable only by "
            "you, in PLAINTEXT, and only when no keyring works.",
            classes="intro",
            markup=False,
        )
        env_vars = "\n".join(
            f"  {PROVIDERS[n].label}: ${PROVIDERS[n].env_var}"
            for n in KEYED
            if PROVIDERS[n].env_var
        )
        yield Static(
            "Environment variables always work, and win over a saved key:\n" + env_vars,
            classes="hint",
            markup=False,
        )

    def _ladder_fields(self) -> ComposeResult:
        fields = FIELDS["ladder"]
        for field in fields[:-1]:
            yield field_widget(field, self.config)
        reference = self.config.get("reference", "provider")
        priced = [n for n, p in PROVIDERS.items() if p.price_id]
        if reference not in priced:
            priced.append(reference)
        with Vertical(classes="field"):
            yield FieldLabel("Savings compared with: provider")
            yield Select(
                [(n, n) for n in priced],
                value=reference,
                allow_blank=False,
                id="reference-provider",
                compact=True,
            )
        yield field_widget(fields[-1], self.config)
