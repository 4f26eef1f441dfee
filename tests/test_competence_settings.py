"""Settings → Local model: picking a model Auto has not measured asks "Calibrate X?
(~N min)"; Later says it is routed by a guess from its size and how to calibrate it
(issue 25, item 1). The calibration itself: tests/test_competence_calibrate_screen.py."""

from __future__ import annotations

import struct
from pathlib import Path

from textual.widgets import Select, Static

from rung.tui.confirm import ConfirmScreen
from tests.conftest import wait_for
from tests.test_secrets import memory_keyring  # noqa: F401
from tests.test_settings import app_with, notes, open_settings


def fake_gguf(path: Path, params: int) -> Path:
    """A GGUF header with one tensor of ``params`` Q4_K weights: enough for the size
    prior, no weights needed."""
    name = b"blk.0.weight"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + struct.pack("<Q", len(name))
                     + name + struct.pack("<I", 1) + struct.pack("<Q", params)
                     + struct.pack("<IQ", 12, 0))  # fmt: skip
    return path


async def test_picking_an_unmeasured_model_offers_calibration(memory_keyring, tmp_path) -> None:  # noqa: F811
    model = fake_gguf(tmp_path / "qwen-coder-1.5b.gguf", 1_500_000_000)
    app = app_with()
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_settings(app, pilot)
        select = screen.query_one("#local-model", Select)
        options = [(str(label), value) for label, value in select._options]
        select.set_options([*options, ("qwen-coder-1.5b.gguf", str(model))])
        select.value = str(model)
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        # 222 prompts of a 1.5B Q4_K model (~0.84 GB of weights): about half an hour.
        question = str(app.screen.query_one(Static).render())
        assert "Calibrate qwen-coder-1.5b.gguf? (~31 min)" in question
        await pilot.press("n")
        await pilot.pause()
        shown = notes(app)
        assert "Auto routes qwen-coder-1.5b.gguf by a prior from size (1.5B" in shown
        assert "`rung calibrate`" in shown
