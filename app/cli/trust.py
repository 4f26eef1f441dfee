"""`rung trust-host PROVIDER`: confirm the base URL config.toml gives a provider, so its
key may be sent there (see engine/trusted_hosts.py)."""

from __future__ import annotations

import sys

from rung.engine.config import Config
from rung.engine.safe_text import for_terminal
from rung.engine.trusted_hosts import trust_configured


def run_trust_host(provider: str, config: Config) -> int:
    host, message = trust_configured(config, provider)
    out = sys.stdout if host else sys.stderr
    print(f"{'' if host else 'rung: '}{for_terminal(message)}", file=out)
    return 0 if host else 1
