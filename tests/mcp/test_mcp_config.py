"""`[mcp.servers.NAME]` as a user writes it: good tables read, bad ones reported and left
out (the rest still works), secrets only by reference."""

from __future__ import annotations

import tomllib
from pathlib import Path

from rung.engine.mcp.config import project_servers, servers_from_raw

GOOD = """
[mcp.servers.files]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
env = { LOG_LEVEL = "warn" }

[mcp.servers.tracker]
url = "https://mcp.example.com/mcp"
headers = { Authorization = "Bearer ${keyring:tracker}" }
timeout = 90
enabled = false
"""


def test_servers_are_read_sorted_with_their_transport_and_defaults() -> None:
    servers, problems = servers_from_raw(tomllib.loads(GOOD))
    assert problems == []
    assert [s.name for s in servers] == ["files", "tracker"]
    files, tracker = servers
    assert files.transport == "stdio" and files.args[0] == "-y" and files.env["LOG_LEVEL"] == "warn"
    assert files.enabled and files.timeout == 60 and files.start_timeout == 30
    assert tracker.transport == "http" and not tracker.enabled and tracker.timeout == 90
    assert "${keyring:tracker}" in tracker.headers["Authorization"]


def test_a_bad_table_is_reported_and_left_out_the_others_kept() -> None:
    raw = tomllib.loads(
        GOOD
        + """
[mcp.servers.both]
command = "x"
url = "http://x"

[mcp.servers.slow]
command = "x"
timeout = -1

[mcp.servers."bad name!"]
command = "x"

[mcp.servers.1password]
command = "x"
"""
    )
    servers, problems = servers_from_raw(raw)
    assert [s.name for s in servers] == ["files", "tracker"]
    text = "\n".join(problems)
    assert "[mcp.servers.both] needs either `command`" in text
    assert "[mcp.servers.slow] `timeout` must be more than 0" in text
    assert "'bad name!' must start with a letter" in text
    assert "'1password' must start with a letter" in text


def test_a_key_written_into_the_file_is_warned_about() -> None:
    raw = tomllib.loads(
        '[mcp.servers.gh]\nurl = "https://x/mcp"\n'
        'headers = { Authorization = "Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789" }\n'
    )
    servers, problems = servers_from_raw(raw)
    assert len(servers) == 1
    assert len(problems) == 1 and "looks like a key" in problems[0]
    assert "ghp_" not in problems[0]  # the warning does not repeat the key


def test_a_projects_mcp_json_in_the_common_format(tmp_path: Path) -> None:
    path = tmp_path / ".mcp.json"
    path.write_text(
        '{"mcpServers": {"fs": {"command": "npx", "args": ["-y", "srv"], "env": {"A": "1"}},'
        ' "web": {"type": "http", "url": "https://e.com/mcp", "headers": {"X": "y"}},'
        ' "broken": {"args": []}}}'
    )
    servers, problems = project_servers(path)
    assert [s.name for s in servers] == ["fs", "web"]
    assert servers[0].source == str(path)
    assert len(problems) == 1 and "'broken'" in problems[0]
    path.write_text("{not json")
    servers, problems = project_servers(path)
    assert servers == [] and "cannot be read" in problems[0]
