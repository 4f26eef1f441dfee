"""The settings screen, driven by Pilot with a real KeyStore (in-memory keyring) and real
local HTTP servers: keys, the provider list, the ladder, Test connection and the model
picker, saving, applying, and what the screen refuses."""

from __future__ import annotations

import stat
from collections.abc import Iterator

import pytest
from textual.geometry import Size
from textual.widgets import Button, Checkbox, Input, Select, Static, TabbedContent

from rung.engine.config import data_dir, load_config
from rung.engine.secrets import mask
from rung.tui.app import RungApp
from rung.tui.settings import SettingsScreen
from rung.tui.settings_form import API_PROVIDERS
from rung.tui.widgets.settings_ladder import LadderEditor, RungList
from rung.tui.widgets.settings_provider_list import ProviderList
from tests.conftest import wait_for
from tests.fakes import Request, ScriptedServer, Step, json_reply
from tests.test_secrets import MemoryKeyring, memory_keyring, no_keyring  # noqa: F401

SECRET = "sk-test-SETTINGS-9f8e7d6c5b"


@pytest.fixture
def models_server() -> Iterator[ScriptedServer]:
    """An OpenAI-style /models that wants SECRET, like a provider would."""

    def handler(request: Request) -> list[Step]:
        if request.headers.get("authorization") != f"Bearer {SECRET}":
            return json_reply(401, {"error": {"message": "Incorrect API key provided"}})
        return json_reply(200, {"data": [{"id": "gpt-test"}, {"id": "gpt-test-mini"}]})

    server = ScriptedServer(handler)
    yield server
    server.close()


def app_with(rungs: list[str] | None = None, **values: object) -> RungApp:
    config = load_config()
    if rungs is not None:
        config.set("ladder", "rungs", rungs)
    for dotted, value in values.items():
        section, key = dotted.split("__")
        config.set(section, key, value)
    return RungApp(config)


async def open_settings(app: RungApp, pilot) -> SettingsScreen:  # type: ignore[no-untyped-def]
    await pilot.press("f6")
    await wait_for(lambda: isinstance(app.screen, SettingsScreen))
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


async def type_into(pilot, screen: SettingsScreen, ident: str, text: str) -> None:  # type: ignore[no-untyped-def]
    screen.query_one(f"#{ident}", Input).value = text
    await pilot.pause()


async def show_provider(pilot, screen: SettingsScreen, name: str) -> None:  # type: ignore[no-untyped-def]
    providers = screen.query_one(ProviderList)
    providers.highlighted = providers.get_option_index(name)
    await pilot.pause()


def list_entry(screen: SettingsScreen, name: str) -> str:
    providers = screen.query_one(ProviderList)
    return providers.get_option(name).prompt.plain  # type: ignore[union-attr]


def notes(app: RungApp) -> str:
    return "\n".join(n.message for n in app._notifications)


