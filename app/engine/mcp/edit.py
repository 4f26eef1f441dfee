"""Adding, changing and disabling ``[mcp.servers.NAME]`` in the config file (for
Settings → MCP): a server is checked as the loader checks it before anything is written,
and a value that looks like a key is refused (it belongs in the keyring)."""

from __future__ import annotations

import contextlib
import copy
import shlex
from dataclasses import dataclass
from typing import Any

from rung.engine.config import Config
from rung.engine.mcp.config import ServerConfigError, literal_secrets, parse_server


@dataclass
class ServerForm:
    """A server as the form's fields hold it (text, as typed)."""

    name: str = ""
    command: str = ""  # the program and its arguments, shell words: npx -y pkg /dir
    url: str = ""
    env: str = ""  # KEY=VALUE words: LOG_LEVEL=warn TOKEN='${keyring:gh}'
    headers: str = ""  # KEY=VALUE words: Authorization='Bearer ${keyring:gh}'
    timeout: str = ""


def _pairs(text: str, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for word in shlex.split(text):
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ServerConfigError(f"{what}: {word!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs


def form_of(table: dict[str, Any], name: str) -> ServerForm:
    """The form's fields for an existing server's table."""
    words = [table.get("command", ""), *table.get("args", [])] if table.get("command") else []

    def pairs(values: Any) -> str:
        items = values.items() if isinstance(values, dict) else []
        return " ".join(f"{k}={shlex.quote(str(v))}" for k, v in items)

    timeout = table.get("timeout")
    return ServerForm(
        name=name,
        command=shlex.join(str(w) for w in words),
        url=str(table.get("url", "")),
        env=pairs(table.get("env")),
        headers=pairs(table.get("headers")),
        timeout="" if timeout is None else str(timeout),
    )


def table_of(form: ServerForm, enabled: bool = True) -> dict[str, Any]:
    """The ``[mcp.servers.NAME]`` table for a form. Raises ``ServerConfigError`` saying
    what is wrong (nothing is written then)."""
    try:
        words = shlex.split(form.command)
        table: dict[str, Any] = {}
        if words:
            table["command"], table["args"] = words[0], words[1:]
        if form.url.strip():
            table["url"] = form.url.strip()
        if form.env.strip():
            table["env"] = _pairs(form.env, "env")
        if form.headers.strip():
            table["headers"] = _pairs(form.headers, "headers")
    except ValueError as exc:  # shlex: an unclosed quote
        raise ServerConfigError(f"cannot read it: {exc}") from None
    if form.timeout.strip():
        try:
            table["timeout"] = float(form.timeout)
        except ValueError:
            raise ServerConfigError("the timeout must be a number of seconds") from None
    if not enabled:
        table["enabled"] = False
    server = parse_server(form.name.strip(), table)
    secrets = literal_secrets(server)
    if secrets:
        raise ServerConfigError(secrets[0])
    return table


def servers_table(config: Config) -> dict[str, Any]:
    """The ``[mcp.servers]`` tables as the file holds them (a copy)."""
    section = config.raw.get("mcp")
    servers = section.get("servers") if isinstance(section, dict) else None
    return dict(servers) if isinstance(servers, dict) else {}


def save_server(config: Config, old_name: str | None, form: ServerForm) -> str:
    """Write the form's server (replacing ``old_name``'s); its name. Raises
    ``ServerConfigError`` (nothing written) or ``OSError`` (the file is as it was).
    The servers are read from ``config`` (what the screen shows)."""
    servers = servers_table(config)
    previous = servers.get(old_name) if old_name else None
    enabled = previous.get("enabled", True) if isinstance(previous, dict) else True
    table = table_of(form, enabled)
    name = form.name.strip()
    if name != old_name and name in servers:
        raise ServerConfigError(f"there is already a server named {name!r}")
    updated = {k: v for k, v in servers.items() if k != old_name}
    updated[name] = table
    _write(config, dict(sorted(updated.items())))
    return name


def set_enabled(config: Config, name: str, enabled: bool) -> None:
    servers = servers_table(config)
    table = dict(servers[name])
    table.pop("enabled", None)
    if not enabled:
        table["enabled"] = False
    _write(config, {**servers, name: table})


def _write(config: Config, servers: dict[str, Any]) -> None:
    """Write only ``[mcp]`` into the file as it is on disk (another screen's unsaved
    edits of ``config``, e.g. Settings' copy, are not written by this), then into
    ``config`` too, so saving it later keeps the change."""
    from rung.engine.config import load_config

    on_disk = load_config(config.path)
    if not on_disk.raw and config.path.is_file():
        with contextlib.suppress(OSError):
            if config.path.read_text(encoding="utf-8").strip():
                raise ServerConfigError(f"{config.path} cannot be read as TOML: fix it first")
    before = on_disk.raw.get("mcp")
    section = dict(before) if isinstance(before, dict) else {}
    section["servers"] = servers
    on_disk.raw["mcp"] = section
    on_disk.save()  # OSError: the file is as it was
    config.raw["mcp"] = copy.deepcopy(section)
