"""MCP tools through the whole agent, headless (`rung ask --agent`, a real subprocess):
a scripted model on a real local HTTP server calls the real stdio demo server's tools in
each dialect (OpenAI, Anthropic, Gemini) and checks every result fed back; a deny rule
stops a call before it runs; a hung call times out and the agent goes on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.scripted_model import DIALECTS, ScriptedModel, Turn
from tests.mcp.helpers import DEMO
from tests.test_cli import rung

KEYS = {"anthropic": {"ANTHROPIC_API_KEY": "sk-ant-test-1234567"},
        "gemini": {"GEMINI_API_KEY": "g-test-1234567"}}  # fmt: skip


def setup(tmp_path: Path, servers: str) -> Path:
    config = tmp_path / "config" / "rung" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[prices."m"]\ninput = "1.00"\noutput = "2.00"\n\n' + servers)
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=30)
    return root


def agent(tmp_path: Path, url: str, dialect: str, *args: str, cwd: Path):  # type: ignore[no-untyped-def]
    tier, base_url = {"openai": ("custom", url + "/v1"), "anthropic": ("anthropic", url + "/v1"),
                      "gemini": ("gemini", url)}[dialect]  # fmt: skip
    base = ["ask", "--agent", "--tier", tier, "--base-url", base_url, "--model", "m"]
    return rung(tmp_path, *base, *args, cwd=cwd, **KEYS.get(dialect, {}))


DEMO_SERVER = (
    f'[mcp.servers.demo]\ncommand = "{sys.executable}"\nargs = ["{DEMO}", "stdio"]\ntimeout = 3\n'
)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_agent_calls_mcp_tools_in_each_dialect_under_the_rules(
    tmp_path: Path, servers, dialect: str
) -> None:
    root = setup(tmp_path, DEMO_SERVER)
    script = [
        Turn(calls=[("demo__add", {"a": 2, "b": 40})]),
        Turn(calls=[("demo__read_fixture", {})], expect=("42",)),
        Turn(calls=[("demo__crash", {})], expect=("the answer is 42",)),
        Turn(calls=[("demo__sleep", {"seconds": 60})], expect=("deny mcp:demo/crash", "not run")),
        Turn(text="All done.", expect=("did not answer sleep within 3 s",)),
    ]
    model = ScriptedModel(script, dialect=dialect)
    api = servers(model)
    done = agent(tmp_path, api.url, dialect, "--allow", "mcp:demo/*", "--deny", "mcp:demo/crash",
                 "--json", "Use the demo server", cwd=root)  # fmt: skip
    assert model.problems == []
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    data = json.loads(done.stdout)
    assert data["text"] == "All done." and data["num_steps"] == 5
    assert [t["tool"] for t in data["tools"]] == [
        "demo__add", "demo__read_fixture", "demo__crash", "demo__sleep"
    ]  # fmt: skip
    assert [t["is_error"] for t in data["tools"]] == [False, False, True, True]
    # The denied call never reached the server.
    log = (tmp_path / "data" / "rung" / "mcp" / "demo.log").read_text()
    assert "crashing on purpose" not in log
    # The MCP tools were offered after the built-in ones, the same list every step.
    first = model.bodies[0]
    assert all(b["tools"] == first["tools"] for b in model.bodies)
    assert "demo__add" in json.dumps(first["tools"])


def test_an_untrusted_mcp_json_is_ignored_headless_and_said_once(tmp_path: Path, servers) -> None:
    root = setup(tmp_path, "")
    spec = {"command": sys.executable, "args": [str(DEMO), "stdio"]}
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": spec}}))
    model = ScriptedModel([Turn(text="Nothing to do.")])
    api = servers(model)
    done = agent(tmp_path, api.url, "openai", "hello", cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("is not trusted") == 1 and "rung mcp trust" in done.stderr
    assert "proj__" not in json.dumps(model.bodies[0]["tools"])
    assert not (tmp_path / "data" / "rung" / "mcp" / "proj.log").exists()
    assert rung(tmp_path, "mcp", "trust", cwd=root).returncode == 0
    model = ScriptedModel([Turn(text="Now I see it.")])
    api = servers(model)
    done = agent(tmp_path, api.url, "openai", "hello", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "is not trusted" not in done.stderr
    assert "proj__echo" in json.dumps(model.bodies[0]["tools"])


def test_a_server_that_cannot_start_is_said_once_and_the_agent_goes_on(
    tmp_path: Path, servers
) -> None:
    root = setup(tmp_path, f'[mcp.servers.gone]\ncommand = "{tmp_path}/no-such-server"\n\n'
                           + DEMO_SERVER)  # fmt: skip
    model = ScriptedModel([
        Turn(calls=[("demo__echo", {"text": "still works"})]),
        Turn(text="Done.", expect=("still works",)),
    ])  # fmt: skip
    api = servers(model)
    done = agent(tmp_path, api.url, "openai", "--allow", "mcp:demo/echo", "go", cwd=root)
    assert model.problems == []
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("MCP server gone failed: the program was not found") == 1
    assert "Traceback" not in done.stderr
    assert "gone__" not in json.dumps(model.bodies[0]["tools"])
