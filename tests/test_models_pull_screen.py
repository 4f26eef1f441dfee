"""Settings → Local model → Get a model, driven by Pilot against the real local hub of
tests/test_models_pull.py: a pull with its progress bar, the picker set to the pulled
file and saved; Esc stops a pull mid-file and Pull resumes it with a Range request."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from textual.widgets import Button, OptionList, ProgressBar, Select, Static, TabbedContent

from rung.engine.config import load_config
from rung.engine.model_catalog import CATALOG, GB, Machine
from rung.engine.model_pull import destination, parse_ref, partial_bytes
from rung.tui.confirm import ConfirmScreen
from rung.tui.model_pull_screen import GetModelScreen
from tests.conftest import wait_for
from tests.test_models_pull import CHUNK, MB, FakeHub, hub_env, hubs, small_gguf  # noqa: F401
from tests.test_secrets import memory_keyring  # noqa: F401
from tests.test_settings import app_with, open_settings

SMALLEST = CATALOG[0]  # qwen2.5-0.5b: served by the local hub under its real repo name


def serve_smallest(started: list[FakeHub], data: bytes, monkeypatch: pytest.MonkeyPatch,
                   tmp_path: Path) -> FakeHub:  # fmt: skip
    hub = FakeHub(SMALLEST.filename, data, repo=SMALLEST.repo)
    started.append(hub)
    for name, value in hub_env(tmp_path, hub.url).items():
        monkeypatch.setenv(name, value)
    return hub


async def open_get_model(app, pilot) -> GetModelScreen:  # type: ignore[no-untyped-def]
    screen = await open_settings(app, pilot)
    screen.query_one(TabbedContent).active = "tab-local"
    await pilot.pause()
    screen.query_one("#get-model", Button).press()
    await wait_for(lambda: isinstance(app.screen, GetModelScreen))
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


def status(screen: GetModelScreen) -> str:
    return str(screen.query_one("#pull-status", Static).render())


async def test_get_a_model_pulls_it_and_the_picker_saves_it(
    memory_keyring,  # noqa: F811
    hubs: list[FakeHub],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    hub = serve_smallest(hubs, small_gguf(3 * MB), monkeypatch, tmp_path)
    target = parse_ref(SMALLEST.name)
    app = app_with()
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_get_model(app, pilot)
        catalog = screen.query_one("#catalog", OptionList)
        labels = [str(catalog.get_option_at_index(i).prompt) for i in range(len(CATALOG))]
        assert all(m.name in label for m, label in zip(CATALOG, labels, strict=True))
        assert any(label.startswith("*") for label in labels)  # one is recommended
        catalog.highlighted = 0
        screen.query_one("#pull", Button).press()
        # The pulled model is not measured: Settings offers to calibrate it (issue 25).
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen), timeout=60)
        await pilot.pause()
        assert f"Calibrate {SMALLEST.filename}?" in str(app.screen.query_one(Static).render())
        await pilot.press("n")  # Later
        await pilot.pause()

        path = destination(target)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == hub.sha256
        assert app.screen.query_one("#local-model", Select).value == str(path)
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert load_config().get("local", "model_path") == str(path)


async def test_esc_stops_a_pull_keeping_its_bytes_and_pull_resumes_it(
    hubs: list[FakeHub],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    hub = serve_smallest(hubs, small_gguf(2 * CHUNK + MB), monkeypatch, tmp_path)
    hub.stall_after = CHUNK + MB  # a piece reaches the disk, then the hub goes quiet
    target = parse_ref(SMALLEST.name)
    app = app_with()
    picked: list[Path | None] = []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = GetModelScreen(Machine(8 * GB, 4))
        app.push_screen(screen, picked.append)
        await pilot.pause()
        screen.query_one("#catalog", OptionList).highlighted = 0
        screen.query_one("#pull", Button).press()
        await wait_for(lambda: partial_bytes(target) >= CHUNK, timeout=60)
        await wait_for(lambda: screen.query_one(ProgressBar).progress >= CHUNK)
        await pilot.press("escape")
        assert isinstance(app.screen, GetModelScreen)  # a pull is stopped, not abandoned
        hub.release.set()  # the hub closes; the retry's first piece meets the stop
        await wait_for(lambda: "Stopped" in status(screen), timeout=60)
        assert "10 MB kept: Pull resumes from there" in status(screen)
        assert partial_bytes(target) == CHUNK
        assert not destination(target).exists()

        hub.stall_after = None
        screen.query_one("#pull", Button).press()
        await wait_for(lambda: bool(picked), timeout=60)
    assert picked == [destination(target)]
    assert f"bytes={CHUNK}-" in hub.ranges()
    assert hashlib.sha256(destination(target).read_bytes()).hexdigest() == hub.sha256
