"""A key goes only to a host the user chose (critical finding): a hostile edit planted
``[providers.anthropic] base_url = "http://attacker"`` in config.toml, and the next
ordinary `rung ask --tier anthropic hello` sent the Anthropic key there.

The user chooses a host with the provider's default, ``--base-url``, a base URL typed
in Settings, the chat screen's yes, ``rung trust-host`` or ``--trust-base-url``. A
base URL only written in config.toml is refused headless and asked about in the chat
screen; the attacker's server records every request and must see none.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from rung.engine.build_tiers import RungOverrides, build_tier
from rung.engine.config import load_config
from rung.engine.trusted_hosts import TrustedHosts, record_path
from rung.tiers.base import Message, Reply
from rung.tui.app import RungApp
from rung.tui.confirm import ConfirmScreen
from tests.conftest import wait_for
from tests.fakes import Request, Step, anthropic_stream, openai_stream, received_key
from tests.test_cli import rung
from tests.test_secrets import memory_keyring  # noqa: F401

KEY = "sk-ant-CANARY-hostile-0123456789abcdef"


class Attacker:
    """A server that answers like the provider and records what it was sent."""

    def __init__(self, servers, stream=lambda: anthropic_stream(["stolen"])) -> None:  # type: ignore[no-untyped-def]
        self.requests: list[Request] = []

        def handler(r: Request) -> list[Step]:
            self.requests.append(r)
            return stream()

        self.server = servers(handler)
        self.url = self.server.url

    @property
    def keys(self) -> list[str]:
        return [received_key(r) for r in self.requests]


def plant(tmp_path: Path, section: str, url: str, extra: str = "") -> Path:
    """What the hostile edit wrote into the user's config file."""
    config = tmp_path / "config" / "rung" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'{extra}[{section}]\nbase_url = "{url}"\n')
    return config


def test_a_planted_base_url_gets_no_key_and_no_request(tmp_path: Path, servers) -> None:
    attacker = Attacker(servers)
    config = plant(tmp_path, "providers.anthropic", attacker.url)
    result = rung(tmp_path, "ask", "--tier", "anthropic", "hello", ANTHROPIC_API_KEY=KEY)
    assert result.returncode == 1
    assert attacker.requests == []  # nothing was sent at all, so no key either
    host = attacker.url
    assert f"Not sending the Anthropic key to {host}" in result.stderr
    assert str(config) in result.stderr and "rung trust-host anthropic" in result.stderr
    assert "--trust-base-url" in result.stderr
    assert "CANARY" not in result.stderr and "Traceback" not in result.stderr


def test_trust_host_then_ask_sends_the_key_there(tmp_path: Path, servers) -> None:
    attacker = Attacker(servers)  # here: the user's own gateway
    plant(tmp_path, "providers.anthropic", attacker.url + "/gateway")
    trusted = rung(tmp_path, "trust-host", "anthropic")
    assert trusted.returncode == 0, trusted.stderr
    assert f"Rung will send the Anthropic key to {attacker.url}" in trusted.stdout
    record = record_path_in(tmp_path)
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert json.loads(record.read_text())["providers"] == {"anthropic": [attacker.url]}
    result = rung(tmp_path, "ask", "--tier", "anthropic", "hello", ANTHROPIC_API_KEY=KEY)
    assert result.returncode == 0, result.stderr
    assert attacker.keys == [KEY]


def test_the_trust_base_url_flag_accepts_it_for_this_and_later_runs(
    tmp_path: Path, servers
) -> None:
    attacker = Attacker(servers)
    plant(tmp_path, "providers.anthropic", attacker.url)
    result = rung(tmp_path, "ask", "--tier", "anthropic", "--trust-base-url", "hello",
                  ANTHROPIC_API_KEY=KEY)  # fmt: skip
    assert result.returncode == 0, result.stderr
    again = rung(tmp_path, "ask", "--tier", "anthropic", "hello", ANTHROPIC_API_KEY=KEY)
    assert again.returncode == 0, again.stderr
    assert attacker.keys == [KEY, KEY]


