"""Turn the config (and command-line overrides) into the tiers of the ladder.

A tier's key is looked up by the tier's own provider name, so one provider's key can
never be handed to another provider, a custom endpoint or the self-hosted rung. And a
key goes only to a host the user chose (engine/trusted_hosts.py): a base URL that is
only written in config.toml, never confirmed, gets a tier without the key that refuses
to send anything and says how to confirm the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rung.engine.config import Config, data_dir
from rung.engine.secrets import KeyStore
from rung.engine.trusted_hosts import configured_url, needs_confirmation, question, refusal
from rung.tiers.base import Tier
from rung.tiers.providers import PROVIDERS, allowed_key_for

if TYPE_CHECKING:
    from rung.tiers.http import HttpOptions, RemoteTier
    from rung.tiers.local import LocalTier

# The remote tiers (and httpx under them) are imported when a remote rung is built, not
# at start: a ladder of the local rung alone never needs them (bench/startup.py). The
# local tier (and asyncio under it) likewise: `rung route` builds no tier at all.


@dataclass
class RungOverrides:
    """What the command line says for this run only (never written to the config)."""

    tier: str | None = None
    model: str | None = None
    base_url: str | None = None


class UnknownTierError(ValueError):
    pass


def key_store(config: Config) -> KeyStore:
    return KeyStore(data_dir(), config.get("secrets", "plaintext_file"))


def http_options(config: Config, selfhosted: bool = False) -> HttpOptions:
    from rung.tiers.http import HttpOptions

    return HttpOptions(
        connect_timeout=config.get("network", "connect_timeout"),
        read_timeout=config.get("network", "read_timeout"),
        max_retries=config.get("network", "max_retries"),
        idle_timeout=config.get("network", "idle_timeout") or None,
        total_timeout=config.get("network", "total_timeout"),
        max_retry_after=config.get("network", "max_retry_after"),
        max_event_bytes=config.get("network", "max_event_bytes"),
        max_reply_bytes=config.get("network", "max_reply_bytes"),
        verify_tls=config.get("selfhosted", "verify_tls") if selfhosted else True,
        ca_bundle=(config.get("selfhosted", "ca_bundle") or None) if selfhosted else None,
    )


def build_local(config: Config, model_path: str | None = None) -> LocalTier:
    from rung.tiers.local import LocalTier

    return LocalTier(
        model_path or config.get("local", "model_path") or None,
        n_ctx=config.get("local", "n_ctx"),
        n_threads=config.get("local", "threads") or None,
        max_tokens=config.get("local", "max_tokens"),
        repeat_penalty=config.get("local", "repeat_penalty") or None,
        repeat_guard=config.get("local", "repeat_guard"),
        weight_repacking=config.get("local", "weight_repacking"),
    )


def build_tier(
    name: str,
    config: Config,
    overrides: RungOverrides,
    keys: KeyStore | None = None,
    *,
    api_key: str | None = None,
) -> Tier:
    """One rung's tier. ``api_key``: a key typed in Settings, tried before it is saved.
    Raises UnknownTierError for a name Rung does not know or a tier with no URL."""
    if name == "local":
        return build_local(config, overrides.model)
    preset = PROVIDERS.get(name)
    if preset is None:
        known = ", ".join(PROVIDERS)
        raise UnknownTierError(f"Unknown tier {name!r}. Known tiers: {known}.")
    settings = config.provider(name)
    config_url = configured_url(config, name)
    user_url = overrides.base_url or config_url or None
    if name == "selfhosted":
        model = overrides.model or config.get("selfhosted", "model")
    else:
        model = overrides.model or settings.get("model") or preset.default_model
    base_url = user_url or preset.base_url
    if not base_url:
        raise UnknownTierError(
            f"The {name} tier needs a base URL: set [providers.{name}] base_url in the "
            "config or pass --base-url."
        )
    if api_key is None:
        found = (keys or key_store(config)).get(name)
        # A malformed key (found.problem) is never sent: the tier has no key then.
        api_key = found.value if found and not found.problem else None
    if api_key and not allowed_key_for(name, base_url, user_url):
        api_key = None
    host_problem = host_question = None
    if api_key and not overrides.base_url:
        # The flag is the user's choice for this run; the config file may not be.
        check = needs_confirmation(name, config_url)
        if check is not None:
            api_key = None  # the tier never holds a key it may not send
            host_problem, host_question = refusal(check, config.path), question(check)
    common = {
        "name": name,
        "label": preset.label.split(" (")[0],
        "base_url": base_url,
        "model": model,
        "api_key": api_key,
        "key_env": preset.env_var,
        "options": http_options(config, selfhosted=name == "selfhosted"),
        "host_problem": host_problem,
        "host_question": host_question,
    }
    tier: RemoteTier
    if name == "selfhosted":
        from rung.tiers.openai import SelfHostedTier

        tier = SelfHostedTier(**common, tools=config.get("selfhosted", "tools"))
    elif preset.protocol == "anthropic":
        from rung.tiers.anthropic import AnthropicTier

        tier = AnthropicTier(**common)
    elif preset.protocol == "gemini":
        from rung.tiers.gemini import GeminiTier

        tier = GeminiTier(**common)
    else:
        from rung.tiers.openai import OpenAITier

        tier = OpenAITier(provider=name, kind=preset.kind, **common)
    return tier
