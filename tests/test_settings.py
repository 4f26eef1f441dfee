"""The settings screen, driven by Pilot: keys, test connection, saving, applying."""

from __future__ import annotations

import stat
from collections.abc import Iterator

import pytest
from textual.widgets import Input, Select, Static, Switch, TabbedContent

from rung.engine.config import data_dir, load_config
from rung.engine.secrets import mask
from rung.tui.app import RungApp
from rung.tui.settings import SettingsScreen
from tests.conftest import wait_for
from tests.fakes import ScriptedServer, json_reply
from tests.test_secrets import MemoryKeyring, memory_keyring, no_keyring  # noqa: F401

SECRET = "sk-test-SETTINGS-9f8e7d6c5b"


@pytest.fixture
def models_server() -> Iterator[ScriptedServer]:
    def handler(request):  # type: ignore[no-untyped-def]
        if request.headers.get("authorization") != f"Bearer {SECRET}":
            return json_reply(401, {"error": {"message": "Incorrect API key provided"}})
        return json_reply(200, {"data": [{"id": "gpt-test"}, {"id": "gpt-test-mini"}]})

    server = ScriptedServer(handler)
    yield server
    server.close()


async def open_settings(app: RungApp, pilot) -> SettingsScreen:  # type: ignore[no-untyped-def]
    await pilot.press("f6")
    await wait_for(lambda: isinstance(app.screen, SettingsScreen))
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


async def type_into(pilot, screen: SettingsScreen, ident: str, text: str) -> None:  # type: ignore[no-untyped-def]
    field = screen.query_one(f"#{ident}", Input)
    field.value = text
    await pilot.pause()


async def test_enter_key_test_connection_save_and_reopen_masked(
    memory_keyring: MemoryKeyring,  # noqa: F811
    models_server: ScriptedServer,
) -> None:
    app = RungApp(load_config())
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_settings(app, pilot)
        await type_into(pilot, screen, "openai-url", models_server.url + "/v1")
        # A wrong key first: the exact reason, naming the provider.
        await type_into(pilot, screen, "openai-key", "sk-wrong-key-000000")
        screen.test_connection("openai")
        result = screen.query_one("#openai-result", Static)
        await wait_for(lambda: "401" in str(result.render()))
        assert "OpenAI rejected the API key" in str(result.render())
        # The right key: success and latency.
        await type_into(pilot, screen, "openai-key", SECRET)
        assert screen.query_one("#openai-key", Input).password  # masked while typed
        screen.test_connection("openai")
        await wait_for(lambda: "Connected to OpenAI in" in str(result.render()))
        assert "2 models listed" in str(result.render())
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, SettingsScreen))
        assert memory_keyring.store[("rung", "openai")] == SECRET
        config_text = app.config.path.read_text()
        assert SECRET not in config_text and models_server.url in config_text
        # Reopen: the key is shown masked, never in full, and the field is empty.
        screen = await open_settings(app, pilot)
        status = str(screen.query_one("#openai-key-status", Static).render())
        assert f"key {mask(SECRET)} — in the OS keyring" in status
        assert mask(SECRET) == "sk-…6c5b" and SECRET not in status
        assert screen.query_one("#openai-key", Input).value == ""
        assert SECRET not in app.export_screenshot()
        # Show reveals only what was typed in this visit (nothing).
        await pilot.click("#openai-show")
        assert not screen.query_one("#openai-key", Input).password


