"""Settings → Local model → Calibrate: `rung calibrate`'s measurement of a local GGUF
(app/engine/calibration.py), run in a worker thread with a progress bar: prompts done
of the total and how many were right so far.

Esc stops the run within one token and stores **nothing** (a profile from a few kinds
would mislead Auto; the model keeps the numbers it had). A finished run is stored where
Auto reads it, so Auto routes by it from the next message. The screen dismisses with
the stored result, or None when stopped or failed."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, ProgressBar, Static
from textual.worker import Worker, WorkerState

from rung.engine.build_tiers import build_local
from rung.engine.calibration import (
    CALIBRATION_MAX_TOKENS,
    AnswerFailed,
    CalibrationStopped,
    Labelled,
    estimate_seconds,
    measure,
    read_set,
    spread,
    store,
)
from rung.engine.config import Config
from rung.engine.safe_text import for_terminal, one_line
from rung.tiers.competence import Profile, model_key
from rung.tiers.local import LocalTier

# A model that has not loaded in this long will not: say so instead of waiting forever.
LOAD_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Calibrated:
    """A finished run: the stored profile, where it is, and how long it took."""

    model: str
    profile: Profile
    stored: Path
    right: int
    asked: int
    seconds: float


class CalibrationFailed(Exception):
    """The model could not be loaded or answered with an error: nothing is stored."""


def calibration_items(limit: int | None = None) -> list[Labelled]:
    """The shipped labelled set, or ``limit`` prompts spread across its kinds."""
    items = read_set()
    return spread(items, limit) if limit else items


def offer_text(path: Path, limit: int | None = None) -> str:
    """The question asked after a model change: "Calibrate X? (~N min)"."""
    minutes = estimate_seconds(path, len(calibration_items(limit))) / 60
    about = f"~{minutes:.0f} min" if minutes >= 1 else "under a minute"
    return (
        f"Calibrate {path.name}? ({about})\n\n"
        "Auto routes a model it has not measured by a guess from its size. Calibrating "
        "asks it the shipped checked prompts on this machine and stores what it gets "
        "right, per kind of task."
    )


class CalibrateScreen(ModalScreen["Calibrated | None"]):
    DEFAULT_CSS = """
    CalibrateScreen { align: center middle; }
    CalibrateScreen > Vertical { width: 90; max-width: 98%; height: auto;
        border: round $accent; background: $surface; padding: 1 2; }
    CalibrateScreen ProgressBar { margin-top: 1; }
    CalibrateScreen Horizontal { height: auto; margin-top: 1; }
    CalibrateScreen Button { min-width: 0; }
    """
    BINDINGS = [Binding("escape", "stop", "Stop", id="calibrate-stop")]

    def __init__(
        self,
        path: Path,
        config: Config,
        limit: int | None = None,
        max_tokens: int = CALIBRATION_MAX_TOKENS,
    ) -> None:
        """``limit``: only that many prompts, spread across the kinds (a quick look)."""
        super().__init__()
        self.path = path
        self.config = config
        self.items = calibration_items(limit)
        self.max_tokens = max_tokens
        self.right = 0
        self.done = 0
        self._stopping = False
        self._tier: LocalTier | None = None
        self._worker: Worker[Calibrated] | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"Calibrating {for_terminal(self.path.name)} on {len(self.items)} checked "
                "prompts: what it gets right, per kind of task.",
                markup=False,
            )
            yield ProgressBar(total=len(self.items), show_eta=True, id="calibrate-progress")
            yield Static("Loading the model …", id="calibrate-status", markup=False)
            with Horizontal():
                yield Button("Stop  Esc", id="calibrate-stop-button", compact=True)

    def on_mount(self) -> None:
        self._worker = self._run()

    def _status(self, text: str) -> None:
        self.query_one("#calibrate-status", Static).update(for_terminal(text))

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        )

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _run(self) -> Calibrated:
        started = time.monotonic()
        tier = build_local(self.config, str(self.path))
        self._tier = tier
        try:
            # Polled, so Esc during a big model's load stops the run without waiting it out.
            deadline = time.monotonic() + LOAD_TIMEOUT_S
            while not tier.wait_loaded(0.2):
                if self._stopping:
                    raise CalibrationStopped
                if time.monotonic() > deadline:
                    raise CalibrationFailed(
                        f"{self.path.name} did not load in {LOAD_TIMEOUT_S:.0f} s"
                    )
            if tier.load_error:
                raise CalibrationFailed(tier.load_error)
            self.app.call_from_thread(self._status, "Asking the first prompt …")

            def progress(i: int, n: int, item: Labelled, ok: bool) -> None:
                self.app.call_from_thread(self._progress, i, item.kind, ok)

            system = self.config.get("ui", "system_prompt") or None
            stopped = lambda: self._stopping  # noqa: E731
            run = measure(tier, self.items, self.max_tokens, progress, system, stopped)
            results, _ = asyncio.run(run)
        finally:
            tier.close()
        key = model_key(self.path)
        profile, stored = store(self.path.name, key, results, len(self.items),
                                how="Settings → Calibrate")  # fmt: skip
        right = sum(r for r, _ in results.values())
        return Calibrated(self.path.name, profile, stored, right, len(self.items),
                          time.monotonic() - started)  # fmt: skip

    def _progress(self, done: int, kind: str, ok: bool) -> None:
        self.done, self.right = done, self.right + ok
        self.query_one("#calibrate-progress", ProgressBar).update(progress=done)
        share = f" ({self.right / done:.0%})" if done else ""
        self._status(
            f"{done}/{len(self.items)} prompts · {self.right} right so far{share} · "
            f"last: {kind}, {'right' if ok else 'wrong'}"
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
        ):
            return
        if event.state == WorkerState.SUCCESS:
            self.dismiss(event.worker.result)
            return
        error = event.worker.error
        if isinstance(error, CalibrationStopped):
            self.notify(
                f"Calibration of {self.path.name} stopped after {self.done} of "
                f"{len(self.items)} prompts; nothing stored (its previous numbers stay).",
                markup=False,
            )
            self.dismiss(None)
            return
        if isinstance(error, CalibrationFailed | AnswerFailed):
            why = one_line(str(error))
        else:
            why = f"{type(error).__name__}: {one_line(str(error))}"
        self._status(f"Calibration failed, nothing stored: {why}")
        button = self.query_one("#calibrate-stop-button", Button)
        button.label = "Close  Esc"

    @on(Button.Pressed, "#calibrate-stop-button")
    def action_stop(self) -> None:
        if not self.running:
            self.dismiss(None)
            return
        if self._stopping:
            return
        self._stopping = True
        self._status("Stopping …")
        tier = self._tier
        if tier is not None:
            tier.stop()  # the answer in flight ends within one token