async def save_and_close(app: RungApp, pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+s")
    await wait_for(lambda: not isinstance(app.screen, SettingsScreen))


# -- the Select.NULL crash -------------------------------------------------------------
async def test_blank_theme_entry_picked_with_the_keyboard_does_not_crash(memory_keyring) -> None:  # noqa: F811
    """F6, Right x4 (Appearance), Tab Tab, Enter, Up to the blank entry, Enter: this used
    to end the app with InvalidThemeError: Theme 'Select.NULL'."""
    app = app_with()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_settings(app, pilot)
        await pilot.press("right", "right", "right", "right")
        await pilot.pause()
        assert screen.query_one(TabbedContent).active == "tab-appearance"
        await pilot.press("tab", "tab")
        assert screen.focused is screen.query_one("#theme", Select)  # the keys reach it
        await pilot.press("enter", "up", "enter")
        await pilot.pause()
        theme = screen.query_one("#theme", Select)
        assert theme.is_blank()  # the blank entry really was picked
        assert app.is_running and app.screen is screen
        assert app.theme == "rung-dark"
        await save_and_close(app, pilot)
        assert load_config(app.config.path).get("ui", "theme") == "rung-dark"


# -- the provider list ------------------------------------------------------------------
async def test_provider_list_shows_each_providers_state(
    memory_keyring: MemoryKeyring,  # noqa: F811
    models_server: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-from-env-123456")
    memory_keyring.store[("rung", "anthropic")] = "sk-ant-keyring-123456"
    memory_keyring.store[("rung", "mistral")] = "pasted wrong 123456"  # a space inside
    app = app_with(["local", "anthropic"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        names = [o.id for o in screen.query_one(ProviderList).options]
        assert names[:-1] == list(API_PROVIDERS) and names[-1] == "storage"
        for expected in ("groq", "together", "custom"):  # these had no section before
            assert expected in names
        assert "key in keyring" in list_entry(screen, "anthropic")
        assert "on ladder" in list_entry(screen, "anthropic")
        assert "key from $DEEPSEEK_API_KEY" in list_entry(screen, "deepseek")
        assert "on ladder" not in list_entry(screen, "deepseek")
        assert "invalid key" in list_entry(screen, "mistral")
        assert "no key" in list_entry(screen, "groq")
        # The detail says where the key is, masked, and the invalid key's problem.
        await show_provider(pilot, screen, "mistral")
        status = str(screen.query_one("#mistral-key-status", Static).render())
        assert "contains a space" in status and "pasted" not in status
        await show_provider(pilot, screen, "anthropic")
        status = str(screen.query_one("#anthropic-key-status", Static).render())
        assert mask("sk-ant-keyring-123456") in status and "OS keyring" in status
        # Reachable / unreachable once tested.
        await show_provider(pilot, screen, "openai")
        await type_into(pilot, screen, "openai-url", models_server.url + "/v1")
        await type_into(pilot, screen, "openai-key", "sk-wrong-key-000000")
        await pilot.click("#openai-test")
        await wait_for(lambda: "unreachable" in list_entry(screen, "openai"))
        await type_into(pilot, screen, "openai-key", SECRET)
        assert "unreachable" not in list_entry(screen, "openai")  # a new key: test again
        await pilot.click("#openai-test")
        await wait_for(lambda: "✓ reachable" in list_entry(screen, "openai"))
        assert "new key (unsaved)" in list_entry(screen, "openai")


# -- keys, the ladder offer, saving ------------------------------------------------------
async def test_entering_a_key_offers_the_ladder_and_saving_keeps_it(
    memory_keyring: MemoryKeyring,  # noqa: F811
) -> None:
    app = app_with(["local"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        await show_provider(pilot, screen, "groq")
        offer = screen.query_one("#groq-add-rung", Button)
        assert not offer.display or not screen.query_one("#groq-offer").has_class("-shown")
        # Typed the way a user types: Enter on the list goes to the key field.
        screen.query_one(ProviderList).focus()
        await pilot.press("enter")
        assert screen.focused is screen.query_one("#groq-key", Input)
        await pilot.press(*"gsk_fake_groq_key_123456")
        assert screen.query_one("#groq-key", Input).password  # masked as typed
        text = str(screen.query_one("#groq-offer-text", Static).render())
        assert "Not on the ladder yet: it would go at the top, above local" in text
        await pilot.click("#groq-add-rung")
        await pilot.pause()
        assert screen.query_one(LadderEditor).rungs == ["local", "groq"]
        assert "on ladder" in list_entry(screen, "groq")
        assert "rung 2 of 2" in str(screen.query_one("#groq-offer-text", Static).render())
        await save_and_close(app, pilot)
        assert memory_keyring.store[("rung", "groq")] == "gsk_fake_groq_key_123456"
        assert load_config(app.config.path).get("ladder", "rungs") == ["local", "groq"]
        assert "gsk_fake_groq_key_123456" not in app.config.path.read_text()
        assert app.ladder.names == ["local", "groq"]  # applied without a restart


async def test_keys_never_reach_the_config_file_and_are_shown_masked(
    memory_keyring: MemoryKeyring,  # noqa: F811
) -> None:
    app = app_with(["local"])
    typed = {name: f"sk-{name}-fake-key-000{i}" for i, name in enumerate(API_PROVIDERS)}
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        for name, key in typed.items():
            await type_into(pilot, screen, f"{name}-key", key)
        await type_into(pilot, screen, "custom-url", "http://127.0.0.1:9/v1")
        await save_and_close(app, pilot)
        config_text = app.config.path.read_text()
        for name, key in typed.items():
            assert memory_keyring.store[("rung", name)] == key
            assert key not in config_text
        # Reopen: keys are shown masked, never in full, and the fields are empty.
        screen = await open_settings(app, pilot)
        await show_provider(pilot, screen, "openai")
        status = str(screen.query_one("#openai-key-status", Static).render())
        assert f"Key {mask(typed['openai'])} is in the OS keyring." == status
        assert screen.query_one("#openai-key", Input).value == ""
        for key in typed.values():
            assert key not in app.export_screenshot()
        # Show reveals only what was typed in this visit (nothing); Remove on save.
        await pilot.click("#openai-show")
        assert not screen.query_one("#openai-key", Input).password
        await pilot.click("#openai-remove")
        await pilot.pause()
        assert "key removed on save" in list_entry(screen, "openai")
        assert ("rung", "openai") in memory_keyring.store  # nothing happens before saving
        await save_and_close(app, pilot)
        assert ("rung", "openai") not in memory_keyring.store


async def test_test_connection_gives_the_reason_then_fills_the_model_picker(
    memory_keyring: MemoryKeyring,  # noqa: F811
    models_server: ScriptedServer,
) -> None:
    app = app_with(["local", "openai"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        await type_into(pilot, screen, "openai-url", models_server.url + "/v1")
        await type_into(pilot, screen, "openai-key", "sk-wrong-key-000000")
        await pilot.click("#openai-test")
        result = screen.query_one("#openai-result", Static)
        await wait_for(lambda: "401" in str(result.render()))
        assert "OpenAI rejected the API key" in str(result.render())
        picker = screen.query_one("#openai-models", Select)
        assert not picker.display or not picker.has_class("-filled")
        await type_into(pilot, screen, "openai-key", SECRET)
        await pilot.click("#openai-test")
        await wait_for(lambda: "Connected to OpenAI in" in str(result.render()))
        assert "2 models listed" in str(result.render())
        await pilot.pause()
        assert picker.has_class("-filled") and picker.display
        assert [value for _, value in picker._options if isinstance(value, str)] == [
            "gpt-test",
            "gpt-test-mini",
        ]
        # Picked with the keyboard: the model field takes it.
        picker.focus()
        await pilot.press("enter", "down", "down", "enter")
        await pilot.pause()
        assert screen.query_one("#openai-model", Input).value == "gpt-test-mini"
        await save_and_close(app, pilot)
        saved = load_config(app.config.path)
        assert saved.provider("openai") == {
            "model": "gpt-test-mini",
            "base_url": models_server.url + "/v1",
        }
        assert SECRET not in app.config.path.read_text()


async def test_selfhosted_test_shows_the_served_model_and_lists_models(
    memory_keyring,  # noqa: F811
    servers,
) -> None:
    server = servers(lambda r: json_reply(200, {"data": [{"id": "qwen-served"}, {"id": "b"}]}))
    app = app_with(["local"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        screen.query_one(TabbedContent).active = "tab-selfhosted"
        await type_into(pilot, screen, "selfhosted-url", server.url + "/v1")
        await pilot.click("#selfhosted-test")
        result = screen.query_one("#selfhosted-result", Static)
        await wait_for(lambda: "Connected: qwen-served ·" in str(result.render()))
        assert " ms" in str(result.render())
        await pilot.pause()
        assert screen.query_one("#selfhosted-models", Select).has_class("-filled")
        text = str(screen.query_one("#selfhosted-offer-text", Static).render())
        assert "it would go above local" in text
        await pilot.click("#selfhosted-add-rung")
        await save_and_close(app, pilot)
        assert load_config(app.config.path).get("ladder", "rungs") == ["local", "selfhosted"]


async def test_server_text_is_made_safe_before_it_is_shown(memory_keyring, servers) -> None:  # noqa: F811
    hostile = "evil\x1b]52;c;ZXZpbA==\x07model"
    server = servers(lambda r: json_reply(200, {"data": [{"id": hostile}, {"id": "x" * 5000}]}))
    app = app_with(["local"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        await show_provider(pilot, screen, "custom")
        await type_into(pilot, screen, "custom-url", server.url + "/v1")
        await type_into(pilot, screen, "custom-key", "sk-custom-123456")
        await pilot.click("#custom-test")
        await wait_for(lambda: screen.query_one("#custom-models", Select).has_class("-filled"))
        values = [v for _, v in screen.query_one("#custom-models", Select)._options]
        ids = [v for v in values if isinstance(v, str)]
        assert ids == ["evil␛]52;c;ZXZpbA==␇model"]  # escapes visible; the 5000-char id left out
        assert "\x1b" not in app.export_screenshot()


# -- the ladder --------------------------------------------------------------------------
async def test_ladder_rungs_are_reordered_removed_and_added(memory_keyring) -> None:  # noqa: F811
    app = app_with(["local", "deepseek", "anthropic"], ladder__mode="anthropic")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        screen.query_one(TabbedContent).active = "tab-ladder"
        await pilot.pause()
        editor = screen.query_one(LadderEditor)
        rung_list = screen.query_one(RungList)
        # Drawn as a ladder: the top rung first.
        shown = [o.prompt.plain for o in rung_list.options]  # type: ignore[union-attr]
        assert shown[0].startswith("3. anthropic") and shown[-1].startswith("1. local")
        rung_list.focus()
        rung_list.highlighted = 1  # deepseek
        await pilot.press("shift+up")
        assert editor.rungs == ["local", "anthropic", "deepseek"]
        await pilot.click("#rung-down")
        assert editor.rungs == ["local", "deepseek", "anthropic"]
        rung_list.focus()
        rung_list.highlighted = 0  # anthropic, the pinned one
        await pilot.press("delete")
        await pilot.pause()
        assert editor.rungs == ["local", "deepseek"]
        assert editor.mode == "auto"  # its pin went with it
        # The chooser lists what is not on the ladder, with its state.
        add = screen.query_one("#add-rung", Select)
        labels = {value: str(label) for label, value in add._options if isinstance(value, str)}
        assert labels["groq"] == "groq — no key" and "deepseek" not in labels
        add.value = "groq"
        await pilot.pause()
        assert editor.rungs == ["local", "deepseek", "groq"]
        screen.query_one("#mode", Select).value = "deepseek"
        await save_and_close(app, pilot)
        saved = load_config(app.config.path)
        assert saved.get("ladder", "rungs") == ["local", "deepseek", "groq"]
        assert saved.get("ladder", "mode") == "deepseek"


async def test_the_last_rung_cannot_be_removed(memory_keyring) -> None:  # noqa: F811
    app = app_with(["local"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        screen.query_one(TabbedContent).active = "tab-ladder"
        await pilot.pause()
        await pilot.click("#rung-remove")
        assert screen.query_one(LadderEditor).rungs == ["local"]
        assert "at least one rung" in notes(app)


# -- saving and refusing -----------------------------------------------------------------
async def test_saving_applies_without_restarting(memory_keyring) -> None:  # noqa: F811
    app = app_with(["local"])
    async with app.run_test(size=(140, 50)) as pilot:
        assert list(app.ladder.built()) == ["local"]
        screen = await open_settings(app, pilot)
        screen.query_one(LadderEditor).add("anthropic")
        await type_into(pilot, screen, "quality", "0.8")
        await type_into(pilot, screen, "daily-usd", "3.50")
        await type_into(pilot, screen, "gpu-usd-per-hour", "1.85")
        screen.query_one("#verify-tls", Checkbox).value = False
        screen.query_one("#weight-repacking", Select).value = "off"
        local_before = app.ladder.built()["local"]
        await save_and_close(app, pilot)
        assert list(app.ladder.built()) == ["local", "anthropic"]
        # Repacking changed, so the local model is rebuilt; the rest applies at once.
        assert app.ladder.built()["local"] is not local_before
        assert app.config.get("ladder", "quality") == 0.8
        assert str(app.session.budget.daily_usd) == "3.50"
        assert str(app.session.meter.book.gpu_usd_per_hour) == "1.85"
        assert app.config.get("selfhosted", "verify_tls") is False
        reloaded = load_config(app.config.path)
        assert reloaded.get("ladder", "rungs") == ["local", "anthropic"]
        assert reloaded.get("local", "weight_repacking") == "off"


async def test_invalid_fields_are_refused_named_and_kept(memory_keyring) -> None:  # noqa: F811
    app = app_with(["local", "custom"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_settings(app, pilot)
        await type_into(pilot, screen, "openai-url", "api.openai.com/v1")
        await type_into(pilot, screen, "n-ctx", "lots")
        await type_into(pilot, screen, "quality", "2")
        await type_into(pilot, screen, "daily-usd", "ten")
        await type_into(pilot, screen, "anthropic-key", "sk-ant with-a-space")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen  # still open
        text = notes(app)
        assert "OpenAI: Base URL: must start with https:// or http://" in text
        assert "Context size (tokens): 'lots' is not a number" in text
        assert "Quality dial, 0 to 1: must be between 0.0 and 1.0, got 2.0" in text
        assert "Daily budget, $: must be an amount such as" in text
        assert "Anthropic: API key contains a space or line break" in text
        assert "Custom OpenAI-compatible: Base URL: needed while it is on the ladder" in text
        assert not app.config.path.exists()
        # Nothing typed is lost, and the first refused field has the focus.
        assert screen.query_one("#n-ctx", Input).value == "lots"
        assert screen.query_one("#anthropic-key", Input).value == "sk-ant with-a-space"
        await pilot.pause()
        assert screen.focused is screen.query_one("#openai-url", Input)
        assert screen.query_one(TabbedContent).active == "tab-providers"
        # The field turned red as it was typed (the config's own rule).
        assert screen.query_one("#quality", Input).has_class("-invalid")


async def test_no_keyring_says_so_and_needs_an_explicit_opt_in(no_keyring) -> None:  # noqa: F811
    app = app_with()
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_settings(app, pilot)
        assert "No OS keyring" in str(screen.query_one("#no-keyring", Static).render())
        assert "no keyring!" in list_entry(screen, "storage")
        await type_into(pilot, screen, "anthropic-key", "sk-ant-plain-123456")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen  # refused before anything was written
        assert "Anthropic: API key: there is no OS keyring here" in notes(app)
        assert not (data_dir() / "keys.toml").exists()
        assert screen.query_one("#anthropic-key", Input).value == "sk-ant-plain-123456"
        # Opt in: the key goes to a 0600 file, labelled plaintext.
        screen.query_one("#plaintext-file", Checkbox).value = True
        await save_and_close(app, pilot)
        keys_file = data_dir() / "keys.toml"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        assert "sk-ant-plain-123456" in keys_file.read_text()
        assert "sk-ant-plain-123456" not in app.config.path.read_text()


# -- appearance ----------------------------------------------------------------------
async def test_theme_picker_previews_live_and_esc_cancels_the_preview(memory_keyring) -> None:  # noqa: F811
    app = app_with()
    async with app.run_test(size=(140, 50)) as pilot:
        assert app.theme == "rung-dark"
        screen = await open_settings(app, pilot)
        screen.query_one(TabbedContent).active = "tab-appearance"
        screen.query_one("#theme", Select).value = "rung-light"
        await pilot.pause()
        assert app.theme == "rung-light"  # the whole app previews it
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SettingsScreen)
        assert app.theme == "rung-dark"
        assert not app.config.path.exists()
        screen = await open_settings(app, pilot)
        screen.query_one("#theme", Select).value = "rung-high-contrast"
        await save_and_close(app, pilot)
        assert load_config(app.config.path).get("ui", "theme") == "rung-high-contrast"


# -- the local model and the layout --------------------------------------------------
async def test_local_model_picker_lists_the_embedded_model(memory_keyring) -> None:  # noqa: F811
    app = app_with()
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_settings(app, pilot)
        select = screen.query_one("#local-model", Select)
        labels = [str(label) for label, _ in select._options]
        assert any("embedded SmolLM2-135M-Instruct" in label for label in labels)
        assert any("Another file" in label for label in labels)
        path_field = screen.query_one("#local-path-field")
        assert not path_field.has_class("-shown")  # only for "Another file"
        select.value = "__custom__"
        await pilot.pause()
        assert path_field.has_class("-shown")
        await type_into(pilot, screen, "local-path", "/no/such/model.gguf")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Local model: GGUF file path: no file at /no/such/model.gguf" in notes(app)


async def test_nothing_is_cut_off_at_80_columns(memory_keyring) -> None:  # noqa: F811
    """Labels that cannot wrap (checkboxes, buttons, picked values) fit their space."""
    app = app_with(["local", "selfhosted"])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_settings(app, pilot)
        tabs = screen.query_one(TabbedContent)
        checked = 0
        for pane in ("tab-providers", "tab-selfhosted", "tab-local", "tab-ladder",
                     "tab-appearance"):  # fmt: skip
            tabs.active = pane
            for name in [*API_PROVIDERS, "storage"] if pane == "tab-providers" else [None]:
                if name:
                    await show_provider(pilot, screen, name)
                await pilot.pause()
                for widget in screen.query("Checkbox, Button, Select"):
                    if not widget.display or not widget.region:
                        continue
                    if not all(a.display for a in widget.ancestors_with_self if a is not app):
                        continue
                    needed = widget.get_content_width(Size(200, 1), Size(200, 1))
                    room = widget.parent.content_region  # type: ignore[union-attr]
                    assert needed <= widget.content_region.width + 1, (pane, name, widget)
                    assert widget.region.right <= min(room.right, 80), (pane, name, widget)
                    checked += 1
        assert checked > 40


async def test_settings_and_palette_reach_every_action(memory_keyring) -> None:  # noqa: F811
    from rung.tui.commands import RungCommands

    app = app_with()
    async with app.run_test(size=(140, 50)):
        names = [name for name, _, _ in RungCommands(app.screen)._commands()]
        for expected in ("Settings", "Cost detail", "Toggle Auto", "Escalate", "New chat",
                         "Copy last reply", "Copy last code block", "Keys",
                         "Pin rung 1: local", "Theme: rung-light"):  # fmt: skip
            assert expected in names
