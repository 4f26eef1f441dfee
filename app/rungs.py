"""Turn the config (and command-line overrides) into the tiers of the ladder."""

from __future__ import annotations

from dataclasses import dataclass

from tiers.base import Tier
from tiers.local import LocalTier

from .config import Config


@dataclass
class RungOverrides:
    """What the command line says for this run only (never written to the config)."""

    tier: str | None = None
    model: str | None = None
    base_url: str | None = None


class UnknownTierError(ValueError):
    pass


def build_local(config: Config, model_path: str | None = None) -> LocalTier:
    return LocalTier(
        model_path or config.get("local", "model_path") or None,
        n_ctx=config.get("local", "n_ctx"),
        n_threads=config.get("local", "threads") or None,
    )


def build_rungs(config: Config, overrides: RungOverrides) -> dict[str, Tier]:
    """The ladder in the user's order. An override tier outside the ladder is added to it."""
    names = list(config.get("ladder", "rungs")) or ["local"]
    if overrides.tier and overrides.tier not in names:
        names.append(overrides.tier)
    # --model / --base-url without --tier apply to the first rung.
    target = overrides.tier or names[0]
    rungs: dict[str, Tier] = {}
    for name in names:
        rungs[name] = build_tier(name, config, overrides if name == target else RungOverrides())
    return rungs


def build_tier(name: str, config: Config, overrides: RungOverrides) -> Tier:
    if name == "local":
        return build_local(config, overrides.model)
    raise UnknownTierError(f"Unknown tier {name!r}. Known: local")
