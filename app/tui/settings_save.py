"""Saving the settings: copy the form into a copy of the config, refuse it field by
field with each problem named and the first one shown, then store typed keys in the
KeyStore (never the config file), write the file and trust typed base URLs. A mixin of
SettingsScreen."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.widget import Widget
from textual.widgets import Checkbox, Input, Select, TabbedContent, TabPane

from rung.engine.config import Config, ConfigValueError, data_dir
from rung.engine.secrets import KeyStore, NoSafeStorageError, clean_key
from rung.tiers.local import embedded_model_path
from rung.tiers.providers import PROVIDERS
from rung.tui.settings_form import API_PROVIDERS, CUSTOM_PATH, FIELDS, KEYED, looks_like_base_url
from rung.tui.widgets.provider_section import ProviderSection
from rung.tui.widgets.settings_fields import check_field, from_text
from rung.tui.widgets.settings_ladder import LadderEditor
from rung.tui.widgets.settings_provider_list import ProviderList


@dataclass
class Problem:
    """A field the screen refuses to save, and the widget to take the user to."""

    message: str
    widget: Widget


# Sets one config value, or notes a Problem: (section, key, value, label, widget).
Put = Callable[[str, str, object, str, Widget], None]


class SettingsSave:
    """Mixed into SettingsScreen: it provides config, theme_names, keyring_ok and
    section (from SettingsState)."""

    config: Config
    theme_names: set[str]
    keyring_ok: bool

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
