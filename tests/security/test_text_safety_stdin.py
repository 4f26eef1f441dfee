"""Issue 23 #7 and #8, issue 24: what `rung ask` reads from stdin, and what it says
about the answer it prints.

- stdin is read with a cap: `yes | rung ask` is refused in a moment, in little memory,
  with a clear message; `--truncate-stdin` sends the first 1 MiB and says so.
- the local tier refuses what cannot fit its context before tokenizing all of it.
- bytes that are not UTF-8 are sent as U+FFFD, said on stderr, and the turn is saved.
- an answer cut at the output token limit says so; money in `--json` is plain and short.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from rung.cli.pipes import MAX_STDIN_BYTES
from rung.tiers.base import ChatRequest, Failed, Message
from rung.tiers.local import LocalTier
from rung.tiers.turn import collect
from tests.conftest import subprocess_env
from tests.fakes import json_reply, openai_stream
from tests.test_cli import rung

# Runs `rung` as its only child, from a producer on its stdin, and reports rung's peak
# RSS (KiB), its exit status, stderr and the seconds it took. Address space is capped
# at 4 GB so that a version reading stdin whole fails fast instead of eating the machine.
MEASURE = r"""
import json, resource, subprocess, sys, time
producer = subprocess.Popen(json.loads(sys.argv[1]), stdout=subprocess.PIPE)
cap = lambda: resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
start = time.monotonic()
try:
    done = subprocess.run([sys.executable, "-m", "rung", *json.loads(sys.argv[2])],
                          stdin=producer.stdout, capture_output=True, timeout=60,
                          preexec_fn=cap)
    status, err = done.returncode, done.stderr.decode("utf-8", "replace")
    out = done.stdout.decode("utf-8", "replace")[-4000:]
except subprocess.TimeoutExpired:
    status, err, out = "timeout", "", ""
producer.stdout.close()
producer.kill()
producer.wait()
print(json.dumps({"rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "status": status, "stderr": err, "stdout": out,
                  "seconds": time.monotonic() - start}))
