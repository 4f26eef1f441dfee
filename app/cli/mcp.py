"""`rung mcp`: the MCP servers, headless.

    rung mcp list           every server: transport, state, tool count, why it failed
    rung mcp test NAME      start NAME (even a disabled one), list its tools
    rung mcp trust          trust this project's .mcp.json as it is now
    rung mcp key ENTRY      store a secret for ${keyring:ENTRY} (read from stdin)

Exit status: 0 ok, 1 a server failed (or nothing to trust, a key not stored), 2 bad
usage. Servers started here are stopped before the command ends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from rung.engine.config import Config, data_dir
from rung.engine.mcp.config import KEY_PREFIX, ServerConfig
from rung.engine.mcp.manager import (
    configured_servers,
    key_lookup,
    project_file,
    untrusted_notice,
)
from rung.engine.safe_text import for_terminal, one_line


def _warn(text: str) -> None:
    print(f"rung: {for_terminal(text)}", file=sys.stderr)


def run_mcp(args: argparse.Namespace, config: Config) -> int:
    action = args.mcp_action
    if action in ("test", "key") and not args.name:
        _warn(f"`rung mcp {action}` needs a NAME")
        return 2
    if action == "trust":
        return _trust(Path.cwd())
    if action == "key":
        return _key(args.name, config)
    servers, problems = configured_servers(config.raw, Path.cwd(), data_dir())
    for problem in problems:
        _warn(problem)
    if action == "test":
        chosen = [s for s in servers if s.name == args.name]
        if not chosen:
            known = ", ".join(s.name for s in servers) or "none configured"
            _warn(f"no MCP server named {args.name!r} (servers: {known})")
            return 2
        return _test(chosen[0], config, args.json)
    return _list(servers, config, args.json)


async def _start(servers: list[ServerConfig], config: Config) -> tuple[Any, list[Any]]:
    from rung.engine.mcp.manager import McpManager

    manager = McpManager(servers, data_dir() / "mcp", key_lookup(config), cwd=Path.cwd())
    try:
        tools, _ = await manager.start()
    finally:
        await manager.aclose()
    return manager, tools


def _list(servers: list[ServerConfig], config: Config, as_json: bool) -> int:
    enabled = [s for s in servers if s.enabled]
    manager, tools = asyncio.run(_start(enabled, config)) if enabled else (None, [])
    rows: list[dict[str, Any]] = []
    for server in servers:
        running = manager.servers.get(server.name) if manager else None
        failed = running is not None and running.state == "failed"
        count = sum(1 for t in tools if t.server is running) if running else None
        rows.append({
            "name": server.name,
            "transport": server.transport,
            "state": "disabled" if running is None else ("failed" if failed else "running"),
            "tools": None if failed else count,
            "reason": running.reason if failed else "",
            "source": server.source,
            "target": server.describe(),
        })  # fmt: skip
    found = project_file(Path.cwd(), data_dir())
    if found is not None and not found.trusted:
        for server in found.servers:
            rows.append({"name": server.name, "transport": server.transport,
                         "state": "untrusted", "tools": None, "reason": untrusted_notice(found),
                         "source": server.source, "target": server.describe()})  # fmt: skip
    if as_json:
        print(json.dumps({"servers": rows}, ensure_ascii=False, indent=1))
    elif not rows:
        print("No MCP servers configured: add [mcp.servers.NAME] to config.toml.")
    for row in rows if not as_json else []:
        tools_text = "-" if row["tools"] is None else str(row["tools"])
        line = f"{row['name']:<16} {row['transport']:<5} {row['state']:<9} {tools_text:>5}  "
        detail = row["reason"] or row["target"]
        print(for_terminal(line + one_line(detail, 200)))
    return 1 if any(r["state"] == "failed" for r in rows) else 0


def _test(server: ServerConfig, config: Config, as_json: bool) -> int:
    from dataclasses import replace

    manager, tools = asyncio.run(_start([replace(server, enabled=True)], config))
    running = manager.servers[server.name]
    if running.state == "failed":
        _warn(f"MCP server {server.name} failed: {running.reason}")
        return 1
    if as_json:
        listed = [{"name": t.name, "tool": t.remote.name, "read_only": t.read_only,
                   "description": t.description} for t in tools]  # fmt: skip
        print(json.dumps({"server": server.name, "tools": listed}, ensure_ascii=False, indent=1))
        return 0
    print(for_terminal(f"{server.name}: started ({server.describe()}), {len(tools)} tools"))
    for tool in tools:
        mark = "read-only" if tool.read_only else "         "
        about = tool.description.removeprefix(f"[MCP server {server.name}] ")
        print(for_terminal(f"  {tool.name:<40} {mark}  {one_line(about, 100)}"))
    return 0


def _trust(root: Path) -> int:
    from rung.engine.mcp.trust import TrustStore

    found = project_file(root, data_dir())
    if found is None:
        _warn(f"there is no .mcp.json in {root}")
        return 1
    for problem in found.problems:
        _warn(problem)
    try:
        TrustStore(data_dir()).trust(root, found.path)
    except OSError as exc:
        _warn(f"could not save the trust ({exc.strerror or exc})")
        return 1
    print(for_terminal(f"Trusted {found.path} as it is now; a change to it is asked again."))
    for server in found.servers:
        print(for_terminal(f"  {server.name}: {server.describe()}"))
    return 0


def _key(entry: str, config: Config) -> int:
    from rung.engine.secrets import KeyStore, NoSafeStorageError

    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"Secret for ${{keyring:{entry}}} (not shown): ")
    else:
        value = sys.stdin.readline()
    if not value.strip():
        _warn("no secret given; nothing stored")
        return 1
    store = KeyStore(data_dir(), config.get("secrets", "plaintext_file"))
    usable, why = store.keyring_status()
    if not usable and not store.allow_plaintext_file:
        _warn(f"{why} Nothing was stored ([secrets] plaintext_file = true opts in to the file).")
        return 1
    try:
        where = store.set(KEY_PREFIX + entry, value)
    except (NoSafeStorageError, ValueError, KeyError) as exc:
        _warn(str(exc))
        return 1
    print(f'Stored in the {where}; write "${{keyring:{entry}}}" in a header or env value.')
    return 0
