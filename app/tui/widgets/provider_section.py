"""One provider's block in the settings: key (masked), model, base URL, test button."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from rung.engine.config import Config
from rung.engine.secrets import KeyStore, mask
from rung.tiers.providers import PROVIDERS


def key_status(keys: KeyStore, provider: str) -> str:
    """What the screen may say about a provider's key: where it is, masked."""
    found = keys.get(provider)
    env = PROVIDERS[provider].env_var
    if found is None:
        return f"no key set ({env} is not set either)" if env else "no key set"
    where = {
        "environment": f"from environment ${env}",
        "keyring": "in the OS keyring",
        "file": "in the plaintext key file",
    }[found.source]
    return f"key {mask(found.value)} — {where}"


class ProviderSection(Vertical):
    DEFAULT_CSS = """
    ProviderSection { height: auto; border: round $panel; padding: 0 1; margin-bottom: 1; }
    ProviderSection Horizontal { height: auto; }
    ProviderSection Input { width: 1fr; }
    ProviderSection .key-status { color: $text-muted; }
    ProviderSection .result { padding: 1 0 0 1; width: 1fr; }
    ProviderSection .result.ok { color: $success; }
    ProviderSection .result.bad { color: $error; }
    """

    def __init__(self, name: str, config: Config, keys: KeyStore, selfhosted: bool = False):
        super().__init__(id=f"section-{name}")
        self.provider = name
        self.config = config
        self.keys = keys
        self.selfhosted = selfhosted
        preset = PROVIDERS[name]
        self.border_title = preset.label

    def compose(self) -> ComposeResult:
        name, preset = self.provider, PROVIDERS[self.provider]
        if self.selfhosted:
            url = self.config.get("selfhosted", "base_url")
            model = self.config.get("selfhosted", "model")
        else:
            url = self.config.provider(name).get("base_url", "")
            model = self.config.provider(name).get("model", "")
        yield Static(key_status(self.keys, name), classes="key-status", id=f"{name}-key-status")
        with Horizontal():
            yield Input(
                placeholder="paste a new key to store it (leave empty to keep)",
                password=True,
                id=f"{name}-key",
            )
            yield Button("Show", id=f"{name}-show")
            yield Button("Remove key", id=f"{name}-remove", variant="error")
        yield Input(
            value=model,
            placeholder=preset.default_model or "model (empty: the first the server lists)",
            id=f"{name}-model",
        )
        yield Input(value=url, placeholder=preset.base_url or "https://…/v1", id=f"{name}-url")
        with Horizontal():
            yield Button("Test connection", id=f"{name}-test", variant="primary")
            yield Static("", classes="result", id=f"{name}-result")
