"""The TOML config file: where it lives, what it may hold, and how it is read and written.

Read with tomllib, written with tomli-w, atomically (temp file + rename), keeping the
previous file as ``config.toml.bak``. A broken value is reported with the file, line
and field, and replaced by its default; the rest of the file still applies. Keys
Rung does not know are kept when the file is saved.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

APP_NAME = "rung"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path() -> Path:
    env = os.environ.get("RUNG_CONFIG")
    return Path(env).expanduser() if env else config_dir() / "config.toml"


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


def _money(value: Any) -> Decimal | None:
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
        "energy_watts": (_money, None),
        "energy_usd_per_kwh": (_money, None),
    },
    "selfhosted": {
        "base_url": (_str, ""),
        "model": (_str, ""),
        "gpu_usd_per_hour": (_money, Decimal("2.50")),
        "usd_per_mtok": (_money, None),
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
        "min_saving_usd": (_money, Decimal("0.002")),
    },
    "budget": {
        "session_usd": (_money, None),
        "daily_usd": (_money, None),
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

PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")
PROVIDER_FIELDS = {"model": _str, "base_url": _str}


@dataclass
class Config:
    path: Path
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    providers: dict[str, dict[str, str]] = field(default_factory=dict)
    prices: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    keymap: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # the file as read, unknown keys too

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def set(self, section: str, key: str, value: Any) -> None:
        checker, _ = SCHEMA[section][key]
        self.values[section][key] = checker(value)

    def provider(self, name: str) -> dict[str, str]:
        return self.providers.get(name, {})

    # -- writing ---------------------------------------------------------------
    def to_toml_dict(self) -> dict[str, Any]:
        out = copy.deepcopy(self.raw)
        for section, fields in SCHEMA.items():
            table = out.setdefault(section, {})
            if not isinstance(table, dict):
                table = out[section] = {}
            for key, (_, default) in fields.items():
                value = self.values[section][key]
                if value is None:
                    table.pop(key, None)
                elif value != default or key in table:
                    table[key] = str(value) if isinstance(value, Decimal) else value
            if not table:
                out.pop(section)
        # Known provider fields come from ``providers`` (so clearing one removes it);
        # fields Rung does not know are kept from the file.
        raw_providers = out.get("providers")
        raw_providers = raw_providers if isinstance(raw_providers, dict) else {}
        providers: dict[str, dict[str, Any]] = {}
        for name in {*raw_providers, *self.providers}:
            previous = raw_providers.get(name)
            table = (
                {k: v for k, v in previous.items() if k not in PROVIDER_FIELDS}
                if isinstance(previous, dict)
                else {}
            )
            table.update(self.providers.get(name, {}))
            if table:
                providers[name] = table
        _set_or_drop(out, "providers", dict(sorted(providers.items())))
        prices = {m: {k: str(v) for k, v in f.items()} for m, f in self.prices.items()}
        _set_or_drop(out, "prices", prices)
        _set_or_drop(out, "keymap", dict(self.keymap))
        return out

    def save(self) -> None:
        """Write atomically; the previous file is kept as ``<name>.bak``."""
        text = tomli_w.dumps(self.to_toml_dict())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            shutil.copy2(self.path, self.path.with_name(self.path.name + ".bak"))
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".config-", suffix=".toml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.raw = tomllib.loads(text)


def _set_or_drop(table: dict[str, Any], key: str, value: dict[str, Any]) -> None:
    if value:
        table[key] = value
    else:
        table.pop(key, None)


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """The line where ``key`` is set inside ``[section]`` (1-based), for error messages."""
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1).replace('"', "")
            if key is None and current == section:
                return number
            continue
        if key is None and not current and re.match(rf'^"?{re.escape(section)}"?\s*=', stripped):
            return number  # `section = "oops"`: a value where a table belongs
        if (
            key is not None
            and current == section
            and re.match(rf'^"?{re.escape(key)}"?\s*=', stripped)
        ):
            return number
    return None


def load_config(path: Path | None = None) -> Config:
    path = path or default_config_path()
    config = Config(path=path)
    config.values = {s: {k: d for k, (_, d) in f.items()} for s, f in SCHEMA.items()}
    for section in config.values.values():
        for key, value in section.items():
            section[key] = copy.deepcopy(value)
    if not path.exists():
        return config
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        config.problems.append(
            f"{path}: not valid TOML ({exc}). Rung started with the default settings; "
            "your file was left untouched."
        )
        return config
    except (OSError, UnicodeDecodeError) as exc:
        config.problems.append(f"{path}: cannot be read ({exc}). Using the default settings.")
        return config
    config.raw = raw

    def problem(section: str, key: str | None, message: str) -> None:
        line = _line_of(text, section, key)
        where = f"{path}, line {line}" if line else str(path)
        name = f"[{section}] {key}" if key else f"[{section}]"
        config.problems.append(f"{where}: {name} {message}")

    for section, fields in SCHEMA.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):
            problem(section, None, "must be a table; using defaults")
            continue
        for key, (checker, default) in fields.items():
            if key not in table:
                continue
            try:
                config.values[section][key] = checker(table[key])
            except ConfigValueError as exc:
                problem(section, key, f"{exc}; using {default!r}")

    from rung.tiers.providers import PROVIDERS  # the names a ladder may use

    rungs = config.values["ladder"]["rungs"]
    unknown = [name for name in rungs if name not in PROVIDERS]
    if unknown:
        known = [name for name in rungs if name in PROVIDERS] or ["local"]
        problem(
            "ladder",
            "rungs",
            f"names unknown rung(s) {', '.join(map(repr, unknown))}; starting with "
            f"{', '.join(known)}. Known rungs: {', '.join(PROVIDERS)}",
        )
        config.values["ladder"]["rungs"] = known

    def free_table(section: str, what: str) -> dict[str, Any]:
        """A top-level table of the user's own names; anything else is reported."""
        value = raw.get(section, {})
        if isinstance(value, dict):
            return value
        problem(section, None, f"must be a table of {what}; ignored")
        config.raw.pop(section, None)  # not written back as it was
        return {}

    for name, table in free_table("providers", "provider settings").items():
        if not isinstance(table, dict):
            problem(f"providers.{name}", None, "must be a table")
            continue
        clean: dict[str, str] = {}
        for key, value in table.items():
            if key in PROVIDER_FIELDS:
                try:
                    clean[key] = PROVIDER_FIELDS[key](value)
                except ConfigValueError as exc:
                    problem(f"providers.{name}", key, str(exc))
        config.providers[name] = clean

    for model, table in free_table("prices", "prices per model").items():
        if not isinstance(table, dict):
            problem(f"prices.{model}", None, "must be a table of prices per million tokens")
            continue
        prices: dict[str, Decimal] = {}
        for key, value in table.items():
            if key not in PRICE_FIELDS:
                problem(f"prices.{model}", key, f"is not one of {', '.join(PRICE_FIELDS)}")
                continue
            try:
                amount = _money(value)
            except ConfigValueError as exc:
                problem(f"prices.{model}", key, str(exc))
                continue
            if amount is not None:
                prices[key] = amount
        config.prices[model] = prices

    for action, keys in free_table("keymap", 'key bindings such as escalate = "f9"').items():
        if isinstance(keys, str):
            config.keymap[action] = keys
        else:
            problem("keymap", action, f'must be a key name such as "f2", got {keys!r}')
    return config
