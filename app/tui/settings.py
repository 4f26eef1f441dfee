"""The settings screen: providers and keys, the self-hosted endpoint, the local model,
the ladder and budgets, and the theme.

It edits a copy of the config and dismisses with the saved config (the app applies it)
or None. Keys go to the KeyStore only, never into the config file, and are shown only
masked; what a server said (test results, model ids) is made one safe line first."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    ContentSwitcher,
    Input,
    OptionList,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from rung.engine.build_tiers import RungOverrides, build_tier
from rung.engine.config import Config, ConfigValueError, data_dir
from rung.engine.gguf_finder import find_gguf_files
from rung.engine.safe_text import one_line
from rung.engine.secrets import KeyStore, NoSafeStorageError, clean_key
from rung.tiers.lessons import FILE_NAME as LESSONS_FILE
from rung.tiers.lessons import summary as lessons_summary
from rung.tiers.local import embedded_model_path
from rung.tiers.providers import PROVIDERS
from rung.tiers.urls import display_url
from rung.tui.widgets.provider_section import (
    KeyState,
    ProviderSection,
    SavedKey,
    key_state,
    saved_key,
)
from rung.tui.widgets.settings_fields import (
    FieldLabel,
    FormField,
    check_field,
    field_widget,
    from_text,
)
from rung.tui.widgets.settings_ladder import LadderEditor, place_for
from rung.tui.widgets.settings_provider_list import STORAGE, ProviderList, ProviderRow

# The order a newcomer looks for them in; a provider added to PROVIDERS later still shows.
_ORDER = ("openai", "anthropic", "gemini", "deepseek", "mistral", "openrouter", "groq", "together")
API_PROVIDERS: tuple[str, ...] = (
    *(n for n in _ORDER if n in PROVIDERS),
    *(n for n, p in PROVIDERS.items() if p.kind == "api" and n not in (*_ORDER, "custom")),
    "custom",
)
KEYED = (*API_PROVIDERS, "selfhosted")  # every section with a key field
CUSTOM_PATH = "__custom__"
MAX_LISTED_MODELS = 500  # a picker, not an index: some providers list hundreds
MAX_MODEL_ID = 200

# Plain config fields, per tab. The form is built from these and saved from these, so a
# field is listed once; its label is also how an error names it.
FIELDS: dict[str, list[FormField]] = {
    "selfhosted": [
        FormField("GPU cost, $ per hour", "gpu-usd-per-hour", "selfhosted", "gpu_usd_per_hour",
                  "each reply is charged its share of the hour"),
        FormField("or effective $ per million tokens", "usd-per-mtok", "selfhosted",
                  "usd_per_mtok", "empty: use the GPU cost"),
        FormField("CA bundle", "ca-bundle", "selfhosted", "ca_bundle",
                  "a PEM file for a private CA; empty: the system's"),
        FormField("Verify the server's TLS certificate", "verify-tls", "selfhosted",
                  "verify_tls", check=True),
    ],
    "local": [
        FormField("Context size (tokens)", "n-ctx", "local", "n_ctx",
                  "default 4096; more remembers longer chats, uses more memory"),
        FormField("Threads", "threads", "local", "threads",
                  "0: the cores other programs leave free, judged before each reply"),
        FormField("Output limit (tokens)", "local-max-tokens", "local", "max_tokens",
                  "default 512; a reply gets the smaller of this and the chat's"),
        FormField("Repeat penalty", "repeat-penalty", "local", "repeat_penalty",
                  "0: the model's own, else 1.1; 1.0 turns it off"),
        FormField("Stop a reply that repeats itself", "repeat-guard", "local",
                  "repeat_guard", check=True),
        FormField("Energy: watts while answering", "energy-watts", "local", "energy_watts",
                  "empty: local replies cost nothing"),
        FormField("Energy: $ per kWh", "energy-usd-per-kwh", "local", "energy_usd_per_kwh",
                  "your electricity price"),
    ],
    "ladder": [
        FormField("Quality dial, 0 to 1", "quality", "ladder", "quality",
                  "0 stays on cheap rungs, 1 climbs sooner (default 0.5)"),
        FormField("Fall back to another rung when one fails", "fallback", "ladder",
                  "fallback", check=True),
        FormField("Session budget, $", "session-usd", "budget", "session_usd",
                  "empty: no limit"),
        FormField("Daily budget, $", "daily-usd", "budget", "daily_usd", "empty: no limit"),
        FormField("Savings compared with: model", "reference-model", "reference", "model",
                  "what each reply would have cost there"),
    ],
    "storage": [
        FormField("Allow a plaintext key file", "plaintext-file", "secrets",
                  "plaintext_file", check=True),
    ],
}  # fmt: skip

REPACKING = [
    ("auto: off on CPUs with AMX (it can crash there), else on", "auto"),
    ("off: never repack (safe, a little slower)", "off"),
    ("on: always repack (llama.cpp's default)", "on"),
]


def looks_like_base_url(url: str) -> bool:
    """Could this be a server's base URL? (Scheme and host; the test says the rest.)"""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class SelfHostedSection(ProviderSection):
    """The self-hosted endpoint: the provider fields plus cost and TLS, then the test."""

    def compose_extra(self) -> Iterable[Widget]:
        return [field_widget(field, self.config) for field in FIELDS["selfhosted"]]