"""


def measured(tmp_path: Path, producer: list[str], *args: str, **env: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(producer), json.dumps(list(args))],
        capture_output=True, text=True, timeout=120, env=subprocess_env(tmp_path, **env),
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_an_endless_stdin_is_refused_at_once_in_little_memory(tmp_path: Path) -> None:
    run = measured(tmp_path, ["yes", "log line"], "ask", "what is wrong")
    assert run["status"] == 2, run
    assert "stdin is more than 1 MiB; nothing was sent" in run["stderr"]
    assert "--truncate-stdin" in run["stderr"] and "Traceback" not in run["stderr"]
    assert run["seconds"] < 15
    assert run["rss_kib"] < 250 * 1024, run  # the interpreter and Rung's imports: ~100 MB
    # Nothing was sent, so nothing was recorded.
    assert json.loads(rung(tmp_path, "sessions", "--json").stdout) == []


def test_truncate_stdin_sends_the_first_mib_and_says_so(tmp_path: Path, servers) -> None:
    api = servers(lambda r: openai_stream(["The log repeats one line."]))
    run = measured(
        tmp_path, ["yes", "log line"], "ask", "--truncate-stdin", "--tier", "custom",
        "--base-url", api.url + "/v1", "--model", "m", "what is wrong",
    )  # fmt: skip
    assert run["status"] == 0, run
    assert "sending its first 1 MiB only" in run["stderr"]
    assert run["rss_kib"] < 400 * 1024, run
    sent = api.requests[0].json()["messages"][-1]["content"]
    assert sent.startswith("what is wrong\n\nlog line\nlog line")
    assert MAX_STDIN_BYTES - 16 < len(sent.encode()) <= MAX_STDIN_BYTES + len("what is wrong\n\n")


def test_the_local_tier_refuses_20_mb_before_tokenizing_it(local_tier: LocalTier) -> None:
    huge = "log line: connection refused\n" * 700_000  # 20 MB
    start = time.monotonic()
    reply = asyncio.run(collect(local_tier, ChatRequest((Message("user", huge),), max_tokens=8)))
    took = time.monotonic() - start
    assert isinstance(reply.failed, Failed) and reply.failed.kind == "context"
    assert (
        "context window" in reply.failed.message and f"{local_tier.n_ctx}" in reply.failed.message
    )
    assert took < 2.0, took
    # A question that fits is still answered by the same tier.
    ok = asyncio.run(collect(local_tier, ChatRequest((Message("user", "Say hi"),), max_tokens=4)))
    assert ok.failed is None and ok.text


def test_an_old_huge_turn_is_dropped_without_tokenizing_it(local_tier: LocalTier) -> None:
    huge = "x = 1\n" * 2_000_000  # 12 MB, early in the conversation
    messages = (Message("user", huge), Message("assistant", "ok"), Message("user", "Say hi"))
    start = time.monotonic()
    reply = asyncio.run(collect(local_tier, ChatRequest(messages, max_tokens=4)))
    assert time.monotonic() - start < 3.0
    assert reply.failed is None and reply.text


def test_local_refuses_truncated_stdin_fast_and_small(tmp_path: Path) -> None:
    run = measured(tmp_path, ["yes", "log line"], "ask", "--truncate-stdin", "what is wrong")
    assert run["status"] == 1, run
    assert "context window" in run["stderr"] and "Traceback" not in run["stderr"]
    assert run["seconds"] < 20, run
    assert run["rss_kib"] < 700 * 1024, run


def test_stdin_that_is_not_utf8_is_sent_with_replacements(tmp_path: Path, servers) -> None:
    api = servers(lambda r: openai_stream(["Café, in Latin-1."]))
    result = subprocess.run(
        [sys.executable, "-m", "rung", "ask", "--tier", "custom", "--base-url",
         api.url + "/v1", "--model", "m", "what does this say?"],
        input=b"caf\xe9 cr\xe8me \xff\n", capture_output=True, timeout=120,
        env=subprocess_env(tmp_path),
    )  # fmt: skip
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert "stdin is not UTF-8 text: 3 byte(s)" in err and "surrogates" not in err
    sent = api.requests[0].json()["messages"][-1]["content"]
    assert sent == "what does this say?\n\ncaf\ufffd cr\ufffdme \ufffd"
    saved = json.loads(rung(tmp_path, "sessions", "--json").stdout)[0]["messages"]
    assert saved[0]["text"] == sent and saved[1]["text"] == "Café, in Latin-1."


def test_a_question_argument_that_is_not_utf8_is_sent_too(tmp_path: Path, servers) -> None:
    api = servers(lambda r: openai_stream(["ok"]))
    result = subprocess.run(
        [sys.executable, "-m", "rung", "ask", "--tier", "custom", "--base-url",
         api.url + "/v1", "--model", "m", b"caf\xe9?"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
        env=subprocess_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert api.requests[0].json()["messages"][-1]["content"] == "caf\ufffd?"


def test_an_answer_cut_at_max_tokens_says_so(tmp_path: Path) -> None:
    result = rung(tmp_path, "ask", "--max-tokens", "5", "Write a long story about a dragon.")
    assert result.returncode == 0, result.stderr
    assert "answer cut at the --max-tokens limit (5)" in result.stderr
    whole = rung(tmp_path, "ask", "--max-tokens", "300", "Say just: hi")
    assert "answer cut" not in whole.stderr


def test_a_remote_answer_cut_at_the_limit_says_so(tmp_path: Path, servers) -> None:
    api = servers(
        lambda r: openai_stream(
            ["Once upon", " a time"], finish="length",
            usage={"prompt_tokens": 9, "completion_tokens": 3},
        )
    )  # fmt: skip
    base = ["ask", "--tier", "custom", "--base-url", api.url + "/v1", "--model", "m"]
    result = rung(tmp_path, *base, "--max-tokens", "3", "--json", "story")
    assert result.returncode == 0, result.stderr
    assert "answer cut at the --max-tokens limit (3)" in result.stderr
    assert json.loads(result.stdout)["finish_reason"] == "length"


def test_gpu_time_money_in_json_is_short_and_plain(tmp_path: Path, servers) -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        if request.path.endswith("/models"):
            return json_reply(200, {"data": [{"id": "qwen"}]})
        return openai_stream(
            ["Hello", " there"], usage={"prompt_tokens": 5, "completion_tokens": 2}
        )

    api = servers(handler)
    result = rung(tmp_path, "ask", "--tier", "selfhosted", "--base-url", api.url + "/v1",
                  "--json", "hi")  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for amount in (data["cost_usd"], data["total_cost_usd"], data["attempts"][0]["cost_usd"]):
        assert "E" not in amount and Decimal(amount) > 0
        assert -Decimal(amount).as_tuple().exponent <= 10, amount  # not 32 digits
    assert data["cost_usd"] == data["total_cost_usd"]


def test_tiny_amounts_in_cost_and_sessions_json_are_plain_decimals(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from rung.engine.config import data_dir
    from rung.engine.store import open_store
    from rung.tiers.base import Usage
    from rung.tiers.meter import MessageCost
    from rung.tiers.pricing import Cost

    store = open_store(data_dir())
    try:
        session = store.start_session("ask")
        store.add_user_message(session, "hi")
        tiny = Cost(Decimal("0.00000007"), True, "gpu-time")  # 70 nano-dollars of GPU time
        record = MessageCost(
            "selfhosted", "selfhosted", "selfhosted", "qwen", Usage(5, 2), tiny, tiny,
            datetime.now(UTC),
        )  # fmt: skip
        store.add_reply(session, "hello", record)
    finally:
        store.close()
    cost = json.loads(rung(tmp_path, "cost", "--json").stdout)
    sessions = json.loads(rung(tmp_path, "sessions", "--json").stdout)
    amounts = [
        cost["today"]["total_usd"],
        cost["today"]["by_tier"]["selfhosted"],
        cost["today"]["by_model"][0]["usd"],
        sessions[0]["cost_usd"],
        sessions[0]["messages"][1]["cost_usd"],
    ]
    assert amounts == ["0.00000007"] * 5


ENDLESS_LINE = [
    sys.executable,
    "-c",
    "import sys; w = sys.stdout.write; w('{\"prompt\": \"' + 'x' * 5_000_000 + '\"}\\n');"
    ' w(\'{"prompt": "fix the bug"}\\n\')',
]


def test_route_reads_json_lines_each_with_a_cap(tmp_path: Path) -> None:
    run = measured(tmp_path, ENDLESS_LINE, "route", "--ladder", "local,api")
    assert run["status"] == 1, run
    lines = [json.loads(line) for line in str(run["stdout"]).splitlines()]
    assert lines[0] == {"error": "line 1: longer than 1 MiB"}
    assert lines[1]["tier"] in ("local", "api")  # the next line is still answered
    assert run["rss_kib"] < 250 * 1024, run


def test_compare_reads_a_prompts_file_with_a_cap(tmp_path: Path) -> None:
    run = measured(tmp_path, ["true"], "compare", "--rungs", "local", "/dev/zero")
    assert run["status"] != 0 and "more than 8 MiB of prompts" in str(run["stderr"]), run
    assert "Traceback" not in str(run["stderr"])
    assert run["seconds"] < 15 and run["rss_kib"] < 250 * 1024, run
