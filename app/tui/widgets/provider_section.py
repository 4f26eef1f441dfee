"""One provider's detail in the settings: its key (masked), model (typed or picked from
what the server lists), base URL, Test connection, and the offer to put it on the ladder.

The section is a view: it says what was typed and pressed with messages, and the
settings screen (which knows the whole form) tests the connection and decides about
the ladder, then calls ``show_*`` down."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Select, Static

from rung.engine.config import Config
from rung.engine.safe_text import one_line
from rung.engine.secrets import FoundKey, KeyStore, clean_key, mask
from rung.tiers.providers import PROVIDERS
from rung.tui.widgets.settings_fields import FieldLabel


@dataclass(frozen=True)
class SavedKey:
    """A provider's key as saved (read once per visit: a keyring lookup can be slow)."""

    found: FoundKey | None
    removable: bool  # a saved key exists that Remove can delete (not only $VAR)


def saved_key(keys: KeyStore, provider: str) -> SavedKey:
    found = keys.get(provider)
    env_values: set[str] = set()
    if found is not None and found.source == "environment":
        env_values = {found.raw, found.raw.strip()}
    return SavedKey(found, bool(set(keys.all_values(provider)) - env_values))


@dataclass(frozen=True)
class KeyState:
    """What the screen may say about a provider's key: never the key, at most its mask."""

    short: str  # for the provider list: "key in keyring"
    long: str  # for the detail: "Key sk-…6c5b is in the OS keyring."
    usable: bool  # a key will be sent: saved, from the environment, or typed
    bad: bool  # the key found or typed cannot be used
    removable: bool  # a saved key exists that Remove can delete


def key_state(saved: SavedKey, provider: str, typed: str = "", removing: bool = False) -> KeyState:
    """The state of ``provider``'s key, given what is typed and whether Remove is pending."""
    env = PROVIDERS[provider].env_var
    found, removable = saved.found, saved.removable
    if typed.strip():
        _, problem = clean_key(typed)
        if problem:
            return KeyState(
                "invalid key typed", f"The key you typed {problem}.", False, True, removable
            )
        return KeyState(
            "new key (unsaved)",
            "New key typed: it is saved when you press Ctrl+S.",
            True,
            False,
            removable,
        )
    from_env = found is not None and found.source == "environment"
    if removing:
        still = f" ${env} still applies." if from_env else ""
        return KeyState(
            "key removed on save",
            "The saved key will be removed when you press Ctrl+S." + still,
            from_env,
            False,
            removable,
        )
    if found is None:
        where = f" Paste one below, or set ${env}." if env else " Paste one below."
        return KeyState("no key", "No key yet." + where, False, False, removable)
    if found.problem:
        return KeyState("invalid key", found.problem, False, True, removable)
    shown = mask(found.value)
    if from_env:
        return KeyState(
            f"key from ${env}",
            f"Key {shown} comes from ${env} (it wins over a saved key).",
            True,
            False,
            removable,
        )
    if found.source == "file":
        return KeyState(
            "key in key file", f"Key {shown} is in the plaintext key file.", True, False, removable
        )
    return KeyState("key in keyring", f"Key {shown} is in the OS keyring.", True, False, removable)


def key_status(keys: KeyStore, provider: str) -> str:
    """The saved key's state in words (masked), as the detail shows it."""
    return key_state(saved_key(keys, provider), provider).long


