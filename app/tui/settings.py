"""The settings screen: providers and keys, the self-hosted endpoint, the local model,
the ladder and budgets, and the theme. Saving writes the config (never a key), stores
keys in the keyring, and applies everything without a restart."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Input,
    Label,
    Select,
    Static,
    Switch,
    TabbedContent,
    TabPane,
)

from rung.engine.build_tiers import RungOverrides, build_tier, key_store
from rung.engine.config import SCHEMA, Config, ConfigValueError
from rung.engine.gguf_finder import find_gguf_files
from rung.engine.safe_text import for_terminal
from rung.engine.secrets import NoSafeStorageError
from rung.tiers.local import embedded_model_path
from rung.tiers.providers import PROVIDERS
from rung.tui.widgets.provider_section import ProviderSection, key_status

API_PROVIDERS = ("openai", "anthropic", "gemini", "deepseek", "mistral", "openrouter", "custom")
CUSTOM_PATH = "__custom__"

# Plain config fields, per tab: (label, widget id, section, key). A "?" key is a switch.
# The form is built from these and saved from these, so a field is listed once.
FIELDS: dict[str, list[tuple[str, str, str, str]]] = {
    "selfhosted": [
        ("GPU $ per hour", "gpu-usd-per-hour", "selfhosted", "gpu_usd_per_hour"),
        ("or effective $ per Mtok", "usd-per-mtok", "selfhosted", "usd_per_mtok"),
        ("CA bundle (private CA)", "ca-bundle", "selfhosted", "ca_bundle"),
        ("Verify TLS", "verify-tls", "selfhosted", "verify_tls?"),
    ],
    "local": [
        ("Context window (tokens)", "n-ctx", "local", "n_ctx"),
        ("Threads (0 = physical cores)", "threads", "local", "threads"),
        ("Energy: watts while busy", "energy-watts", "local", "energy_watts"),
        ("Energy: $ per kWh", "energy-usd-per-kwh", "local", "energy_usd_per_kwh"),
    ],
    "ladder": [
        ("Quality dial (0 cheap – 1 careful)", "quality", "ladder", "quality"),
        ("Fall back when a rung fails", "fallback", "ladder", "fallback?"),
        ("Session budget $", "session-usd", "budget", "session_usd"),
        ("Daily budget $", "daily-usd", "budget", "daily_usd"),
        ("Reference provider", "reference-provider", "reference", "provider"),
        ("Reference model", "reference-model", "reference", "model"),
    ],
    "providers": [("Plaintext key file (0600)", "plaintext-file", "secrets", "plaintext_file?")],
}


def from_text(section: str, key: str, raw: str) -> Any:
    """An Input's text as the type the config field holds (numbers parsed, money kept as
    text for the config's own Decimal check). Raises ValueError for a bad number."""
    default = SCHEMA[section][key][1]
    if isinstance(default, bool):
        return raw
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


