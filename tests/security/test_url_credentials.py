"""Credentials in a base URL (``http://user:PW@host/v1?token=...``) go to the host and
nowhere else: not into errors, the history, `rung sessions`, exports or the SQLite file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from rung.tiers.urls import display_url, origin, url_secrets
from tests.fakes import Request, Step, json_reply, openai_stream
from tests.test_cli import rung
from tests.test_secrets import memory_keyring  # noqa: F401

PASSWORD = "PWcanary7f3e9a"
TOKEN = "TOKcanary51b2c8"


@pytest.mark.parametrize(
    "url,shown",
    [
        (f"http://alice:{PASSWORD}@gw.example/v1", "http://gw.example/v1"),
        (f"https://gw.example/v1?token={TOKEN}", "https://gw.example/v1?token=****"),
        (
            f"https://gw.example/v1?api-version=2024&api_key={TOKEN}&x=1",
            "https://gw.example/v1?api-version=2024&api_key=****&x=1",
        ),
        (
            f"https://gw.example/v1?X-Amz-Signature={TOKEN}",
            "https://gw.example/v1?X-Amz-Signature=****",
        ),
        (f"https://gw.example/v1#access_token={TOKEN}", "https://gw.example/v1#access_token=****"),
        (f"https://{TOKEN}@gw.example:8443/v1", "https://gw.example:8443/v1"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("http://[::1:bad/v1", "(a malformed URL)"),
    ],
)
def test_display_url_drops_userinfo_and_masks_secret_values(url: str, shown: str) -> None:
    assert display_url(url) == shown
    assert PASSWORD not in display_url(url) and TOKEN not in display_url(url)


def test_url_secrets_and_origin() -> None:
    url = f"http://alice:{PASSWORD}@GW.example:80/v1?sig={TOKEN}"
    assert PASSWORD in url_secrets(url) and TOKEN in url_secrets(url)
    assert origin(url) == "http://gw.example"  # no credentials, default port dropped


def _assert_nowhere(tmp_path: Path, *texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and TOKEN not in text, text
        assert "alice" not in text, text
    data = tmp_path / "data" / "rung"
    for path in data.glob("rung.db*"):  # the database, its WAL and shared memory
        raw = path.read_bytes()
        assert PASSWORD.encode() not in raw and TOKEN.encode() not in raw, path.name


def test_credentials_in_base_url_reach_the_host_but_never_the_screen_or_history(
    tmp_path: Path, servers
) -> None:
    seen: list[Request] = []

    def handler(r: Request) -> list[Step]:
        seen.append(r)
        return json_reply(404, {"error": {"message": "The model does not exist"}})

    api = servers(handler)
    host = api.url.removeprefix("http://")
    base = f"http://alice:{PASSWORD}@{host}/v1?token={TOKEN}"
    result = rung(tmp_path, "ask", "--tier", "custom", "--model", "m", "--base-url", base, "hi")
    assert result.returncode == 1
    # The host got the real URL: the query after the path, the user info as Basic auth.
    assert seen and seen[0].path == f"/v1/chat/completions?token={TOKEN}"
    basic = base64.b64decode(seen[0].headers["authorization"].removeprefix("Basic "))
    assert basic.decode() == f"alice:{PASSWORD}"
    # The error names where it went, without the credentials.
    assert f"answered 404 for model 'm' at http://{host}/v1?token=****" in result.stderr
    sessions = rung(tmp_path, "sessions").stdout
    sessions_json = rung(tmp_path, "sessions", "--json").stdout
    exported = rung(tmp_path, "export").stdout
    assert "answered 404" in sessions_json  # the error is in the history, cleaned
    _assert_nowhere(tmp_path, result.stderr, result.stdout, sessions, sessions_json, exported)


def test_selfhosted_discovery_errors_hide_the_credentials(tmp_path: Path, servers) -> None:
    """The self-hosted rung asks /models first; its errors quote the base URL."""
    api = servers(lambda r: json_reply(500, {"error": "down"}))
    host = api.url.removeprefix("http://")
    base = f"http://alice:{PASSWORD}@{host}/v1?token={TOKEN}"
    result = rung(tmp_path, "ask", "--tier", "selfhosted", "--base-url", base, "hi")
    assert result.returncode == 1
    assert f"http://{host}/v1?token=****" in result.stderr
    sessions_json = rung(tmp_path, "sessions", "--json").stdout
    _assert_nowhere(tmp_path, result.stderr, sessions_json)


def test_a_base_url_with_a_query_still_answers(tmp_path: Path, servers) -> None:
    seen: list[Request] = []

    def handler(r: Request) -> list[Step]:
        seen.append(r)
        return openai_stream(["fine"], usage={"prompt_tokens": 5, "completion_tokens": 1})

    api = servers(handler)
    base = f"{api.url}/v1?api-version=2024-06&token={TOKEN}"
    result = rung(tmp_path, "ask", "--tier", "custom", "--model", "m", "--json",
                  "--base-url", base, "hi")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["text"] == "fine"
    assert seen[0].path == f"/v1/chat/completions?api-version=2024-06&token={TOKEN}"


async def test_settings_show_a_selfhosted_url_without_its_credentials(memory_keyring) -> None:  # noqa: F811
    from rung.engine.config import load_config
    from rung.tui.app import RungApp
    from rung.tui.settings import SettingsScreen
    from rung.tui.widgets.settings_ladder import LadderEditor
    from tests.conftest import wait_for

    config = load_config()
    config.set("selfhosted", "base_url", f"http://alice:{PASSWORD}@127.0.0.1:9/v1?token={TOKEN}")
    app = RungApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await wait_for(lambda: isinstance(app.screen, SettingsScreen))
        await pilot.pause()
        state = app.screen.query_one(LadderEditor).states["selfhosted"]
        assert state == "your server at http://127.0.0.1:9/v1?token=****"
