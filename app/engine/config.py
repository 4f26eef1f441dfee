"""The TOML config file: where it lives, what it may hold, and how it is read and written.

Read with tomllib, written with tomli-w, atomically (temp file + rename), keeping the
previous file as ``config.toml.bak``. A broken value is reported with the file, line
and field, and replaced by its default; the rest of the file still applies. Keys
Rung does not know are kept when the file is saved. What each field may hold, and its
check, is in config_schema.py.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from rung.engine.config_schema import (
    PRICE_FIELDS,
    PROVIDER_FIELDS,
    SCHEMA,
    STEP_KINDS,
    ConfigValueError,
    money_value,
)

APP_NAME = "rung"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path() -> Path:
    env = os.environ.get("RUNG_CONFIG")
    return Path(env).expanduser() if env else config_dir() / "config.toml"


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
        # A key Rung does not know is kept quietly (a newer Rung may have written it),
        # unless it is one letter or two from a known one: a typo, said.
        for key in table:
            near = [] if key in fields else difflib.get_close_matches(key, list(fields), 1, 0.8)
            if near:
                problem(section, key, f"is not a setting; did you mean {near[0]}? (kept as "
                        "written, not used)")  # fmt: skip

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
    ladder = config.values["ladder"]["rungs"]
    for kind in STEP_KINDS:  # said now, not in the header of a step already paid for
        fixed = config.values["agent"][kind]
        if fixed and fixed not in ladder:
            what = "is not a rung" if fixed not in PROVIDERS else "is not on the ladder"
            problem("agent", kind, f"= {fixed!r} {what} ([ladder] rungs = "
                    f"{', '.join(ladder)}); Auto routes {kind} steps")  # fmt: skip
            config.values["agent"][kind] = ""

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
                amount = money_value(value)
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