class ProviderSection(VerticalScroll):
    """The fields of one provider (or the self-hosted endpoint)."""

    DEFAULT_CSS = """
    ProviderSection { height: 1fr; padding: 0 1; }
    ProviderSection .title { text-style: bold; color: $accent; }
    ProviderSection .status { color: $text-muted; }
    ProviderSection .intro { color: $text-muted; margin-bottom: 1; }
    ProviderSection .status.bad { color: $error; }
    ProviderSection .controls { height: auto; }
    ProviderSection .controls > Input { width: 1fr; }
    ProviderSection .controls > Button { margin-left: 1; }
    ProviderSection .models { width: 1fr; margin-left: 1; display: none; }
    ProviderSection .models.-filled { display: block; }
    ProviderSection .result { width: 1fr; margin-left: 1; }
    ProviderSection .result.ok { color: $success; }
    ProviderSection .result.bad { color: $error; }
    ProviderSection .offer { height: auto; display: none; margin-top: 1; }
    ProviderSection .offer.-shown { display: block; }
    ProviderSection .offer > Static { color: $text-muted; }
    """

    @dataclass
    class Edited(Message):
        """The key, model or URL changed (a previous test says nothing about it now)."""

        provider: str
        field: str  # "key", "model", "url"

    @dataclass
    class TestRequested(Message):
        provider: str

    @dataclass
    class AddToLadder(Message):
        provider: str

    def __init__(self, name: str, config: Config, *, intro: str = "", focusable: bool = False):
        super().__init__(id=f"section-{name}", can_focus=focusable)
        self.provider = name
        self.config = config
        self.intro = intro
        self.remove_requested = False

    # -- what was typed ---------------------------------------------------------------
    def field(self, name: str) -> Input:
        """The Input for "key", "model" or "url" (to focus one the screen refused)."""
        return self.query_one(f"#{self.provider}-{name}", Input)

    @property
    def typed_key(self) -> str:
        return self.field("key").value.strip()

    @property
    def model(self) -> str:
        return self.field("model").value.strip()

    @property
    def base_url(self) -> str:
        return self.field("url").value.strip()

    # -- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        name, preset = self.provider, PROVIDERS[self.provider]
        selfhosted = preset.kind == "selfhosted"
        if selfhosted:
            url = self.config.get("selfhosted", "base_url")
            model = self.config.get("selfhosted", "model")
        else:
            url = self.config.provider(name).get("base_url", "")
            model = self.config.provider(name).get("model", "")
        yield Static(preset.label, classes="title")
        if self.intro:
            yield Static(self.intro, classes="intro", markup=False)
        parts = {
            "key": self._key_field(),
            "model": self._model_field(model),
            "url": self._url_field(url),
        }
        for part in ("url", "model", "key") if selfhosted else ("key", "model", "url"):
            yield parts[part]
        yield from self.compose_extra()
        with Horizontal(classes="controls"):
            yield Button("Test connection", id=f"{name}-test", variant="primary", compact=True)
            yield Static("", classes="result", id=f"{name}-result", markup=False)
        with Vertical(classes="offer", id=f"{name}-offer"):
            yield Static("", id=f"{name}-offer-text", markup=False)
            yield Button(
                f"Put {preset.label.split(' (')[0]} on the ladder",
                id=f"{name}-add-rung",
                variant="success",
                compact=True,
            )

    def compose_extra(self) -> Iterable[Widget]:
        """More fields before Test connection (the self-hosted endpoint's TLS and cost)."""
        return ()

    def _key_field(self) -> Vertical:
        name = self.provider
        optional = PROVIDERS[name].kind == "selfhosted"
        hint = "optional: only if your server asks for one" if optional else ""
        return Vertical(
            FieldLabel("API key", hint),
            Static("", classes="status", id=f"{name}-key-status", markup=False),
            Horizontal(
                # Masked as typed; Show reveals only what was typed here, never a saved key.
                Input(password=True, id=f"{name}-key", compact=True),
                Button("Show", id=f"{name}-show", compact=True, classes="plain"),
                Button("Remove", id=f"{name}-remove", variant="error", compact=True),
                classes="controls",
            ),
            classes="field",
        )

    def _model_hint(self, listed: int = 0) -> str:
        preset = PROVIDERS[self.provider]
        if preset.default_model:
            hint = f"empty: {preset.default_model}"
        elif preset.kind == "selfhosted":
            hint = "empty: the first model the server lists"
        else:
            hint = "required; Test connection lists the server's models"
        return hint + (f" · or pick one of the {listed} listed" if listed else "")

    def _model_field(self, model: str) -> Vertical:
        name = self.provider
        return Vertical(
            FieldLabel("Model", self._model_hint(), id=f"{name}-model-label"),
            Horizontal(
                Input(value=model, id=f"{name}-model", compact=True),
                # Filled from the server's model list after a successful test.
                Select(
                    [],
                    prompt="pick a listed model",
                    id=f"{name}-models",
                    compact=True,
                    classes="models",
                ),
                classes="controls",
            ),
            classes="field",
        )

    def _url_field(self, url: str) -> Vertical:
        name, preset = self.provider, PROVIDERS[self.provider]
        hint = (
            f"empty: {preset.base_url}"
            if preset.base_url
            else "required: your server's address, e.g. https://host/v1"
        )
        return Vertical(
            FieldLabel("Base URL", hint),
            Input(value=url, id=f"{name}-url", compact=True),
            classes="field",
        )

    # -- what the screen shows here ----------------------------------------------------
    def show_key_state(self, state: KeyState) -> None:
        status = self.query_one(f"#{self.provider}-key-status", Static)
        status.update(state.long)
        status.set_class(state.bad, "bad")
        remove = self.query_one(f"#{self.provider}-remove", Button)
        remove.label = "Undo remove" if self.remove_requested else "Remove"
        remove.disabled = not (state.removable or self.remove_requested)

    def show_testing(self) -> None:
        result = self.query_one(f"#{self.provider}-result", Static)
        result.set_classes("result")
        result.update("testing…")

    def show_result(self, ok: bool, text: str, model_ids: list[str]) -> None:
        """``text`` and ``model_ids`` came from a server: the caller made them one safe line
        each (they are shown without markup either way)."""
        result = self.query_one(f"#{self.provider}-result", Static)
        result.set_classes(f"result {'ok' if ok else 'bad'}")
        result.update(Content(("✓ " if ok else "✗ ") + text))
        picker = self.query_one(f"#{self.provider}-models", Select)
        if model_ids:
            picker.set_options([(Content(one_line(i, 80)), i) for i in model_ids])
        picker.set_class(bool(model_ids), "-filled")
        label = self.query_one(f"#{self.provider}-model-label", FieldLabel)
        label.set_hint(self._model_hint(len(model_ids)))

    def show_ladder(self, text: str, offer: bool) -> None:
        """Where this provider is on the ladder (or would go), and whether to offer it."""
        self.query_one(f"#{self.provider}-offer", Vertical).set_class(bool(text), "-shown")
        self.query_one(f"#{self.provider}-offer-text", Static).update(text)
        self.query_one(f"#{self.provider}-add-rung", Button).display = offer

    # -- what the user did -------------------------------------------------------------
    @on(Input.Changed)
    def _edited(self, event: Input.Changed) -> None:
        field = (event.input.id or "").removeprefix(f"{self.provider}-")
        if field in ("key", "model", "url"):
            event.stop()
            self.post_message(self.Edited(self.provider, field))

    @on(Select.Changed, ".models")
    def _picked(self, event: Select.Changed) -> None:
        event.stop()
        # The blank entry (Select.NULL) is no model: keep what is typed.
        if isinstance(event.value, str):
            self.field("model").value = event.value

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        action = (event.button.id or "").removeprefix(f"{self.provider}-")
        if action not in ("show", "remove", "test", "add-rung"):
            return
        event.stop()
        if action == "show":
            key = self.field("key")
            key.password = not key.password
            event.button.label = "Show" if key.password else "Hide"
        elif action == "remove":
            self.remove_requested = not self.remove_requested
            if self.remove_requested:
                self.field("key").value = ""
            self.post_message(self.Edited(self.provider, "key"))
        elif action == "test":
            self.post_message(self.TestRequested(self.provider))
        else:
            self.post_message(self.AddToLadder(self.provider))
