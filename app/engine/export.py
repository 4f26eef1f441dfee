"""A conversation as Markdown, for sharing or keeping. Known API keys are masked even if
one was pasted into the chat, so an export is safe to send to someone."""

from __future__ import annotations

import os
from decimal import Decimal

from rung.engine import attachments
from rung.engine.secrets import KeyStore, mask
from rung.engine.store import Store
from rung.tiers.pricing import format_usd
from rung.tiers.providers import PROVIDERS


def known_keys(keys: KeyStore) -> list[str]:
    """Every key Rung could use on this machine (stored or in the environment)."""
    found = {keys.get(name) for name in PROVIDERS if PROVIDERS[name].env_var}
    values = {f.value for f in found if f is not None}
    values |= {
        os.environ[p.env_var] for p in PROVIDERS.values() if p.env_var and os.environ.get(p.env_var)
    }
    return sorted((v for v in values if len(v) >= 8), key=len, reverse=True)


def session_markdown(store: Store, session_id: int, keys: KeyStore) -> str:
    messages = store.transcript(session_id)
    if not messages:
        raise LookupError(f"No session #{session_id} with messages in the history.")
    lines = [f"# Rung conversation #{session_id}", ""]
    total = sum((m.cost_usd for m in messages if m.cost_usd is not None), Decimal(0))
    for m in messages:
        if m.role == "user":
            typed, files = attachments.split_attached(m.content)
            lines += ["## You", ""]
            if files:
                lines += [f"*attached: {', '.join(files)}*", ""]
            lines += [typed, ""]
        else:
            cost = format_usd(m.cost_usd, m.estimated)
            lines += [f"## {m.tier} · {m.model} · {cost}", "", m.content, ""]
            if m.error:
                lines += [f"*Failed: {m.error}*", ""]
    lines += ["---", f"Total: {format_usd(total)}", ""]
    text = "\n".join(lines)
    for key in known_keys(keys):
        text = text.replace(key, mask(key))
    return text
