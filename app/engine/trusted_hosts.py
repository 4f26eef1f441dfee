"""Which hosts the user chose to send each provider's key to.

A key goes only to a host the user chose: the provider's built-in default, a
``--base-url`` flag, or a base URL the user confirmed (saved in Settings, accepted in
the chat screen's question, ``rung trust-host``, ``rung ask --trust-base-url``). A base
URL that is merely written in config.toml is not enough: a hostile edit of that file
would otherwise send the next request's key to any host.

The record lives outside the config file, in the data directory (0600 JSON), per
provider, by origin (scheme, host, port: the path does not change where a key goes,
the scheme does). It never holds a URL's credentials. A missing or damaged record
trusts nothing beyond the defaults, so the worst it can do is ask again.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rung.engine.config import Config, data_dir
from rung.tiers.providers import PROVIDERS
from rung.tiers.urls import display_url, origin

FILE_NAME = "trusted_hosts.json"
VERSION = 1


def record_path() -> Path:
    return data_dir() / FILE_NAME


@dataclass(frozen=True)
class HostCheck:
    """A provider's base URL from the config that needs the user's word before a key
    goes there."""

    provider: str
    label: str
    url: str  # as shown: no credentials
    host: str  # the origin the key would go to
    setting: str  # where the URL is written, e.g. "[providers.anthropic] base_url"


class TrustedHosts:
    """The record: provider -> origins the user confirmed."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or record_path()
        self.problem: str | None = None
        self._origins: dict[str, list[str]] = {}
        self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            self.problem = f"{self.path}: {exc.strerror or exc}; confirmed hosts not read"
            return
        try:
            data = json.loads(raw)
            providers = data["providers"]
            self._origins = {
                str(name): [str(o) for o in origins]
                for name, origins in providers.items()
                if isinstance(origins, list)
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            self.problem = f"{self.path} is damaged; Rung will ask again before using those hosts"
            self._origins = {}

    def trusts(self, provider: str, url: str) -> bool:
        host = origin(url)
        return bool(host) and host in self._origins.get(provider, [])

    def trust(self, provider: str, url: str) -> str:
        """Record that ``provider``'s key may go to ``url``'s host; the host recorded."""
        host = origin(url)
        if not host:
            raise ValueError(f"{display_url(url)} has no host")
        known = self._origins.setdefault(provider, [])
        if host not in known:
            known.append(host)
            self._save()
        return host

    def _save(self) -> None:
        """Written whole to a temporary file and renamed, 0600 in a 0700 directory."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps({"version": VERSION, "providers": self._origins}, indent=2)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text + "\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def configured_url(config: Config, provider: str) -> str:
    """The base URL config.toml gives ``provider`` ("" when it uses the default)."""
    if provider == "selfhosted":
        return str(config.get("selfhosted", "base_url") or "")
    return str(config.provider(provider).get("base_url") or "")


def setting_name(provider: str) -> str:
    section = "[selfhosted]" if provider == "selfhosted" else f"[providers.{provider}]"
    return f"{section} base_url"


def is_default_host(provider: str, url: str) -> bool:
    preset = PROVIDERS.get(provider)
    return bool(preset and preset.base_url) and origin(preset.base_url) == origin(url)


def needs_confirmation(
    provider: str, config_url: str, trusted: TrustedHosts | None = None
) -> HostCheck | None:
    """Why ``provider``'s key may not go to ``config_url`` (a base URL read from the
    config file) yet, or None when it may: the built-in default's host, or one the
    user confirmed. The caller decides that a key is at stake at all."""
    if not config_url or is_default_host(provider, config_url):
        return None
    trusted = trusted or TrustedHosts()
    if trusted.trusts(provider, config_url):
        return None
    preset = PROVIDERS[provider]
    return HostCheck(
        provider=provider,
        label=preset.label.split(" (")[0],
        url=display_url(config_url),
        host=origin(config_url) or display_url(config_url),
        setting=setting_name(provider),
    )


def refusal(check: HostCheck, config_path: Path | str) -> str:
    """What a headless command says instead of sending the key."""
    return (
        f"Not sending the {check.label} key to {check.host}: that base URL "
        f"({check.setting} in {config_path}) was not set through Settings, so Rung does "
        f"not know you chose it. If you did, run `rung trust-host {check.provider}` (or "
        f"add --trust-base-url); if you did not, remove it from the config."
    )


def question(check: HostCheck) -> str:
    """The chat screen's yes/no question."""
    return (
        f"Send your {check.label} API key to {check.host}?\n\n"
        f"config.toml sets {check.setting} = {check.url}, and it was not set through "
        "Settings. Answer yes only if you put it there."
    )


def trust_configured(config: Config, provider: str) -> tuple[str | None, str]:
    """Accept the host config.toml names for ``provider``: (the host, or None when
    there was nothing to accept, what to tell the user)."""
    if provider not in PROVIDERS or provider == "local":
        known = ", ".join(p for p in PROVIDERS if p != "local")
        return None, f"Unknown provider {provider!r}. Known: {known}."
    url = configured_url(config, provider)
    label = PROVIDERS[provider].label.split(" (")[0]
    if not url:
        return None, f"{label} has no base URL in {config.path}: it uses its default host."
    if is_default_host(provider, url):
        return None, f"{display_url(url)} is {label}'s own host: nothing to confirm."
    if not origin(url):
        return None, f"{setting_name(provider)} = {display_url(url)} has no host."
    host = TrustedHosts().trust(provider, url)
    return host, f"Rung will send the {label} key to {host} ({setting_name(provider)})."
