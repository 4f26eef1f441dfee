"""A conversation as Markdown, for sharing or keeping. Every API key Rung can find on
this machine is masked, even one pasted into the chat by mistake or shadowed by another
source, and so is anything shaped like a key (``secrets.mask_secrets``: one no longer in
the environment, a colleague's), so an export is safe to send to someone. Control
characters from model output are made visible, so `cat`-ing an export cannot drive the
terminal, and bidi controls and zero-width characters are spelled out (``<U+202E>``): an
editor opening the file later would otherwise reorder or hide text."""

from __future__ import annotations

import os
import tempfile
from decimal import Decimal
from pathlib import Path

from rung.engine import attachments
from rung.engine.build_tiers import key_store
from rung.engine.config import Config
from rung.engine.cost_label import header_money
from rung.engine.safe_text import for_terminal
from rung.engine.secrets import KeyStore, mask
from rung.engine.store import Store
from rung.tiers.pricing import format_usd
from rung.tiers.providers import PROVIDERS

# Below this length a "key" is too likely to be an ordinary word to replace everywhere.
MIN_MASKED_KEY = 8


def known_keys(keys: KeyStore) -> list[str]:
    """Every key Rung could use on this machine, from every source and in every form
    (as stored and stripped), longest first so no key is half-masked by a shorter one."""
    values: set[str] = set()
    for name, preset in PROVIDERS.items():
        if not preset.env_var:
            continue
        values.update(keys.all_values(name))
        raw = os.environ.get(preset.env_var)
        if raw:
            values.update({raw, raw.strip()})
    return sorted((v for v in values if len(v) >= MIN_MASKED_KEY), key=len, reverse=True)


def mask_keys(text: str, keys: list[str]) -> str:
    for key in keys:
        if key in text:
            text = text.replace(key, mask(key.strip()))
    return text


def _finish_note(finish_reason: str | None, error: str | None) -> str | None:
    if error and finish_reason != "interrupted":
        return f"*Failed: {error}*"
    if finish_reason == "cancelled":
        return "*Cancelled — the text above is what arrived.*"
    if finish_reason == "interrupted":
        return "*Interrupted (Rung stopped) — the text above is what arrived.*"
    if finish_reason == "length":
        return "*Stopped at the output token limit.*"
    return None


def session_markdown(store: Store, session_id: int, keys: KeyStore) -> str:
    messages = store.transcript(session_id)
    if not messages:
        raise LookupError(f"No session #{session_id} with messages in the history.")
    lines = [f"# Rung conversation #{session_id}", ""]
    total = sum((m.cost_usd for m in messages if m.cost_usd is not None), Decimal(0))
    unknown = sum(1 for m in messages if m.role == "assistant" and m.cost_usd is None)
    for m in messages:
        if m.role == "user":
            typed, files = attachments.split_attached(m.content)
            lines += ["## You", ""]
            if files:
                lines += [f"*attached: {', '.join(files)}*", ""]
            lines += [typed, ""]
        else:
            cost = header_money(m.cost_usd, not m.estimated, m.price_basis)
            lines += [f"## {m.tier} · {m.model} · {cost}", "", m.content, ""]
            note = _finish_note(m.finish_reason, m.error)
            if note:
                lines += [note, ""]
    footer = f"Total: {format_usd(total)}"
    if unknown:
        footer += f" (+{unknown} with unknown price)"
    lines += ["---", footer, ""]
    return for_terminal(mask_keys("\n".join(lines), known_keys(keys)))


def write_private(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to a new file only the user can read (0600). Refuses to replace an
    existing file unless ``overwrite``."""
    if not overwrite:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    # Replacing: a new 0600 file renamed over the old one, so the result is private
    # (the old file's looser mode is not inherited) and never half-written.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_session(store: Store, session_id: int, config: Config, folder: Path) -> Path:
    """Write a conversation as ``rung-conversation-ID.md`` in ``folder`` (a new name if
    that exists), user-only. Returns the path."""
    text = session_markdown(store, session_id, key_store(config))
    path = folder / f"rung-conversation-{session_id}.md"
    number = 1
    while path.exists():
        number += 1
        path = folder / f"rung-conversation-{session_id}-{number}.md"
    write_private(path, text, overwrite=False)
    return path