def test_a_trusted_host_replaced_in_the_file_is_refused_again(tmp_path: Path, servers) -> None:
    mine = Attacker(servers)
    plant(tmp_path, "providers.anthropic", mine.url)
    assert rung(tmp_path, "trust-host", "anthropic").returncode == 0
    attacker = Attacker(servers)
    plant(tmp_path, "providers.anthropic", attacker.url)  # a later hostile edit
    result = rung(tmp_path, "ask", "--tier", "anthropic", "hello", ANTHROPIC_API_KEY=KEY)
    assert result.returncode == 1 and attacker.requests == [] and mine.requests == []
    # Another scheme or port on the same host is another host for a key.
    plant(tmp_path, "providers.anthropic", mine.url.replace("http://", "https://"))
    assert rung(tmp_path, "ask", "--tier", "anthropic", "x", ANTHROPIC_API_KEY=KEY).returncode == 1


def test_the_base_url_flag_is_the_users_choice(tmp_path: Path, servers) -> None:
    attacker = Attacker(servers)
    chosen = Attacker(servers)
    plant(tmp_path, "providers.anthropic", attacker.url)
    result = rung(tmp_path, "ask", "--tier", "anthropic", "--base-url", chosen.url, "hello",
                  ANTHROPIC_API_KEY=KEY)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert chosen.keys == [KEY] and attacker.requests == []
    assert not record_path_in(tmp_path).exists()  # a flag is for this run only


def test_selfhosted_with_a_key_is_guarded_and_without_one_is_not(tmp_path: Path, servers) -> None:
    served = Attacker(servers, lambda: openai_stream(["ok"], model="m"))
    plant(tmp_path, "selfhosted", served.url + "/v1", "")
    config = tmp_path / "config" / "rung" / "config.toml"
    config.write_text(config.read_text() + 'model = "m"\n')
    keyed = rung(tmp_path, "ask", "--tier", "selfhosted", "hello",
                 RUNG_SELFHOSTED_API_KEY=KEY)  # fmt: skip
    assert keyed.returncode == 1 and served.requests == []
    assert "Not sending the Self-hosted key" in keyed.stderr
    assert "rung trust-host selfhosted" in keyed.stderr
    # No key, nothing to leak: an open endpoint needs no confirmation.
    open_ = rung(tmp_path, "ask", "--tier", "selfhosted", "hello")
    assert open_.returncode == 0, open_.stderr
    assert served.keys == [""]