class SettingsScreen(ModalScreen["Config | None"]):
    """Edits a copy of the config; dismisses with the saved config (the app applies it)
    or None when cancelled."""

    @dataclass
    class PreviewTheme(Message):
        """Show this theme now (the app switches; Esc asks for the original back)."""

        theme: str

    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    SettingsScreen > Vertical { width: 96%; height: 94%; border: round $accent;
        background: $surface; }
    SettingsScreen TabbedContent { height: 1fr; }
    SettingsScreen .row { height: auto; }
    SettingsScreen .row Label { width: 26; padding: 1 1 0 0; }
    SettingsScreen .row Input, SettingsScreen .row Select { width: 1fr; }
    SettingsScreen .hint { color: $text-muted; padding: 0 1; }
    SettingsScreen .warn { color: $warning; padding: 0 1; }
    SettingsScreen #buttons { height: auto; dock: bottom; padding: 0 1; }
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

    def compose(self) -> ComposeResult:
        config = self.config
        keys = key_store(config)
        keyring_ok, keyring_text = keys.keyring_status()
        with Vertical():
            with TabbedContent(initial="tab-providers"):
                with TabPane("Providers", id="tab-providers"), VerticalScroll():
                    if keyring_ok:
                        yield Static(f"Keys are stored in the OS keyring ({keyring_text}).",
                                     classes="hint")  # fmt: skip
                    else:
                        yield Static(keyring_text, classes="warn", id="no-keyring")
                    yield from self._fields("providers")
                    yield Static(
                        "Off by default. On: keys go to a file only you can read, in PLAINTEXT, "
                        "when no keyring works. Environment variables always work too.",
                        classes="hint",
                    )
                    for name in API_PROVIDERS:
                        yield ProviderSection(name, config, keys)
                with TabPane("Self-hosted", id="tab-selfhosted"), VerticalScroll():
                    yield Static(
                        "Your own OpenAI-compatible server (vLLM, SGLang, llama-server, TGI). "
                        "See deploy/README.md for an H100 recipe.",
                        classes="hint",
                    )
                    yield ProviderSection("selfhosted", config, keys, selfhosted=True)
                    yield from self._fields("selfhosted")
                with TabPane("Local model", id="tab-local"), VerticalScroll():
                    yield from self._local_model_rows()
                    yield from self._fields("local")
                with TabPane("Ladder & budget", id="tab-ladder"), VerticalScroll():
                    yield from self._row("Ladder, cheapest first", "ladder-rungs",
                                         ", ".join(config.get("ladder", "rungs")))  # fmt: skip
                    yield Static("Names: " + ", ".join(PROVIDERS), classes="hint")
                    yield from self._fields("ladder")
                with TabPane("Appearance", id="tab-appearance"), VerticalScroll():
                    with Horizontal(classes="row"):
                        yield Label("Theme (previews live)")
                        yield Select(
                            [(name, name) for name in sorted(self.theme_names)],
                            value=self.original_theme
                            if self.original_theme in self.theme_names
                            else Select.BLANK,
                            id="theme",
                        )
                    yield Static(
                        f"Your own themes: TOML files in {config.path.parent / 'themes'}",
                        classes="hint",
                    )
            with Horizontal(id="buttons"):
                yield Button("Save (Ctrl+S)", id="save", variant="success")
                yield Button("Cancel (Esc)", id="cancel")

    def _fields(self, tab: str) -> ComposeResult:
        for label, ident, section, key in FIELDS[tab]:
            value = self.config.get(section, key.rstrip("?"))
            if key.endswith("?"):
                with Horizontal(classes="row"):
                    yield Label(label)
                    yield Switch(value, id=ident)
            else:
                yield from self._row(label, ident, value)

    def _row(self, label: str, ident: str, value: Any) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(label)
            yield Input(value="" if value is None else str(value), id=ident)

    def _local_model_rows(self) -> ComposeResult:
        current = self.config.get("local", "model_path")
        options = [(label, str(path)) for label, path in find_gguf_files()]
        known = {value for _, value in options}
        options.append(("Another file (path below)", CUSTOM_PATH))
        embedded = options[0][1] if options and options[0][1] != CUSTOM_PATH else CUSTOM_PATH
        selected = current if current in known else (CUSTOM_PATH if current else embedded)
        with Horizontal(classes="row"):
            yield Label("Model")
            yield Select(options, value=selected, allow_blank=False, id="local-model")
        yield from self._row("GGUF path", "local-path", current if current not in known else "")

    # -- interaction ------------------------------------------------------------------
    @on(Select.Changed, "#theme")
    def preview_theme(self, event: Select.Changed) -> None:
        # The blank entry (Select.NULL in this Textual, BLANK in older ones) is no theme.
        if isinstance(event.value, str) and event.value in self.theme_names:
            self.post_message(self.PreviewTheme(event.value))

    @on(Button.Pressed)
    async def pressed(self, event: Button.Pressed) -> None:
        ident = event.button.id or ""
        if ident == "save":
            await self.action_save()
        elif ident == "cancel":
            self.action_cancel()
        elif ident.endswith("-show"):
            field = self.query_one(f"#{ident[:-5]}-key", Input)
            field.password = not field.password
            event.button.label = "Hide" if not field.password else "Show"
        elif ident.endswith("-remove"):
            provider = ident[: -len("-remove")]
            keys = key_store(self.config)
            keys.delete(provider)
            self.query_one(f"#{provider}-key-status", Static).update(key_status(keys, provider))
            self.notify(f"Removed the stored {PROVIDERS[provider].label} key.")
        elif ident.endswith("-test"):
            self.test_connection(ident[: -len("-test")])

    @work(group="test-connection")
    async def test_connection(self, provider: str) -> None:
        """Build the tier from what is on screen (typed key included) and make the
        cheapest real call."""
        result = self.query_one(f"#{provider}-result", Static)
        result.set_classes("result")
        result.update("testing…")
        typed_key = self.query_one(f"#{provider}-key", Input).value.strip()
        overrides = RungOverrides(
            tier=provider,
            model=self.query_one(f"#{provider}-model", Input).value.strip() or None,
            base_url=self.query_one(f"#{provider}-url", Input).value.strip() or None,
        )
        config = copy.deepcopy(self.config)
        if provider == "selfhosted":
            config.set("selfhosted", "ca_bundle", self.query_one("#ca-bundle", Input).value.strip())
            config.set("selfhosted", "verify_tls", self.query_one("#verify-tls", Switch).value)
        try:
            tier = build_tier(provider, config, overrides, api_key=typed_key or None)
        except ValueError as exc:
            result.update(str(exc))
            result.add_class("bad")
            return
        try:
            if tier.has_health:
                ok, detail = await tier.health()
                detail = f"Connected: {detail}" if ok else detail
            else:
                ok, detail = await tier.check_connection()
        finally:
            await tier.aclose()
        result.update(for_terminal(detail))
        result.add_class("ok" if ok else "bad")

    def action_cancel(self) -> None:
        self.post_message(self.PreviewTheme(self.original_theme))  # undo the live preview
        self.dismiss(None)

    # -- saving -------------------------------------------------------------------------
    def _value(self, ident: str) -> str:
        return self.query_one(f"#{ident}", Input).value.strip()

    def _collect(self, config: Config) -> list[str]:
        """Copy the form into ``config``; return what is wrong, field by field."""
        errors: list[str] = []

        def put(section: str, key: str, raw: Any, label: str) -> None:
            try:
                config.set(section, key, raw)
            except ConfigValueError as exc:
                errors.append(f"{label}: {exc}")

        for name in API_PROVIDERS:
            table = dict(config.providers.get(name, {}))
            for field, ident in (("model", f"{name}-model"), ("base_url", f"{name}-url")):
                value = self._value(ident)
                if value:
                    table[field] = value
                else:
                    table.pop(field, None)
            if table:
                config.providers[name] = table
            else:
                config.providers.pop(name, None)
        put("selfhosted", "base_url", self._value("selfhosted-url"), "Self-hosted URL")
        put("selfhosted", "model", self._value("selfhosted-model"), "Self-hosted model")
        for fields in FIELDS.values():
            for label, ident, section, key in fields:
                if key.endswith("?"):
                    put(section, key[:-1], self.query_one(f"#{ident}", Switch).value, label)
                    continue
                try:
                    value = from_text(section, key, self._value(ident))
                except ValueError:
                    errors.append(f"{label}: {self._value(ident)!r} is not a number")
                    continue
                put(section, key, value, label)
        choice = self.query_one("#local-model", Select).value
        path = self._value("local-path") if choice == CUSTOM_PATH else str(choice)
        # The embedded model is the default: stored as "" so an upgrade can move it.
        put("local", "model_path", "" if path == str(embedded_model_path()) else path, "Model")
        rungs = [r.strip() for r in self._value("ladder-rungs").split(",") if r.strip()]
        unknown = [r for r in rungs if r not in PROVIDERS]
        if unknown or not rungs:
            errors.append(f"Ladder: unknown rung(s) {', '.join(unknown) or '(none given)'}")
        else:
            put("ladder", "rungs", rungs, "Ladder")
        theme = self.query_one("#theme", Select).value
        if isinstance(theme, str) and theme in self.theme_names:
            put("ui", "theme", theme, "Theme")
        return errors

    async def action_save(self) -> None:
        config = copy.deepcopy(self.config)
        errors = self._collect(config)
        if errors:
            self.notify("\n".join(errors), title="Not saved", severity="error", timeout=15)
            return
        try:
            config.save()
        except OSError as exc:
            self.notify(f"Could not write {config.path}: {exc}", severity="error", markup=False)
            return
        keys = key_store(config)
        stored: list[str] = []
        for name in (*API_PROVIDERS, "selfhosted"):
            typed = self.query_one(f"#{name}-key", Input).value.strip()
            if not typed:
                continue
            try:
                where = keys.set(name, typed)
            except (NoSafeStorageError, ValueError) as exc:
                self.notify(str(exc), title=f"{PROVIDERS[name].label} key not saved",
                            severity="error", timeout=20, markup=False)  # fmt: skip
                continue
            stored.append(f"{PROVIDERS[name].label} ({where})")
        message = f"Settings saved to {config.path}."
        if stored:
            message += " Keys stored: " + ", ".join(stored) + "."
        self.notify(message, markup=False)
        self.dismiss(config)
