"""Finding 2 (high): model and server text must not drive the terminal.

Escape sequences in a reply, an error body, a server-chosen model name or a stored
question reach no terminal raw: not `rung ask`'s stdout or stderr, not the chat view,
not `--resume`, `rung sessions`, `rung cost` or an export. Stored text stays as it came.
"""

from __future__ import annotations

import json
from pathlib import Path

from rung.engine.config import load_config
from rung.engine.safe_text import for_terminal
from rung.engine.store import open_store
from rung.tui.app import RungApp
from rung.tui.widgets.messages import MessageList
from tests.conftest import wait_for
from tests.fakes import Send, Status, json_reply, openai_stream
from tests.test_cli import rung

OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # write "pwned" to the clipboard
TITLE = "\x1b]0;pwned\x1b\\"  # retitle the window (ESC-terminated)
CLEAR = "\x1b[2J\x1b[H"  # clear the screen
C1_CSI = "\x9b2J"  # the 8-bit form of CSI
HOSTILE = ["Sure. ", OSC52, "Here ", TITLE, "it is", CLEAR, " done", C1_CSI, "\r\nbye"]


def assert_inert(text: str) -> None:
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    assert "\r" not in text


def test_sanitizer_makes_controls_visible_and_keeps_layout() -> None:
    shown = for_terminal("a\tb\nc" + OSC52 + "\x00\x7f" + C1_CSI + "x\r\ny\rz")
    assert shown.startswith("a\tb\nc␛]52;c;cHduZWQ=␇␀␡")
    assert "\ufffd2Jx\ny␍z" in shown
    assert_inert(shown)


def test_rung_ask_prints_a_hostile_reply_inert(tmp_path: Path, servers) -> None:
    api = servers(lambda r: openai_stream(HOSTILE))
    base = ["ask", "--tier", "custom", "--base-url", api.url + "/v1", "--model", "m"]
    result = rung(tmp_path, *base, "hi")
    assert result.returncode == 0, result.stderr
    assert_inert(result.stdout)
    assert "␛]52;c;cHduZWQ=" in result.stdout and "it is" in result.stdout
    as_json = rung(tmp_path, *base, "--json", "hi")
    assert_inert(as_json.stdout)
    assert json.loads(as_json.stdout)["text"] == "".join(HOSTILE)  # the data is intact
    # Stored as received; shown inert everywhere it is read back.
    store = open_store(data_dir_of(tmp_path))
    try:
        assert store.transcript(1)[1].content == "".join(HOSTILE)
    finally:
        store.close()
    assert_inert(rung(tmp_path, "export").stdout)


def data_dir_of(tmp_path: Path) -> Path:
    return tmp_path / "data" / "rung"


def test_error_bodies_and_html_pages_reach_stderr_inert(tmp_path: Path, servers) -> None:
    (tmp_path / "config" / "rung").mkdir(parents=True)
    (tmp_path / "config" / "rung" / "config.toml").write_text("[network]\nmax_retries = 0\n")
    page = f"<html><title>{TITLE}</title><body>{CLEAR}Bad gateway{OSC52}</body></html>"
    api = servers(lambda r: [Status(502, {}, "text/html"), Send(page.encode())])
    result = rung(tmp_path, "ask", "--tier", "custom", "--base-url", api.url + "/v1",
                  "--model", "m", "hi")  # fmt: skip
    assert result.returncode == 1
    assert_inert(result.stderr)
    assert "502" in result.stderr


def test_server_chosen_model_names_and_stored_questions_list_inert(tmp_path: Path, servers) -> None:
    evil_model = "qwen" + TITLE + CLEAR

    def handler(request):  # type: ignore[no-untyped-def]
        if request.path.endswith("/models"):
            return json_reply(200, {"data": [{"id": evil_model}]})
        return openai_stream(["ok"], model=evil_model,
                             usage={"prompt_tokens": 5, "completion_tokens": 1})  # fmt: skip

    api = servers(handler)
    result = rung(tmp_path, "ask", "--tier", "selfhosted", "--base-url", api.url + "/v1",
                  stdin=f"question {OSC52} with escapes")  # fmt: skip
    assert result.returncode == 0, result.stderr
    for command in (["sessions"], ["cost"], ["cost", "--json"], ["export"]):
        out = rung(tmp_path, *command)
        assert out.returncode == 0, out.stderr
        assert_inert(out.stdout + out.stderr)
    assert "qwen" in rung(tmp_path, "cost").stdout


async def test_the_chat_view_shows_a_hostile_reply_inert(servers, monkeypatch) -> None:
    api = servers(lambda r: openai_stream(HOSTILE))
    config = load_config()
    config.set("ladder", "rungs", ["custom"])
    config.providers["custom"] = {"base_url": api.url + "/v1", "model": "m" + CLEAR}
    app = RungApp(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"hi", "enter")
        await wait_for(lambda: len(app.chat.replies) == 1 and not app.chat.busy)
        item = app.chat.query_one(MessageList).assistant_items()[0]
        assert item.text == "".join(HOSTILE)  # kept as received (copy, history)
        assert_inert(item.markdown.source)
        assert_inert(str(item.query_one(".meta").render()))
        assert_inert(str(app.chat.query_one("StatusBar").render()))
        session_id = app.session.session_id
    # --resume shows it again, still inert.
    again = RungApp(config, resume=session_id)
    async with again.run_test(size=(100, 30)):
        messages = again.chat.query_one(MessageList)
        await wait_for(lambda: len(messages.assistant_items()) == 1)
        assert_inert(messages.assistant_items()[0].markdown.source)


async def test_a_failure_note_with_an_html_page_is_inert(servers) -> None:
    page = f"<html>{CLEAR}<h1>502 Bad Gateway</h1>{OSC52}</html>"
    api = servers(lambda r: [Status(502, {}, "text/html"), Send(page.encode())])
    config = load_config()
    config.set("ladder", "rungs", ["custom"])
    config.set("network", "max_retries", 0)
    config.providers["custom"] = {"base_url": api.url + "/v1", "model": "m"}
    app = RungApp(config)
    shown: list[str] = []
    notify = app.notify

    def recording_notify(message: str, **kwargs: object) -> None:
        shown.append(message)
        notify(message, **kwargs)  # type: ignore[arg-type]

    app.notify = recording_notify  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"hi", "enter")
        await wait_for(lambda: len(app.chat.replies) == 1 and not app.chat.busy)
        item = app.chat.query_one(MessageList).assistant_items()[0]
        assert item.status == "failed"
        assert_inert(item.markdown.source)
        assert "502" in item.markdown.source
    assert any("502" in message for message in shown)
    for message in shown:
        assert_inert(message)
