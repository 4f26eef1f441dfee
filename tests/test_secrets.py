"""API keys: keyring, environment, the opt-in plaintext file, and never by accident."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail

from rung.engine.secrets import KeyStore, NoSafeStorageError, mask


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError(username)
        del self.store[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_keyring_round_trip(memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    assert keys.keyring_status()[0] is True
    assert keys.set("anthropic", "  sk-ant-123456789  ") == "keyring"
    found = keys.get("anthropic")
    assert found is not None and found.value == "sk-ant-123456789" and found.source == "keyring"
    assert memory_keyring.store[("rung", "anthropic")] == "sk-ant-123456789"
    keys.delete("anthropic")
    assert keys.get("anthropic") is None
    assert not (tmp_path / "keys.toml").exists()


def test_environment_is_read_and_labelled(memory_keyring, tmp_path: Path, monkeypatch) -> None:
    keys = KeyStore(tmp_path)
    keys.set("openai", "sk-stored-0000")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-1111")
    found = keys.get("openai")
    assert found is not None and found.source == "environment" and found.value == "sk-env-1111"
    assert memory_keyring.store[("rung", "openai")] == "sk-stored-0000"  # still stored


def test_without_a_keyring_nothing_is_written_unless_opted_in(no_keyring, tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    usable, message = keys.keyring_status()
    assert not usable and "No OS keyring" in message and "environment variables" in message
    with pytest.raises(NoSafeStorageError, match="OPENAI_API_KEY"):
        keys.set("openai", "sk-never-written")
    assert list(tmp_path.iterdir()) == []


def test_opt_in_plaintext_file_is_private(no_keyring, tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "data", allow_plaintext_file=True)
    assert keys.set("gemini", "g-key-abcdef") == "file"
    path = tmp_path / "data" / "keys.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "PLAINTEXT" in path.read_text()
    found = keys.get("gemini")
    assert found is not None and found.source == "file" and found.value == "g-key-abcdef"
    keys.delete("gemini")
    assert keys.get("gemini") is None


def test_mask_shows_only_the_ends() -> None:
    assert mask("sk-ant-api03-abcdefghijklmnop") == "sk-…mnop"
    assert mask("short") == "•••••"
