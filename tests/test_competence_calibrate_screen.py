"""Settings → Local model → Calibrate (issue 25, items 1 and 7): the same measurement
as `rung calibrate`, with the REAL embedded model (loaded by the product's own safe-load
path) on a few prompts, driven by Pilot: a progress bar of prompts done and right so
far, the profile stored where Auto reads it from the next message; Esc stores nothing;
picking an unmeasured model asks "Calibrate X? (~N min)" with Calibrate / Later."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Button, OptionList, ProgressBar, Select, Static, TabbedContent

from rung.engine.config import data_dir
from rung.engine.model_pull import destination, parse_ref
from rung.tiers.competence import local_profile, model_key, profile_path
from rung.tiers.local import embedded_model_path
from rung.tui.calibrate_screen import CalibrateScreen
from rung.tui.confirm import ConfirmScreen
from rung.tui.model_pull_screen import GetModelScreen
from rung.tui.settings import SettingsScreen
from tests.conftest import wait_for
from tests.test_competence_settings import fake_gguf
from tests.test_models_pull import FakeHub, hubs  # noqa: F401
from tests.test_models_pull_screen import SMALLEST, serve_smallest
from tests.test_secrets import memory_keyring  # noqa: F401
from tests.test_settings import app_with, notes, open_settings


def stored_profiles() -> list[Path]:
    return sorted((data_dir() / "competence").glob("*.json"))


def embedded() -> Path:
    path = embedded_model_path()
    assert path is not None
    return path


async def local_tab(app, pilot, limit: int) -> SettingsScreen:  # type: ignore[no-untyped-def]
    screen = await open_settings(app, pilot)
    screen.calibration_limit = limit
    screen.query_one(TabbedContent).active = "tab-local"
    await pilot.pause()
    return screen


async def pick_model(app, pilot, model: Path) -> None:  # type: ignore[no-untyped-def]
    """Settings → Local model: pick ``model`` as a user would from the list; the
    calibration offer opens."""
    select = app.screen.query_one("#local-model", Select)
    options = [(str(label), value) for label, value in select._options]
    select.set_options([*options, (model.name, str(model))])
    select.value = str(model)
    await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
    await pilot.pause()


def status(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#calibrate-status", Static).render())


async def test_calibrate_button_measures_with_a_progress_bar_and_auto_uses_it_next(
    memory_keyring,  # noqa: F811
) -> None:
    app = app_with(["local", "deepseek"])
    async with app.run_test(size=(140, 50)) as pilot:
        rungs = app.ladder.rungs()
        before = app.ladder.competence(rungs)["local"]  # the shipped measurement
        assert "Settings" not in before.note
        screen = await local_tab(app, pilot, limit=3)
        screen.query_one("#calibrate", Button).press()
        await wait_for(lambda: isinstance(app.screen, CalibrateScreen))
        calibrating = app.screen
        assert calibrating.query_one("#calibrate-progress", ProgressBar).total == 3
        seen: list[str] = []

        def progressed() -> bool:
            if isinstance(app.screen, CalibrateScreen):
                seen.append(status(app))
            return not isinstance(app.screen, CalibrateScreen)

        await wait_for(progressed, timeout=180)
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        assert any("1/3 prompts" in s and "right so far" in s for s in seen), seen
        shown = notes(app)
        assert "SmolLM2-135M-Instruct.Q4_1.gguf: " in shown and "/3 right" in shown
        assert "Auto routes it by these numbers from the next message." in shown
        (stored,) = stored_profiles()
        assert stored == profile_path(data_dir(), model_key(embedded()))
        profile = json.loads(stored.read_text())
        assert sum(profile["counts"].values()) == 3
        assert profile["note"].startswith("Settings → Calibrate, 3 prompts")
        # Auto's next decision reads the new numbers (not a cached shipped profile).
        after = app.ladder.competence(app.ladder.rungs())["local"]
        assert after.note == profile["note"] and after.counts == profile["counts"]


async def test_esc_stops_calibration_and_stores_nothing(memory_keyring) -> None:  # noqa: F811
    app = app_with()
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await local_tab(app, pilot, limit=40)
        screen.query_one("#calibrate", Button).press()
        await wait_for(lambda: isinstance(app.screen, CalibrateScreen))
        calibrating = app.screen
        assert isinstance(calibrating, CalibrateScreen)
        await wait_for(lambda: calibrating.done >= 1, timeout=120)
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, CalibrateScreen), timeout=60)
        await pilot.pause()
        assert calibrating.done < 40
        assert isinstance(app.screen, SettingsScreen)  # Esc left Settings open
        assert "stopped after" in notes(app) and "nothing stored" in notes(app)
    assert stored_profiles() == []


async def test_picking_an_unmeasured_model_asks_and_calibrate_measures_it(
    memory_keyring,  # noqa: F811
    tmp_path: Path,
) -> None:
    # The embedded GGUF under another name: no shipped profile, so Auto only has a prior.
    model = tmp_path / "my-model.gguf"
    model.symlink_to(embedded())
    assert local_profile(model, data_dir()).source == "prior"
    app = app_with()
    async with app.run_test(size=(140, 50)) as pilot:
        await local_tab(app, pilot, limit=2)
        await pick_model(app, pilot, model)
        question = str(app.screen.query_one(Static).render())
        assert "Calibrate my-model.gguf? (under a minute)" in question  # 2 prompts
        assert str(app.screen.query_one("#yes", Button).label).startswith("Calibrate")
        assert str(app.screen.query_one("#no", Button).label).startswith("Later")
        await pilot.press("y")  # two prompts: done in seconds
        await wait_for(lambda: "stored in" in notes(app), timeout=180)
        await pilot.pause()
        assert "once it is saved as the local model" in notes(app)
    profile = local_profile(model, data_dir())
    assert profile.source == "measured" and sum(profile.counts.values()) == 2


async def test_later_leaves_the_prior_and_says_how_to_calibrate(
    memory_keyring,  # noqa: F811
    tmp_path: Path,
) -> None:
    model = tmp_path / "later.gguf"
    model.symlink_to(embedded())
    app = app_with()
    async with app.run_test(size=(140, 50)) as pilot:
        await local_tab(app, pilot, limit=2)
        await pick_model(app, pilot, model)
        await pilot.press("n")
        await wait_for(lambda: isinstance(app.screen, SettingsScreen))
        await pilot.pause()
        shown = notes(app)
        assert "Auto routes later.gguf by a prior from size (0.13B" in shown
        assert "Local model → Calibrate" in shown and "rung calibrate" in shown
    assert stored_profiles() == []


async def test_a_pulled_model_is_offered_calibration_and_calibrated(
    memory_keyring,  # noqa: F811
    hubs: list[FakeHub],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Get a model… pulls a real GGUF (the embedded one, served by the local hub under
    the catalog's name), then Settings asks to calibrate it; Calibrate measures it."""
    serve_smallest(hubs, embedded().read_bytes(), monkeypatch, tmp_path)
    pulled = destination(parse_ref(SMALLEST.name))
    app = app_with()
    async with app.run_test(size=(140, 50)) as pilot:
        settings = await local_tab(app, pilot, limit=2)
        settings.query_one("#get-model", Button).press()
        await wait_for(lambda: isinstance(app.screen, GetModelScreen))
        await pilot.pause()
        app.screen.query_one("#catalog", OptionList).highlighted = 0
        app.screen.query_one("#pull", Button).press()
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen), timeout=120)
        await pilot.pause()
        assert f"Calibrate {pulled.name}?" in str(app.screen.query_one(Static).render())
        await pilot.press("y")
        await wait_for(lambda: "stored in" in notes(app), timeout=180)
        assert f"{pulled.name}: " in notes(app) and "/2 right" in notes(app)
    profile = local_profile(pulled, data_dir())
    assert profile.source == "measured" and sum(profile.counts.values()) == 2


async def test_a_model_that_cannot_load_says_so_and_stores_nothing(
    memory_keyring,  # noqa: F811
    tmp_path: Path,
) -> None:
    broken = fake_gguf(tmp_path / "broken.gguf", 1_500_000_000)  # a header, no weights
    app = app_with()
    async with app.run_test(size=(140, 50)) as pilot:
        settings = await local_tab(app, pilot, limit=2)
        settings.calibrate(broken)
        await wait_for(lambda: isinstance(app.screen, CalibrateScreen))
        await pilot.pause()
        await wait_for(lambda: "Calibration failed" in status(app), timeout=120)
        assert "nothing stored" in status(app) and "Traceback" not in status(app)
        await pilot.press("escape")  # Close
        await wait_for(lambda: isinstance(app.screen, SettingsScreen))
    assert stored_profiles() == []
