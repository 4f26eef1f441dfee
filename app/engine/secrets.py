"""API keys: the OS keyring first choice, environment variables, and an opt-in file.

Lookup order for a provider: its environment variable (a per-run override), then the
keyring (service ``rung``), then — only if the user opted in — a 0600 plaintext file
in the data directory. A key is never written to the config file, and never written
in plaintext unless the user asked for exactly that.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import keyring
import keyring.errors
import tomli_w

from rung.tiers.providers import PROVIDERS

SERVICE = "rung"
KEYS_FILE = "keys.toml"


@dataclass(frozen=True)
class FoundKey:
    value: str
    source: str  # "environment", "keyring", "file"


def mask(key: str) -> str:
    """What the screen may show of a key: its prefix and last four characters."""
    if len(key) <= 8:
        return "•" * len(key)
    return f"{key[:3]}…{key[-4:]}"


class NoSafeStorageError(RuntimeError):
    """No keyring backend works here and the user has not opted in to a plaintext file."""


class KeyStore:
    def __init__(self, data_dir: Path, allow_plaintext_file: bool = False) -> None:
        self.file = data_dir / KEYS_FILE
        self.allow_plaintext_file = allow_plaintext_file

    # -- what is available --------------------------------------------------------
    def keyring_status(self) -> tuple[bool, str]:
        """(usable, description) of the OS keyring on this machine."""
        backend = keyring.get_keyring()
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        try:
            keyring.get_password(SERVICE, "__probe__")
        except keyring.errors.NoKeyringError:
            return False, (
                "No OS keyring is available here (common on servers, containers and SSH "
                "sessions). Use environment variables, or opt in to a plaintext key file."
            )
        except keyring.errors.KeyringError as exc:
            return False, f"The keyring ({name}) failed: {exc}"
        return True, name

    # -- reading --------------------------------------------------------------------
    def get(self, provider: str) -> FoundKey | None:
        env_var = PROVIDERS[provider].env_var if provider in PROVIDERS else None
        if env_var and os.environ.get(env_var):
            return FoundKey(os.environ[env_var], "environment")
        try:
            stored = keyring.get_password(SERVICE, provider)
        except keyring.errors.KeyringError:
            stored = None
        if stored:
            return FoundKey(stored, "keyring")
        if self.allow_plaintext_file:
            value = self._read_file().get(provider)
            if value:
                return FoundKey(value, "file")
        return None

    # -- writing --------------------------------------------------------------------
    def set(self, provider: str, key: str) -> str:
        """Store a key; returns where it went. Raises NoSafeStorageError when there is no
        keyring and the plaintext file was not opted in to."""
        key = key.strip()
        try:
            keyring.set_password(SERVICE, provider, key)
            return "keyring"
        except keyring.errors.KeyringError:
            if not self.allow_plaintext_file:
                raise NoSafeStorageError(
                    "No OS keyring is available, so the key was not saved. Set "
                    f"{PROVIDERS[provider].env_var or 'the environment variable'} instead, "
                    "or opt in to the plaintext key file in Settings."
                ) from None
        data = self._read_file()
        data[provider] = key
        self._write_file(data)
        return "file"

    def delete(self, provider: str) -> None:
        with contextlib.suppress(keyring.errors.KeyringError):
            keyring.delete_password(SERVICE, provider)
        data = self._read_file()
        if provider in data:
            del data[provider]
            self._write_file(data)

    def _read_file(self) -> dict[str, str]:
        try:
            data = tomllib.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)}

    def _write_file(self, data: dict[str, str]) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        # Created 0600 from the start: never readable by others, not even briefly.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("# Rung API keys, in PLAINTEXT (you opted in). Readable only by you.\n")
            fh.write(tomli_w.dumps(data))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.file)