async def test_saving_applies_without_restarting(memory_keyring) -> None:  # noqa: F811
    app = RungApp(load_config())
    async with app.run_test(size=(140, 50)) as pilot:
        assert list(app.ladder.built()) == ["local"]
        screen = await open_settings(app, pilot)
        await type_into(pilot, screen, "ladder-rungs", "local, anthropic")
        await type_into(pilot, screen, "quality", "0.8")
        await type_into(pilot, screen, "daily-usd", "3.50")
        await type_into(pilot, screen, "gpu-usd-per-hour", "1.85")
        screen.query_one("#verify-tls", Switch).value = False
        local_before = app.ladder.built()["local"]
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, SettingsScreen))
        assert list(app.ladder.built()) == ["local", "anthropic"]
        assert app.ladder.built()["local"] is local_before  # the loaded model is kept
        assert app.config.get("ladder", "quality") == 0.8
        assert str(app.session.budget.daily_usd) == "3.50"
        assert str(app.session.meter.book.gpu_usd_per_hour) == "1.85"
        assert app.config.get("selfhosted", "verify_tls") is False
        reloaded = load_config(app.config.path)
        assert reloaded.get("ladder", "rungs") == ["local", "anthropic"]


async def test_invalid_input_is_refused_with_the_field_named(memory_keyring) -> None:  # noqa: F811
    app = RungApp(load_config())
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_settings(app, pilot)
        await type_into(pilot, screen, "ladder-rungs", "local, nonsense")
        await type_into(pilot, screen, "n-ctx", "lots")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)  # still open, nothing lost
        text = "\n".join(n.message for n in app._notifications)
        assert "Ladder: unknown rung(s) nonsense" in text
        assert "Context window (tokens): 'lots' is not a number" in text
        assert not app.config.path.exists()


async def test_no_keyring_says_so_and_needs_an_explicit_opt_in(no_keyring) -> None:  # noqa: F811
    app = RungApp(load_config())
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_settings(app, pilot)
        assert "No OS keyring" in str(screen.query_one("#no-keyring", Static).render())
        await type_into(pilot, screen, "anthropic-key", "sk-ant-plain-123456")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("key not saved" in (n.title or "") for n in app._notifications)
        assert not (data_dir() / "keys.toml").exists()
        # Opt in: the key goes to a 0600 file, labelled plaintext.
        screen = await open_settings(app, pilot)
        screen.query_one("#plaintext-file", Switch).value = True
        await type_into(pilot, screen, "anthropic-key", "sk-ant-plain-123456")
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, SettingsScreen))
        keys_file = data_dir() / "keys.toml"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        assert "sk-ant-plain-123456" in keys_file.read_text()
        assert "sk-ant-plain-123456" not in app.config.path.read_text()


async def test_theme_picker_previews_live_and_cancel_reverts(memory_keyring) -> None:  # noqa: F811
    app = RungApp(load_config())
    async with app.run_test(size=(140, 50)) as pilot:
        assert app.theme == "rung-dark"
        screen = await open_settings(app, pilot)
        screen.query_one(TabbedContent).active = "tab-appearance"
        screen.query_one("#theme", Select).value = "rung-light"
        await pilot.pause()
        assert app.theme == "rung-light"  # the whole app previews it
        await pilot.press("escape")
        await pilot.pause()
        assert app.theme == "rung-dark"
        screen = await open_settings(app, pilot)
        screen.query_one("#theme", Select).value = "rung-high-contrast"
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, SettingsScreen))
        assert load_config(app.config.path).get("ui", "theme") == "rung-high-contrast"


async def test_local_model_picker_lists_the_embedded_model(memory_keyring) -> None:  # noqa: F811
    app = RungApp(load_config())
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_settings(app, pilot)
        select = screen.query_one("#local-model", Select)
        labels = [str(label) for label, _ in select._options]
        assert any("embedded SmolLM2-135M-Instruct" in label for label in labels)
        assert any("Another file" in label for label in labels)


async def test_settings_and_palette_reach_every_action(memory_keyring) -> None:  # noqa: F811
    from rung.tui.commands import RungCommands

    app = RungApp(load_config())
    async with app.run_test(size=(140, 50)):
        names = [name for name, _, _ in RungCommands(app.screen)._commands()]
        for expected in ("Settings", "Cost detail", "Toggle Auto", "Escalate", "New chat",
                         "Copy last reply", "Copy last code block", "Keys",
                         "Pin rung 1: local", "Theme: rung-light"):  # fmt: skip
            assert expected in names
