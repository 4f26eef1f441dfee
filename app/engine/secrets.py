"""API keys: the OS keyring first choice, environment variables, and an opt-in file.

Lookup order for a provider: its environment variable (a per-run override), then the
keyring (service ``rung``), then — only if the user opted in — a 0600 plaintext file
in the data directory. A key is never written to the config file, and never written
in plaintext unless the user asked for exactly that.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from rung.tiers.providers import PROVIDERS

SERVICE = "rung"
KEYS_FILE = "keys.toml"


@dataclass(frozen=True)
class FoundKey:
    value: str  # stripped; empty when ``problem`` is set
    source: str  # "environment", "keyring", "file"
    problem: str | None = None  # why the key cannot be used (it is never sent then)
    raw: str = ""  # as stored, for masking every form of it


def clean_key(raw: str) -> tuple[str, str | None]:
    """(the key without surrounding whitespace, what is wrong with it or None).

    A trailing newline or ``\r`` (a CRLF .env file) is removed silently; whitespace or
    control characters inside a key mean it was pasted wrong, and such a key would
    end up in an HTTP header: it is refused instead.
    """
    key = raw.strip()
    for ch in key:
        if ch.isspace():
            return key, "contains a space or line break"
        if ord(ch) < 32 or ord(ch) == 127 or 0x80 <= ord(ch) < 0xA0:
            return key, "contains a control character"
    if not key.isascii():
        return key, "contains characters that cannot go in an HTTP header"
    return key, None


def mask(key: str) -> str:
    """What the screen may show of a key: its prefix and last four characters."""
    if len(key) <= 8:
        return "•" * len(key)
    return f"{key[:3]}…{key[-4:]}"


# -- keys by their shape -----------------------------------------------------------------
# Text a user pasted or a model echoed can hold a key Rung never stored (a colleague's, a
# revoked one, one no longer in the environment). Every view masks what *looks* like a
# key: the providers' published formats, and long random values after a word that names
# a secret. Ordinary code and words must pass: a git sha, a UUID or base64 on its own is
# not a key, and neither is `sk-learn` or `api_key = settings.api_key`.
_PREFIXED_KEY = re.compile(
    r"(?<![A-Za-z0-9_\-])(?:"
    r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_\-]{20,}"  # Anthropic
    r"|sk-(?:proj-|svcacct-|admin-|or-v\d-)?[A-Za-z0-9_\-]{20,}"  # OpenAI, DeepSeek, OpenRouter
    r"|AIza[A-Za-z0-9_\-]{30,}"  # Google (Gemini)
    r"|gsk_[A-Za-z0-9]{20,}"  # Groq
    r"|xai-[A-Za-z0-9]{20,}"  # xAI
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"  # GitHub
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"  # AWS access key id
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|xox[abprs]-[A-Za-z0-9\-]{20,}"  # Slack
    r")(?![A-Za-z0-9_\-])"
)
# "Authorization: Bearer X", "api_key=X", "token: 'X'", '"secret": "X"' (also inside JSON
# text, where the quotes arrive escaped).
_NAMED_SECRET = re.compile(
    # No repeated groups before the name: a long "a_a_a_..." must not make this quadratic.
    r"(?i)(?P<name>(?<![a-z0-9])bearer\s+"
    r"|(?<![a-z0-9])(?:api[_-]?key|apikey|access[_-]?key|secret(?:[_-]?key)?|token"
    r"|password|passwd)\\?[\"']?\s*[:=]\s*\\?[\"']?)"
    r"(?P<value>[A-Za-z0-9_\-+/.~]{12,}=*)"
)


def _looks_random(value: str) -> bool:
    """A value with the mix of a generated secret: letters and digits, switching often.
    Identifiers (``settings.api_key``, ``get_token2``) switch once or twice."""
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    switches = sum(1 for a, b in itertools.pairwise(value) if a.isdigit() != b.isdigit())
    return switches >= 4


def _looks_like_key(body: str) -> bool:
    """A prefixed candidate is a key unless it reads like words: real keys mix cases or
    digits (OpenAI/Anthropic base64url, DeepSeek hex, Hugging Face mixed-case letters)."""
    tail = body.split("-", 2)[-1] if body.startswith("sk-") else body
    has_digit = any(c.isdigit() for c in tail)
    mixed_case = any(c.isupper() for c in tail) and any(c.islower() for c in tail)
    if body.startswith("sk-"):
        return _looks_random(tail) or (has_digit and mixed_case)
    return has_digit or mixed_case


# -- keys Rung knows ----------------------------------------------------------------------
# The shapes above pass a key that reads like words (a test key, a self-hosted or custom
# endpoint's own token): every key Rung has read or stored in this process, and each
# provider's environment variable as it is now, is masked wherever it appears, whatever
# its shape. Shorter values are too likely to be ordinary words to replace everywhere.
MIN_KNOWN_KEY = 8
_remembered: set[str] = set()


def remember_key(value: str) -> None:
    """A key Rung read or stored: masked in every view from now on."""
    _remembered.update(v for v in (value, value.strip()) if len(v) >= MIN_KNOWN_KEY)


def known_key_values() -> list[str]:
    """The keys to mask by value, longest first (no key half-masked by a shorter one)."""
    values = set(_remembered)
    for preset in PROVIDERS.values():
        raw = os.environ.get(preset.env_var) if preset.env_var else None
        if raw:
            values.update(v for v in (raw, raw.strip()) if len(v) >= MIN_KNOWN_KEY)
    return sorted(values, key=len, reverse=True)


def mask_secrets(text: str) -> str:
    """``text`` with every key Rung knows and everything shaped like a key masked (see
    ``mask``). Masked text no longer matches, so masking twice changes nothing."""
    if not text:
        return text
    for key in known_key_values():
        if key in text:
            text = text.replace(key, mask(key.strip()))
    text = _PREFIXED_KEY.sub(
        lambda m: mask(m.group()) if _looks_like_key(m.group()) else m.group(), text
    )

    def named(m: re.Match[str]) -> str:
        value = m.group("value")
        if not _looks_random(value) or "…" in value:
            return m.group()
        return m.group("name") + mask(value)

    return _NAMED_SECRET.sub(named, text)


class NoSafeStorageError(RuntimeError):
    """No keyring backend works here and the user has not opted in to a plaintext file."""


class KeyStore:
    def __init__(self, data_dir: Path, allow_plaintext_file: bool = False) -> None:
        self.file = data_dir / KEYS_FILE
        self.allow_plaintext_file = allow_plaintext_file

    # -- what is available --------------------------------------------------------
    def keyring_status(self) -> tuple[bool, str]:
        """(usable, description) of the OS keyring on this machine."""
        # keyring is imported on first use, not at start: its import is 40 ms.
        import keyring.errors

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
        """The key Rung uses for ``provider``: environment first, then keyring, then the
        opt-in file. A malformed key is returned with ``problem`` set and no value."""
        for source, raw in self._candidates(provider):
            return self._checked(provider, source, raw)
        return None

    def all_values(self, provider: str) -> list[str]:
        """Every key stored for ``provider`` anywhere, in every form it could appear
        (as stored and stripped): for masking, even those shadowed by another source."""
        values: list[str] = []
        for _, raw in self._candidates(provider, every_source=True):
            values += [raw, raw.strip()]
        return [v for v in dict.fromkeys(values) if v]

    def _candidates(self, provider: str, every_source: bool = False) -> Iterator[tuple[str, str]]:
        """(source, key as stored) in lookup order; ``every_source`` also reads the key
        file when it is not opted in to (only ever for masking)."""
        env_var = PROVIDERS[provider].env_var if provider in PROVIDERS else None
        if env_var and os.environ.get(env_var, "").strip():
            yield "environment", os.environ[env_var]
        import keyring.errors

        try:
            stored = keyring.get_password(SERVICE, provider)
        except keyring.errors.KeyringError:
            stored = None
        if stored and stored.strip():
            yield "keyring", stored
        if self.allow_plaintext_file or every_source:
            value = self._read_file().get(provider)
            if value and value.strip():
                yield "file", value

    def _checked(self, provider: str, source: str, raw: str) -> FoundKey:
        key, problem = clean_key(raw)
        remember_key(raw)  # shown masked wherever it appears, used or refused
        if problem is None:
            return FoundKey(key, source, raw=raw)
        label = PROVIDERS[provider].label if provider in PROVIDERS else provider
        env_var = PROVIDERS[provider].env_var if provider in PROVIDERS else None
        where = {
            "environment": f"${env_var}",
            "keyring": "the OS keyring",
            "file": "the plaintext key file",
        }[source]
        return FoundKey(
            "",
            source,
            f"The {label} key in {where} {problem}; it was not used. Paste it "
            "again in Settings (F6).",
            raw=raw,
        )

    # -- writing --------------------------------------------------------------------
    def set(self, provider: str, key: str) -> str:
        """Store a key; returns where it went. Raises NoSafeStorageError when there is no
        keyring and the plaintext file was not opted in to, and ValueError for a key that
        cannot be right (spaces or control characters inside it)."""
        key, problem = clean_key(key)
        if problem:
            raise ValueError(f"That key {problem}; it was not saved.")
        remember_key(key)
        import keyring.errors

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
        import keyring.errors

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
