"""What the settings screen shows of its providers as the form changes: each key's
state, each test's outcome and each provider's place on the ladder, in the provider
list, in each provider's section and in the ladder editor. A mixin of SettingsScreen."""

from __future__ import annotations

from textual.widgets import Checkbox

from rung.engine.config import Config
from rung.tiers.providers import PROVIDERS
from rung.tiers.urls import display_url
from rung.tui.settings_form import API_PROVIDERS, KEYED
from rung.tui.widgets.provider_section import KeyState, ProviderSection, SavedKey, key_state
from rung.tui.widgets.settings_ladder import LadderEditor, place_for
from rung.tui.widgets.settings_provider_list import ProviderList, ProviderRow


class SettingsState:
    """Mixed into SettingsScreen: it provides config, saved, tested and keyring_ok."""

    config: Config
    saved: dict[str, SavedKey]
    tested: dict[str, bool]  # provider: reached by Test connection
    keyring_ok: bool
    # Until mounted, the list and the ladder are drawn from the config, not the form.
    _form_ready = False

    def section(self, name: str) -> ProviderSection:
        return self.query_one(f"#section-{name}", ProviderSection)

    def form_mounted(self) -> None:
        """The form is on screen: from now on it, not the config, says what is shown."""
        self._form_ready = True
        self.refresh_states()

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

    def provider_rows(self) -> list[ProviderRow]:
        """The provider list's rows: each provider's key, test and ladder state."""
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

    def storage_row(self) -> tuple[str, bool]:
        """The Key storage row's text, and whether it is a warning."""
        plaintext = (
            self.query_one("#plaintext-file", Checkbox).value
            if self._form_ready
            else self.config.get("secrets", "plaintext_file")
        )
        if self.keyring_ok:
            return "OS keyring", False
        return ("no keyring: plaintext file" if plaintext else "no keyring!"), not plaintext

    def rung_states(self) -> dict[str, str]:
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
        self.query_one(ProviderList).show_rows(self.provider_rows(), self.storage_row())
        self.query_one(LadderEditor).set_states(self.rung_states())
