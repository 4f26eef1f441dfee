"""`rung mcp list|test|trust|key` as a user runs them: real `rung` subprocesses, the real
demo server over stdio and streamable HTTP, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.mcp.helpers import DEMO, TOKEN, http_server
from tests.test_cli import rung

STDIO = f'command = "{sys.executable}"\nargs = ["{DEMO}", "stdio"]\n'


def write_config(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config" / "rung" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_list_shows_each_server_its_state_and_tool_count_and_fails_on_a_dead_one(
    tmp_path: Path,
) -> None:
    write_config(
        tmp_path,
        f"[mcp.servers.demo]\n{STDIO}\n"
        f'[mcp.servers.gone]\ncommand = "{tmp_path}/no-such-server"\n\n'
        f"[mcp.servers.off]\n{STDIO}enabled = false\n",
    )
    done = rung(tmp_path, "mcp", "list", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert lines["demo"].split()[1:4] == ["stdio", "running", "9"]
    assert lines["gone"].split()[1:3] == ["stdio", "failed"] and "not found" in lines["gone"]
    assert lines["off"].split()[1:4] == ["stdio", "disabled", "-"]
    as_json = json.loads(rung(tmp_path, "mcp", "list", "--json", cwd=tmp_path).stdout)
    assert [s["name"] for s in as_json["servers"]] == ["demo", "gone", "off"]


def test_test_starts_one_server_and_lists_its_tools(tmp_path: Path) -> None:
    write_config(tmp_path, f"[mcp.servers.demo]\n{STDIO}enabled = false\n")
    done = rung(tmp_path, "mcp", "test", "demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "demo: started" in done.stdout and "9 tools" in done.stdout
    assert "demo__read_fixture" in done.stdout and "read-only" in done.stdout
    assert "demo server: starting" not in done.stdout + done.stderr  # it went to the log
    unknown = rung(tmp_path, "mcp", "test", "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and "no MCP server named 'nope'" in unknown.stderr
    assert rung(tmp_path, "mcp", "test", cwd=tmp_path).returncode == 2
    assert rung(tmp_path, "mcp", "frobnicate", cwd=tmp_path).returncode == 2


def test_an_http_server_with_its_header_from_the_key_store(tmp_path: Path) -> None:
    with http_server() as url:
        write_config(
            tmp_path,
            "[secrets]\nplaintext_file = true\n\n"
            f'[mcp.servers.web]\nurl = "{url}"\n'
            'headers = { Authorization = "Bearer ${keyring:web}" }\n',
        )
        missing = rung(tmp_path, "mcp", "test", "web", cwd=tmp_path)
        assert missing.returncode == 1 and "rung mcp key web" in missing.stderr
        stored = rung(tmp_path, "mcp", "key", "web", stdin=TOKEN + "\n", cwd=tmp_path)
        assert stored.returncode == 0, stored.stderr
        assert TOKEN not in (tmp_path / "config" / "rung" / "config.toml").read_text()
        done = rung(tmp_path, "mcp", "test", "web", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "web__add" in done.stdout and TOKEN not in done.stdout + done.stderr


def test_a_projects_mcp_json_is_listed_untrusted_until_rung_mcp_trust(tmp_path: Path) -> None:
    write_config(tmp_path, "")
    project = tmp_path / "project"
    project.mkdir()
    mcp_json = project / ".mcp.json"
    spec = {"command": sys.executable, "args": [str(DEMO), "stdio"]}
    mcp_json.write_text(json.dumps({"mcpServers": {"proj": spec}}))
    before = rung(tmp_path, "mcp", "list", cwd=project)
    assert before.returncode == 0
    assert before.stdout.split()[:3] == ["proj", "stdio", "untrusted"]
    assert "is not trusted" in before.stderr
    trusted = rung(tmp_path, "mcp", "trust", cwd=project)
    assert trusted.returncode == 0 and "proj:" in trusted.stdout
    store = tmp_path / "data" / "rung" / "mcp_trust.json"
    assert store.stat().st_mode & 0o777 == 0o600
    assert not (project / ".rung").exists() and sorted(p.name for p in project.iterdir()) == [
        ".mcp.json"
    ]
    after = rung(tmp_path, "mcp", "list", cwd=project)
    assert after.returncode == 0, after.stderr
    assert after.stdout.split()[:4] == ["proj", "stdio", "running", "9"]
    # A changed file is asked about again.
    spec["args"].append("--changed")
    mcp_json.write_text(json.dumps({"mcpServers": {"proj": spec}}))
    again = rung(tmp_path, "mcp", "list", cwd=project)
    assert again.stdout.split()[:3] == ["proj", "stdio", "untrusted"]