@dataclass
class Problem:
    """A field the screen refuses to save, and the widget to take the user to."""

    message: str
    widget: Widget


# Sets one config value, or notes a Problem: (section, key, value, label, widget).
Put = Callable[[str, str, object, str, Widget], None]


class SettingsScreen(ModalScreen["Config | None"]):
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
        # Until mounted, the list and the ladder are drawn from the config, not the form.
        self._form_ready = False
        # Calibrate only this many prompts (None: the whole set); a quick look, and tests.
        self.calibration_limit: int | None = None

    # -- layout -------------------------------------------------------------------------
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
                    yield from self._local_model_fields()
                    for field in FIELDS["local"]:
                        yield field_widget(field, config)
                with TabPane("Ladder & budget", id="tab-ladder"), VerticalScroll():
                    yield LadderEditor(
                        config.get("ladder", "rungs"),
                        config.get("ladder", "mode"),
                        self._rung_states(),
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
            yield ProviderList(self._rows(), self._storage_row(), id="provider-list")
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

    def _local_model_fields(self) -> ComposeResult:
        current = self.config.get("local", "model_path")
        options = [(label, str(path)) for label, path in find_gguf_files()]
        known = {value for _, value in options}
        options.append(("Another file (type its path below)", CUSTOM_PATH))
        embedded = options[0][1] if options[0][1] != CUSTOM_PATH else CUSTOM_PATH
        selected = current if current in known else (CUSTOM_PATH if current else embedded)
        with Vertical(classes="field"):
            yield FieldLabel("Model", "the embedded one, GGUF files found here, or any file")
            yield Select(options, value=selected, allow_blank=False, id="local-model", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Get a model…", id="get-model", compact=True, classes="plain")
                yield Button("Calibrate", id="calibrate", compact=True, classes="plain")
        path_field = Vertical(
            FieldLabel("GGUF file path"),
            Input(value=current if current not in known else "", id="local-path", compact=True),
            classes="field",
            id="local-path-field",
        )
        path_field.set_class(selected == CUSTOM_PATH, "-shown")
        yield path_field
        with Vertical(classes="field"):
            yield FieldLabel("Weight repacking", "llama.cpp's faster weight layout")
            yield Select(
                REPACKING,
                value=self.config.get("local", "weight_repacking"),
                allow_blank=False,
                id="weight-repacking",
                compact=True,
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

    # -- the state the list, the offers and the ladder show ------------------------------
    def section(self, name: str) -> ProviderSection:
        return self.query_one(f"#section-{name}", ProviderSection)

    def _key_state(self, name: str) -> KeyState:
        if not self._form_ready:
            return key_state(self.saved[name], name)
        section = self.section(name)
        return key_state(self.saved[name], name, section.typed_key, section.remove_requested)

    def _base_url(self, name: str) -> str:
        if self._form_ready:
            return self.section(name).base_url
        if name == "selfhosted":
            return self.config.get("selfhosted", "base_url")
        return self.config.provider(name).get("base_url", "")

    def _rungs(self) -> list[str]:
        if not self._form_ready:
            return list(self.config.get("ladder", "rungs"))
        return list(self.query_one(LadderEditor).rungs)

    def _rows(self) -> list[ProviderRow]:
        rungs = self._rungs()
        rows = []
        for name in API_PROVIDERS:
            state = self._key_state(name)
            reached = self.tested.get(name)
            label = "Custom endpoint" if name == "custom" else PROVIDERS[name].label
            rows.append(
                ProviderRow(
                    name, label, state.short, state.usable, state.bad, name in rungs, reached
                )
            )
        return rows

    def _storage_row(self) -> tuple[str, bool]:
        plaintext = (
            self.query_one("#plaintext-file", Checkbox).value
            if self._form_ready
            else self.config.get("secrets", "plaintext_file")
        )
        if self.keyring_ok:
            return "OS keyring", False
        return ("no keyring: plaintext file" if plaintext else "no keyring!"), not plaintext

    def _rung_states(self) -> dict[str, str]:
        """Each rung's state in a few words, for the ladder's list and its add chooser."""
        states = {"local": "this computer, free"}
        for name in ("selfhosted", *API_PROVIDERS):
            url = self._base_url(name)
            if name == "selfhosted":
                # Never a password or token from the URL on screen (tiers/urls.py).
                text = f"your server at {display_url(url or PROVIDERS[name].base_url)}"
            elif name == "custom" and not url:
                text = "no base URL yet"
            else:
                text = self._key_state(name).short
            reached = self.tested.get(name)
            if reached is not None:
                text += " · reachable" if reached else " · unreachable"
            states[name] = text
        return states

    def _ladder_note(self, name: str) -> tuple[str, bool]:
        """(where ``name`` is on the ladder or would go, whether to offer putting it
        there): offered once it is ready, with a key, a URL or a successful test."""
        rungs = self._rungs()
        if name in rungs:
            at = rungs.index(name) + 1
            return f"On the ladder: rung {at} of {len(rungs)} (order under Ladder & budget).", False
        section = self.section(name)
        reached = self.tested.get(name, False)
        if name == "selfhosted":
            ready = reached or bool(section.base_url)
        else:
            ready = reached or self._key_state(name).usable
            if name == "custom" and not section.base_url:
                ready = False
        if not ready:
            return "", False
        return f"Not on the ladder yet: it would go {place_for(rungs, name)[1]}.", True

    def refresh_states(self, only: str | None = None) -> None:
        """Show the current keys, tests and ladder everywhere they appear."""
        for name in (only,) if only else KEYED:
            section = self.section(name)
            section.show_key_state(self._key_state(name))
        for name in KEYED:
            self.section(name).show_ladder(*self._ladder_note(name))
        self.query_one(ProviderList).show_rows(self._rows(), self._storage_row())
        self.query_one(LadderEditor).set_states(self._rung_states())

    def on_mount(self) -> None:
        self._form_ready = True
        self.refresh_states()

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
        self.query_one("#local-path-field").set_class(event.value == CUSTOM_PATH, "-shown")
        if isinstance(event.value, str) and event.value not in (CUSTOM_PATH, ""):
            self._offer_calibration(Path(event.value))

    def _offer_calibration(self, path: Path) -> None:
        """A model Auto has not measured is routed by a guess from its size: offer to
        measure it now (tiers/competence.py, app/tui/calibrate_screen.py)."""
        from rung.tiers.competence import local_profile
        from rung.tui.calibrate_screen import offer_text
        from rung.tui.confirm import ConfirmScreen

        if path == embedded_model_path() or self.config.get("local", "model_path") == str(path):
            return
        profile = local_profile(path, data_dir())
        if profile.source == "measured":
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.calibrate(path)
                return
            self.notify(
                f"Auto routes {path.name} by a {profile.note}. Calibrate it later here "
                "(Local model → Calibrate) or with `rung calibrate`.",
                title="Not calibrated",
                markup=False,
                timeout=12,
            )

        question = offer_text(path, self.calibration_limit)
        self.app.push_screen(ConfirmScreen(question, yes="Calibrate", no="Later"), answered)

    def _picked_model(self) -> Path | None:
        """The GGUF file the Local model tab shows now (saved or not), or None."""
        choice = self.query_one("#local-model", Select).value
        if choice != CUSTOM_PATH:
            return Path(str(choice)) if isinstance(choice, str) and choice else None
        typed = self.query_one("#local-path", Input).value.strip()
        return Path(typed).expanduser() if typed else None

    @on(Button.Pressed, "#calibrate")
    def _calibrate_pressed(self) -> None:
        path = self._picked_model()
        if path is None or not path.is_file():
            self.notify(
                "Pick a model (or type the path of a .gguf file) to calibrate.",
                severity="error",
                markup=False,
            )
            return
        self.calibrate(path)

    def calibrate(self, path: Path) -> None:
        """Measure ``path`` on the calibration set with a progress bar; a finished run is
        stored where Auto reads it (from the next message on)."""
        from rung.tui.calibrate_screen import Calibrated, CalibrateScreen

        def finished(result: Calibrated | None) -> None:
            if result is None:
                return  # stopped (the screen said so) or failed (it showed why)
            saved = self.config.get("local", "model_path") or str(embedded_model_path())
            when = "" if saved == str(path) else " once it is saved as the local model"
            self.notify(
                f"{result.model}: {result.right}/{result.asked} right "
                f"({result.seconds:.0f} s), stored in {result.stored}. Auto routes it by "
                f"these numbers from the next message{when}.",
                title="Calibrated",
                markup=False,
                timeout=15,
            )

        screen = CalibrateScreen(path, self.config, self.calibration_limit)
        self.app.push_screen(screen, finished)

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

    @on(Button.Pressed, "#get-model")
    def _get_model(self) -> None:
        from rung.engine.model_catalog import this_machine
        from rung.tui.model_pull_screen import GetModelScreen

        def picked(path: Path | None) -> None:
            if path is None:
                return
            select = self.query_one("#local-model", Select)
            options = [(label, str(p)) for label, p in find_gguf_files()]
            select.set_options([*options, ("Another file (type its path below)", CUSTOM_PATH)])
            select.value = str(path)  # pulled into the models folder, which the finder reads
            self.notify(f"{path.name} is picked: Save to use it.", markup=False)

        self.app.push_screen(GetModelScreen(this_machine()), picked)

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

    def test_connection(self, provider: str) -> None:
        """Test one provider; pressing Test again restarts its test, not a second one."""
        self.run_worker(self._test_connection(provider), group=f"test-{provider}",
                        exclusive=True)  # fmt: skip

    async def _test_connection(self, provider: str) -> None:
        """Build the tier from what is on screen (a typed key too) and make the cheapest
        real call: list the models (the self-hosted one: its health check first)."""
        section = self.section(provider)
        section.show_testing()
        config = copy.deepcopy(self.config)
        if provider == "selfhosted":
            config.set("selfhosted", "ca_bundle", self.query_one("#ca-bundle", Input).value.strip())
            config.set("selfhosted", "verify_tls", self.query_one("#verify-tls", Checkbox).value)
        # A URL typed here is the user's choice for this test; one shown unchanged from
        # the config file is not: the tier then applies engine/trusted_hosts.py's rule.
        from rung.engine.trusted_hosts import configured_url

        typed_url = section.base_url if section.base_url != configured_url(config, provider) else ""
        overrides = RungOverrides(
            tier=provider, model=section.model or None, base_url=typed_url or None
        )
        ids: list[str] = []
        try:
            tier = build_tier(provider, config, overrides, api_key=section.typed_key or None)
        except ValueError as exc:
            ok, detail = False, str(exc)
        else:
            try:
                if tier.has_health:
                    ok, detail = await tier.health()
                    detail = f"Connected: {detail}" if ok else detail
                    listed = await tier.list_models() if ok else None
                else:
                    listed = await tier.list_models()
                    ok, detail = listed.ok, listed.message
                if listed is not None and listed.ok:
                    ids = listed.ids[:MAX_LISTED_MODELS]
            finally:
                await tier.aclose()
        # A server chose these words and ids: one safe line each, never markup. An id too
        # long to be a model's is left out rather than cut (a cut id would not work).
        safe_ids = [one_line(i) for i in ids if 0 < len(one_line(i)) <= MAX_MODEL_ID]
        section.show_result(ok, one_line(detail, 300), list(dict.fromkeys(safe_ids)))
        self.tested[provider] = ok
        self.refresh_states(only=provider)

    def action_cancel(self) -> None:
        self.post_message(self.PreviewTheme(self.original_theme))  # undo the live preview
        self.dismiss(None)

    # -- saving -----------------------------------------------------------------------------
    def _trust_typed_urls(self) -> None:
        """A base URL typed here is the user's choice: its provider's key may go to its
        host (engine/trusted_hosts.py). One merely shown here, unchanged from the
        config file, is not confirmed by saving other settings."""
        from rung.engine.trusted_hosts import TrustedHosts, configured_url

        record: TrustedHosts | None = None
        for name in KEYED:
            url = self.section(name).base_url
            if url and url != configured_url(self.config, name):
                record = record or TrustedHosts()
                try:
                    record.trust(name, url)
                except (ValueError, OSError) as exc:
                    self.notify(f"Base URL not confirmed: {exc}", severity="warning",
                                markup=False)  # fmt: skip

    def _collect(self, config: Config) -> list[Problem]:
        """Copy the form into ``config``; return what is wrong, field by field."""
        problems: list[Problem] = []

        def put(section: str, key: str, value: object, label: str, widget: Widget) -> None:
            try:
                config.set(section, key, value)
            except ConfigValueError as exc:
                problems.append(Problem(f"{label}: {exc}", widget))

        for name in KEYED:
            url = self.section(name).base_url
            if url and not looks_like_base_url(url):
                problems.append(
                    Problem(
                        f"{PROVIDERS[name].label}: Base URL: must start with https:// or "
                        f"http:// and name a host, got {url!r}",
                        self.section(name).field("url"),
                    )
                )
        for name in API_PROVIDERS:
            section = self.section(name)
            table = dict(config.providers.get(name, {}))
            for field, value in (("model", section.model), ("base_url", section.base_url)):
                if value:
                    table[field] = value
                else:
                    table.pop(field, None)
            if table:
                config.providers[name] = table
            else:
                config.providers.pop(name, None)
        selfhosted = self.section("selfhosted")
        put(
            "selfhosted",
            "base_url",
            selfhosted.base_url,
            "Self-hosted: Base URL",
            selfhosted.field("url"),
        )
        put(
            "selfhosted", "model", selfhosted.model, "Self-hosted: Model", selfhosted.field("model")
        )
        for fields in FIELDS.values():
            for field in fields:
                if field.check:
                    checkbox = self.query_one(f"#{field.ident}", Checkbox)
                    put(field.section, field.key, checkbox.value, field.label, checkbox)
                    continue
                widget = self.query_one(f"#{field.ident}", Input)
                raw = widget.value.strip()
                problem = check_field(field.section, field.key, raw)
                if problem:
                    problems.append(Problem(f"{field.label}: {problem}", widget))
                else:
                    put(
                        field.section,
                        field.key,
                        from_text(field.section, field.key, raw),
                        field.label,
                        widget,
                    )
        reference = self.query_one("#reference-provider", Select)
        put("reference", "provider", reference.value, "Savings compared with: provider", reference)
        repacking = self.query_one("#weight-repacking", Select)
        put("local", "weight_repacking", repacking.value, "Weight repacking", repacking)
        self._collect_local_model(put, problems)
        self._collect_ladder(put, problems)
        theme = self.query_one("#theme", Select)
        if isinstance(theme.value, str) and theme.value in self.theme_names:
            put("ui", "theme", theme.value, "Theme", theme)
        problems += self._key_problems(config.get("secrets", "plaintext_file"))
        return problems

    def _collect_local_model(self, put: Put, problems: list[Problem]) -> None:
        choice = self.query_one("#local-model", Select)
        if choice.value != CUSTOM_PATH:
            path = str(choice.value)
        else:
            widget = self.query_one("#local-path", Input)
            path = widget.value.strip()
            if not path or not Path(path).expanduser().is_file():
                what = "type the path of a .gguf file" if not path else f"no file at {path}"
                problems.append(Problem(f"Local model: GGUF file path: {what}", widget))
                return
        # The embedded model is the default: stored as "" so an upgrade can move it.
        put(
            "local",
            "model_path",
            "" if path == str(embedded_model_path()) else path,
            "Local model",
            choice,
        )

    def _collect_ladder(self, put: Put, problems: list[Problem]) -> None:
        editor = self.query_one(LadderEditor)
        if "custom" in editor.rungs:
            custom = self.section("custom")
            for field, value in (("Base URL", custom.base_url), ("Model", custom.model)):
                if not value:
                    problems.append(
                        Problem(
                            f"Custom OpenAI-compatible: {field}: needed while it is on the ladder",
                            custom.field("url" if field == "Base URL" else "model"),
                        )
                    )
        put("ladder", "rungs", list(editor.rungs), "Ladder", editor)
        put("ladder", "mode", editor.mode, "Mode", editor.query_one("#mode"))

    def _key_problems(self, plaintext_allowed: bool) -> list[Problem]:
        """Typed keys that could not be saved: checked before anything is written."""
        problems = []
        for name in KEYED:
            section = self.section(name)
            typed = section.typed_key
            if not typed:
                continue
            label = PROVIDERS[name].label
            _, problem = clean_key(typed)
            if problem:
                problems.append(Problem(f"{label}: API key {problem}", section.field("key")))
            elif not self.keyring_ok and not plaintext_allowed:
                env = PROVIDERS[name].env_var
                problems.append(
                    Problem(
                        f"{label}: API key: there is no OS keyring here, so it cannot be saved. "
                        f"Allow the plaintext key file (Providers → Key storage) or set ${env}.",
                        section.field("key"),
                    )
                )
        return problems

    def _go_to(self, widget: Widget) -> None:
        """Show the tab (and provider) holding ``widget``, and focus it."""
        for ancestor in widget.ancestors:
            if isinstance(ancestor, TabPane) and ancestor.id:
                self.query_one(TabbedContent).active = ancestor.id
            if isinstance(ancestor, ProviderSection) and ancestor.provider in API_PROVIDERS:
                providers = self.query_one(ProviderList)
                providers.highlighted = providers.get_option_index(ancestor.provider)
        self.call_after_refresh(widget.focus)

    async def action_save(self) -> None:
        config = copy.deepcopy(self.config)
        problems = self._collect(config)
        if problems:
            self.notify(
                "\n".join(p.message for p in problems),
                title="Not saved",
                severity="error",
                timeout=15,
                markup=False,
            )
            self._go_to(problems[0].widget)
            return
        keys = KeyStore(data_dir(), config.get("secrets", "plaintext_file"))
        stored: list[str] = []
        for name in KEYED:
            section, label = self.section(name), PROVIDERS[name].label
            if section.typed_key:
                try:
                    where = keys.set(name, section.typed_key)
                except (NoSafeStorageError, ValueError) as exc:
                    self.notify(
                        str(exc),
                        title=f"{label} key not saved",
                        severity="error",
                        timeout=20,
                        markup=False,
                    )
                    self._go_to(section.field("key"))
                    return
                stored.append(f"{label} ({where})")
            elif section.remove_requested:
                keys.delete(name)
                stored.append(f"{label} (removed)")
        try:
            config.save()
        except OSError as exc:
            self.notify(f"Could not write {config.path}: {exc}", severity="error", markup=False)
            return
        self._trust_typed_urls()
        message = f"Settings saved to {config.path}."
        if stored:
            message += " Keys: " + ", ".join(stored) + "."
        self.notify(message, markup=False)
        self.dismiss(config)
