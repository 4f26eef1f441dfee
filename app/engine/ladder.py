"""The ladder as the router sees it: each rung with whether it can be used right now."""

from __future__ import annotations

from pathlib import Path

from rung.engine.config import Config
from rung.engine.secrets import KeyStore
from rung.engine.session import Session
from rung.tiers.base import Tier
from rung.tiers.http import RemoteTier
from rung.tiers.local import LocalTier, embedded_model_path
from rung.tiers.providers import PROVIDERS
from rung.tiers.router import Rung


def rung_for_tier(tier: Tier, session: Session | None, healthy: bool | None) -> Rung:
    """Usable means: model present, key set, endpoint not known to be down, budget left."""
    if isinstance(tier, LocalTier):
        if tier.load_error:
            return Rung(tier.name, tier.kind, False, "model failed to load")
    elif isinstance(tier, RemoteTier):
        if not tier.has_key:
            return Rung(tier.name, tier.kind, False, "no API key")
        if healthy is False:
            return Rung(tier.name, tier.kind, False, "endpoint unreachable")
    if session is not None and session.allows(tier).blocks_paid:
        return Rung(tier.name, tier.kind, False, "budget reached")
    return Rung(tier.name, tier.kind)


def static_ladder(config: Config, keys: KeyStore) -> list[Rung]:
    """The user's ladder without building any tier (no model load, no network): for
    `rung route` and for routing `rung ask`."""
    rungs: list[Rung] = []
    for name in config.get("ladder", "rungs") or ["local"]:
        preset = PROVIDERS.get(name)
        kind = preset.kind if preset else "api"
        if name == "local":
            path = config.get("local", "model_path")
            present = Path(path).expanduser().is_file() if path else bool(embedded_model_path())
            rungs.append(Rung(name, kind, present, "" if present else "model file missing"))
        elif preset is None:
            rungs.append(Rung(name, kind, False, "unknown tier"))
        elif name == "selfhosted":
            url = config.get("selfhosted", "base_url")
            rungs.append(Rung(name, kind, bool(url), "" if url else "no base_url set"))
        elif preset.env_var and keys.get(name) is None and name != "custom":
            rungs.append(Rung(name, kind, False, "no API key"))
        else:
            rungs.append(Rung(name, kind))
    return rungs


def kinds_ladder(spec: str) -> list[Rung]:
    """`--ladder local,api`: a ladder of tier kinds, all usable, no keys needed."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    return [Rung(n, n if n in ("local", "selfhosted") else "api") for n in names]
