"""`@file` mentions attach files to a message, in the chat screen and in `rung ask`."""

from __future__ import annotations

from pathlib import Path

from rung.engine.attachments import MAX_FILE_BYTES, expand
from rung.engine.config import load_config
from rung.tui.app import RungApp
from rung.tui.widgets.messages import MessageList
from tests.conftest import wait_for
from tests.fakes import anthropic_stream
from tests.test_cli import rung

CODE = "def add(a, b):\n    return a - b  # bug\n"


def test_expand_attaches_real_text_files_only(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "calc.py").write_text(CODE)
    (tmp_path / "big.log").write_text("x" * (MAX_FILE_BYTES + 1))
    (tmp_path / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    text = (
        "Fix @src/calc.py and @src/calc.py, mail me@example.com, see @big.log @img.png "
        "@nope/missing.py\n```python\n@app.route('/x')\n```"
    )
    result = expand(text, tmp_path)
    content, attached, problems = result.text, result.attached, result.problems
    assert [a.name for a in attached] == ["src/calc.py"]  # once, though mentioned twice
    assert content.startswith(text)
    assert f'<file path="src/calc.py">\n{CODE.rstrip()}\n</file>' in content
    joined = "\n".join(problems)
    assert "@big.log" in joined and "too big" in joined
    assert "@img.png: not a text file" in joined
    assert "@nope/missing.py: no such file" in joined
    assert "example.com" not in joined and "app.route" not in joined


def test_no_mentions_leaves_the_text_alone(tmp_path: Path) -> None:
    result = expand("plain question", tmp_path)
    assert (result.text, result.attached, result.problems) == ("plain question", [], [])


async def test_chat_sends_the_file_and_shows_what_was_attached(
    servers, monkeypatch, tmp_path: Path
) -> None:
    (tmp_path / "calc.py").write_text(CODE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    api = servers(lambda r: anthropic_stream(["It subtracts."]))
    config = load_config()
    config.set("ladder", "rungs", ["local", "anthropic"])
    config.providers["anthropic"] = {"base_url": api.url + "/v1"}
    app = RungApp(config)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press(*"Why is @calc.py wrong?", "enter")
        await wait_for(lambda: len(app.chat.replies) == 1 and not app.chat.busy, 30)
        user = app.chat.query_one(MessageList).query("MessageItem").first()
        assert "attached calc.py (39 B)" in str(user.query_one(".meta").render())
        sent = api.requests[0].json()["messages"][0]["content"][0]["text"]
        assert "return a - b  # bug" in sent  # the model got the file
        reply = app.chat.query_one(MessageList).assistant_items()[0]
        assert str(reply.query_one(".meta").render()).startswith("anthropic")  # it climbed
        from rung.tiers.router import features

        assert "attached files" in features(app.conversation.request(app.chat.history[:1])).signals


def test_ask_attaches_files_from_the_working_directory(tmp_path: Path, servers) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / "calc.py").write_text(CODE)
    api = servers(lambda r: anthropic_stream(["ok"]))
    result = rung(tmp_path, "ask", "--tier", "anthropic", "--base-url", api.url + "/v1",
                  "Review @calc.py", cwd=work, ANTHROPIC_API_KEY="sk-ant-test")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "attached calc.py (39 B)" in result.stderr
    assert "return a - b" in api.requests[0].json()["messages"][0]["content"][0]["text"]