def test_the_providers_own_host_needs_no_confirmation(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    config = load_config()
    config.providers["anthropic"] = {"base_url": "https://api.anthropic.com/v1"}
    tier = build_tier("anthropic", config, RungOverrides())
    assert tier.host_question is None and tier.unusable_reason is None


def test_trust_host_explains_when_there_is_nothing_to_confirm(tmp_path: Path) -> None:
    result = rung(tmp_path, "trust-host", "anthropic")
    assert result.returncode == 1
    assert "has no base URL" in result.stderr and "Traceback" not in result.stderr
    unknown = rung(tmp_path, "trust-host", "nosuch")
    assert unknown.returncode == 1 and "Unknown provider 'nosuch'" in unknown.stderr


def test_a_damaged_record_trusts_nothing(tmp_path: Path, servers) -> None:
    attacker = Attacker(servers)
    plant(tmp_path, "providers.anthropic", attacker.url)
    record = record_path_in(tmp_path)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("{not json")
    result = rung(tmp_path, "ask", "--tier", "anthropic", "hello", ANTHROPIC_API_KEY=KEY)
    assert result.returncode == 1 and attacker.requests == []
    assert "Traceback" not in result.stderr


def record_path_in(tmp_path: Path) -> Path:
    return tmp_path / "data" / "rung" / "trusted_hosts.json"


# -- the chat screen: asked once, by name ---------------------------------------------------
def planted_app(url: str, monkeypatch) -> RungApp:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    config = load_config()
    config.providers["anthropic"] = {"base_url": url}
    config.set("ladder", "rungs", ["anthropic"])
    return RungApp(config)


async def _answer(app: RungApp, pilot, key: str) -> str:  # type: ignore[no-untyped-def]
    await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
    screen = app.screen
    assert isinstance(screen, ConfirmScreen)
    question = screen.question
    await pilot.press(key)
    await wait_for(lambda: not isinstance(app.screen, ConfirmScreen))
    return question


async def _ask_anthropic(app: RungApp) -> Reply:
    from rung.tiers.base import ChatRequest
    from rung.tiers.turn import Turn

    tier = app.ladder.tier("anthropic")
    request = ChatRequest(messages=(Message("user", "hello"),), max_tokens=16)
    return await Turn(tier, request, []).run()


async def test_the_chat_screen_asks_and_no_means_a_clear_refusal(servers, monkeypatch) -> None:
    attacker = Attacker(servers)
    app = planted_app(attacker.url, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        question = await _answer(app, pilot, "n")
        assert "Send your Anthropic API key to " + attacker.url in question
        assert "[providers.anthropic] base_url" in question
        reply = await _ask_anthropic(app)
        assert reply.failed is not None
        assert f"Not sending the Anthropic key to {attacker.url}" in reply.failed.message
        assert app.ladder.rung("anthropic").why_not == "base URL not confirmed"
    assert attacker.requests == []
    assert not record_path().exists()


async def test_the_chat_screen_yes_records_the_host_and_sends(servers, monkeypatch) -> None:
    attacker = Attacker(servers)  # the user's own gateway, this time
    app = planted_app(attacker.url, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await _answer(app, pilot, "y")
        await wait_for(lambda: app.ladder.tier("anthropic").host_question is None)
        reply = await _ask_anthropic(app)
        assert reply.failed is None and reply.text == "stolen"
    assert attacker.keys == [KEY]
    assert TrustedHosts().trusts("anthropic", attacker.url)
    # Asked once: the next start asks nothing.
    again = planted_app(attacker.url, monkeypatch)
    assert again.ladder.tier("anthropic").host_question is None


async def test_a_base_url_typed_in_settings_is_confirmed_one_left_unchanged_is_not(
    servers,
    monkeypatch,
    memory_keyring,  # noqa: F811
) -> None:
    from textual.widgets import Input

    from rung.tui.settings import SettingsScreen

    planted = Attacker(servers)
    mine = Attacker(servers)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    config = load_config()
    config.providers["gemini"] = {"base_url": planted.url}
    config.set("ladder", "rungs", ["anthropic", "gemini"])
    app = RungApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        question = await _answer(app, pilot, "n")
        assert "Google Gemini API key" in question
        await pilot.press("f6")
        await wait_for(lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#anthropic-url", Input).value = mine.url
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, SettingsScreen))
        await wait_for(lambda: app.ladder.tier("anthropic").host_question is None)
        reply = await _ask_anthropic(app)
        assert reply.failed is None and reply.text == "stolen"
        assert app.ladder.tier("gemini").host_question is not None
    record = TrustedHosts()
    assert record.trusts("anthropic", mine.url)
    assert not record.trusts("gemini", planted.url)  # shown in the form, never typed
    assert mine.keys == [KEY] and planted.requests == []


async def test_test_connection_does_not_send_the_key_to_an_unconfirmed_url(
    servers,
    monkeypatch,
    memory_keyring,  # noqa: F811
) -> None:
    """The planted URL shows in Settings' form; pressing "Test connection" on it is not
    a choice of that host (typing a URL is)."""
    from textual.widgets import Static

    from rung.tui.settings import SettingsScreen
    from rung.tui.widgets.settings_provider_list import ProviderList

    attacker = Attacker(servers, lambda: [])
    app = planted_app(attacker.url, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await _answer(app, pilot, "n")
        await pilot.press("f6")
        await wait_for(lambda: isinstance(app.screen, SettingsScreen))
        screen = app.screen
        providers = screen.query_one(ProviderList)
        providers.highlighted = providers.get_option_index("anthropic")
        await pilot.pause()
        await pilot.click("#anthropic-test")
        result = screen.query_one("#anthropic-result", Static)
        await wait_for(lambda: "Not sending" in str(result.render()))
        assert attacker.url in str(result.render())
    assert attacker.requests == []
