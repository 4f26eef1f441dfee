"""What the config file may hold: each section's fields with their checks and defaults
(``SCHEMA``), the fields of a ``[providers.X]`` and a ``[prices."model"]`` table, and the
checks themselves. A check returns the clean value or raises ``ConfigValueError`` with
the sentence the user sees after the file, line and field (config.py says where).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any


class ConfigValueError(ValueError):
    pass


def _int(lo: int, hi: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigValueError(f"must be a whole number, got {value!r}")
        if not lo <= value <= hi:
            raise ConfigValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return check


def _float(lo: float, hi: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigValueError(f"must be a number, got {value!r}")
        if not lo <= float(value) <= hi:
            raise ConfigValueError(f"must be between {lo} and {hi}, got {value}")
        return float(value)

    return check


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigValueError(f"must be a string, got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigValueError(f"must be true or false, got {value!r}")
    return value


def money_value(value: Any) -> Decimal | None:
    """Money is written as a string ("2.50") or a number; kept as Decimal, never float."""
    if value in ("", None):
        return None
    if isinstance(value, bool):
        raise ConfigValueError(f'must be an amount such as "2.50", got {value!r}')
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ConfigValueError(f'must be an amount such as "2.50", got {value!r}') from None
    if not amount.is_finite() or amount < 0:
        raise ConfigValueError(f"must be a non-negative amount, got {value!r}")
    return amount


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise ConfigValueError(f"must be one of {', '.join(map(repr, options))}, got {value!r}")
        return value

    return check


def _agent_in_chat(value: Any) -> str:
    """[agent] in_chat: "auto", "on" or "off"; true/false (its first form) mean on/off."""
    if value is True or value is False:
        return "on" if value else "off"
    return _choice("auto", "on", "off")(value)


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigValueError(f"must be a list of names, got {value!r}")
    return list(value)


def _floors(value: Any) -> dict[str, str]:
    """``{ code = "deepseek" }``: the lowest rung Auto may use per task kind."""
    from rung.tiers.providers import PROVIDERS
    from rung.tiers.task_kind import FLOOR_GROUPS, KINDS

    if not isinstance(value, dict):
        raise ConfigValueError(f'must be a table such as {{ code = "deepseek" }}, got {value!r}')
    known = sorted({*KINDS, *FLOOR_GROUPS} - {"other"})
    for kind, rung in value.items():
        if kind not in known:
            raise ConfigValueError(f"names unknown task kind {kind!r}; known: {', '.join(known)}")
        if not isinstance(rung, str) or rung not in PROVIDERS:
            raise ConfigValueError(
                f"{kind} = {rung!r} is not a rung; known: {', '.join(PROVIDERS)}"
            )
    return dict(value)


# section -> field -> (checker, default). Sections with free-form tables (providers,
# prices, keymap) are checked separately.
SCHEMA: dict[str, dict[str, tuple[Callable[[Any], Any], Any]]] = {
    "local": {
        "model_path": (_str, ""),
        "n_ctx": (_int(256, 1_048_576), 4096),
        # 0: Rung's default, the cores other programs leave free, judged before each reply
        # (llama.cpp's threads wait for each other: one on a busy core slows them all).
        "threads": (_int(0, 512), 0),
        # The local rung's output limit: a reply gets min(the request's, this). 512 holds
        # a full chat answer and keeps a small model from spending minutes on one reply.
        "max_tokens": (_int(1, 1_048_576), 512),
        # 0: the model's own (its GGUF), else 1.1; 1.0 turns the penalty off.
        "repeat_penalty": (_float(0.0, 2.0), 0.0),
        # End a reply that repeats one passage over and over (with a notice).
        "repeat_guard": (_bool, True),
        # "auto": no weight repacking on AMX CPUs, where llama.cpp's AMX backend crashes.
        "weight_repacking": (_choice("auto", "off", "on"), "auto"),
        "energy_watts": (money_value, None),
        "energy_usd_per_kwh": (money_value, None),
    },
    "selfhosted": {
        "base_url": (_str, ""),
        "model": (_str, ""),
        "gpu_usd_per_hour": (money_value, Decimal("2.50")),
        "usd_per_mtok": (money_value, None),
        "ca_bundle": (_str, ""),
        "verify_tls": (_bool, True),
        # Tool calling: "native" (the server parses calls), "text" (the text protocol),
        # "auto" (ask the server once: tiers/tool_probe.py).
        "tools": (_choice("auto", "native", "text"), "auto"),
    },
    "ladder": {
        "rungs": (_str_list, ["local"]),
        "mode": (_str, "auto"),  # "auto" or the name of a pinned rung
        "fallback": (_bool, True),
        # A pinned rung that fails falls back down (to a cheaper, weaker rung) only if
        # this is on; up, when `fallback` is on, as Auto does.
        "fallback_below_pinned": (_bool, False),
        "quality": (_float(0.0, 1.0), 0.5),
        "local_first": (_bool, False),
        # Per task kind, the cheapest rung Auto may use (tiers/competence.py).
        "floors": (_floors, {}),
        # A warm conversation on a paid rung moves to the local model only to save more
        # than this per message (tiers/route_cost.py weighs the wait, too).
        "min_saving_usd": (money_value, Decimal("0.002")),
    },
    "budget": {
        "session_usd": (money_value, None),
        "daily_usd": (money_value, None),
    },
    "reference": {
        "provider": (_str, "anthropic"),
        "model": (_str, "claude-opus-4-7"),
    },
    "network": {
        "connect_timeout": (_float(0.1, 120), 10.0),
        "read_timeout": (_float(1, 3600), 120.0),
        "max_retries": (_int(0, 10), 3),
        # Silence allowed mid-reply (SSE comments and pings count as silence); 0: as
        # read_timeout. And one reply's whole time, retries included.
        "idle_timeout": (_float(0, 3600), 0.0),
        "total_timeout": (_float(1, 86400), 600.0),
        "max_retry_after": (_float(0, 3600), 60.0),
        # Bytes one server-sent event, and one whole reply, may take.
        "max_event_bytes": (_int(1024, 1 << 30), 1 << 20),
        "max_reply_bytes": (_int(1024, 1 << 34), 8 << 20),
        # Opt-in: fetch current prices (genai-prices) in the background.
        "update_prices": (_bool, False),
        "price_update_url": (_str, ""),  # empty: genai-prices' own source
    },
    "ui": {
        "theme": (_str, "rung-dark"),
        "system_prompt": (_str, "You are a helpful assistant for software developers. Be concise."),
        "max_tokens": (_int(1, 1_000_000), 2048),
    },
    "secrets": {
        "plaintext_file": (_bool, False),  # opt-in only: keys in a 0600 file
    },
    # The agent's permission rules (engine/agent/permissions.py): KIND:PATTERN strings
    # such as "run:git status", "run:pytest *", "edit:src/**"; deny beats allow.
    "permissions": {
        "mode": (_choice("ask", "accept-edits", "plan", "auto"), "ask"),
        "allow": (_str_list, []),
        "deny": (_str_list, []),
    },
    "agent": {
        "run_timeout": (_float(1, 3600), 120.0),  # seconds a command may run
        "max_run_timeout": (_float(1, 86400), 600.0),  # the most a tool call may ask for
        "network": (_bool, False),  # sandboxed commands reach the network
        "max_steps": (_int(1, 1000), 50),  # tool steps per user turn
        # Per-step routing (engine/agent/step_router.py): a rung name fixes a step kind
        # to that rung (like opusplan: plan = "anthropic"); empty: Auto routes it.
        "plan": (_str, ""),
        "act": (_str, ""),
        "digest": (_str, ""),
        "answer": (_str, ""),
        # Compaction: condense older steps when a request reaches this share of the
        # rung's context window; keep the last N steps verbatim. context_window > 0
        # overrides every rung's window (tokens).
        "compact_at": (_float(0.1, 0.99), 0.8),
        "keep_last": (_int(1, 50), 4),
        "context_window": (_int(0, 10_000_000), 0),
        # Who answers in the chat screen: "auto" (the agent on a remote rung that declares
        # tool calling, chat on the rest), "on" (every rung that can call tools), "off".
        "in_chat": (_agent_in_chat, "auto"),
        # "turn": in a git project, each finished turn that changed files is committed
        # (those files only; never amends or pushes: engine/agent/commit.py).
        "commit": (_choice("off", "turn"), "off"),
    },
}

# The [agent] keys that fix a step kind to a rung (engine/agent/steps.py names the kinds).
STEP_KINDS = ("plan", "act", "digest", "answer")
PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")
PROVIDER_FIELDS = {"model": _str, "base_url": _str}
