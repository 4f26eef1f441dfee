"""`rung` as a user runs it: a subprocess, real model, isolated directories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import subprocess_env


def rung(tmp_path: Path, *args: str, stdin: str | None = None, cwd: Path | None = None,
         **env: str):  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "rung", *args],
        input=stdin if stdin is not None else "",  # never the test runner's own stdin
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(tmp_path, **env),
    )


def test_ask_streams_the_answer_and_exits_zero(tmp_path: Path) -> None:
    result = rung(tmp_path, "ask", "--max-tokens", "12", "What is 2+2?")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) > 3
    # Nothing on stderr but, when 12 tokens were not enough, that the answer was cut.
    assert result.stderr in ("", "rung: answer cut at the --max-tokens limit (12)\n")


def test_ask_reads_the_question_from_stdin_and_prints_json(tmp_path: Path) -> None:
    result = rung(tmp_path, "ask", "--json", "--max-tokens", "10", stdin="hello there")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"text", "tier", "model", "finish_reason", "usage", "cost_usd"}
    assert data["tier"] == "local" and data["model"] == "SmolLM2-135M-Instruct"
    assert data["text"]
    usage = data["usage"]
    assert set(usage) == {
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "estimated",
    }
    assert usage["input_tokens"] > 5 and 1 <= usage["output_tokens"] <= 10
    assert usage["estimated"] is False


def test_ask_with_a_missing_model_fails_on_stderr(tmp_path: Path) -> None:
    result = rung(tmp_path, "ask", "--model", str(tmp_path / "missing.gguf"), "hi")
    assert result.returncode == 1
    assert "missing.gguf" in result.stderr and "not found" in result.stderr
    assert result.stdout.strip() == ""


def test_ask_without_a_question_is_a_usage_error(tmp_path: Path) -> None:
    result = rung(tmp_path, "ask", stdin="")
    assert result.returncode == 2 and "no question" in result.stderr


def test_ask_combines_the_question_with_piped_text(tmp_path: Path) -> None:
    from tests.fakes import ScriptedServer, anthropic_stream

    server = ScriptedServer(lambda r: anthropic_stream(["fix: handle empty input"]))
    try:
        result = rung(tmp_path, "ask", "--tier", "anthropic", "--base-url", server.url + "/v1",
                      "Write a commit message for this diff",
                      stdin="--- a/calc.py\n+++ b/calc.py\n-    return a - b\n+    return a + b\n",
                      ANTHROPIC_API_KEY="sk-ant-test")  # fmt: skip
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    sent = server.requests[0].json()["messages"][0]["content"][0]["text"]
    assert sent.startswith("Write a commit message for this diff\n\n--- a/calc.py")
    assert "+    return a + b" in sent


def test_version_and_help(tmp_path: Path) -> None:
    assert rung(tmp_path, "--version").stdout.startswith("rung ")
    help_text = rung(tmp_path, "--help").stdout
    assert "ask" in help_text and "--tier" in help_text
    ask_help = rung(tmp_path, "ask", "--help").stdout
    for option in ("--tier", "--model", "--max-tokens", "--json", "--base-url"):
        assert option in ask_help
