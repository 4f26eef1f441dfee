"""The settings screen's Local model tab: the model picker and its path field, weight
repacking, getting a model, and calibrating one so Auto routes it by measurement rather
than by a guess from its size. A mixin of SettingsScreen."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Select

from rung.engine.config import Config, data_dir
from rung.tiers.local import embedded_model_path
from rung.tui.settings_form import CUSTOM_PATH, REPACKING, model_choices
from rung.tui.widgets.settings_fields import FieldLabel


class LocalModelTab:
    """Mixed into SettingsScreen: it provides config and calibration_limit."""

    config: Config
    calibration_limit: int | None

    def local_model_fields(self) -> ComposeResult:
        """The picker (with Get a model… and Calibrate), the path field and repacking."""
        current = self.config.get("local", "model_path")
        options = model_choices()
        known = {value for _, value in options[:-1]}
        embedded = options[0][1] if options[0][1] != CUSTOM_PATH else CUSTOM_PATH
        selected = current if current in known else (CUSTOM_PATH if current else embedded)
        with Vertical(classes="field"):
            yield FieldLabel("Model", "the embedded one, GGUF files found here, or any file")
            yield Select(options, value=selected, allow_blank=False, id="local-model", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Get a model…", id="get-model", compact=True, classes="plain")
                yield Button("Calibrate", id="calibrate", compact=True, classes="plain")
        path_field = Vertical(
            FieldLabel("GGUF file path"),
            Input(value=current if current not in known else "", id="local-path", compact=True),
            classes="field",
            id="local-path-field",
        )
        path_field.set_class(selected == CUSTOM_PATH, "-shown")
        yield path_field
        with Vertical(classes="field"):
            yield FieldLabel("Weight repacking", "llama.cpp's faster weight layout")
            yield Select(
                REPACKING,
                value=self.config.get("local", "weight_repacking"),
                allow_blank=False,
                id="weight-repacking",
                compact=True,
            )

    def local_model_changed(self, value: object) -> None:
        """Another entry picked: show the path field for "another file", and offer to
        calibrate a model Auto has not measured."""
        self.query_one("#local-path-field").set_class(value == CUSTOM_PATH, "-shown")
        if isinstance(value, str) and value not in (CUSTOM_PATH, ""):
            self._offer_calibration(Path(value))

    def _offer_calibration(self, path: Path) -> None:
        """A model Auto has not measured is routed by a guess from its size: offer to
        measure it now (tiers/competence.py, app/tui/calibrate_screen.py)."""
        from rung.tiers.competence import local_profile
        from rung.tui.calibrate_screen import offer_text
        from rung.tui.confirm import ConfirmScreen

        if path == embedded_model_path() or self.config.get("local", "model_path") == str(path):
            return
        profile = local_profile(path, data_dir())
        if profile.source == "measured":
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.calibrate(path)
                return
            self.notify(
                f"Auto routes {path.name} by a {profile.note}. Calibrate it later here "
                "(Local model → Calibrate) or with `rung calibrate`.",
                title="Not calibrated",
                markup=False,
                timeout=12,
            )

        question = offer_text(path, self.calibration_limit)
        self.app.push_screen(ConfirmScreen(question, yes="Calibrate", no="Later"), answered)

    def _picked_model(self) -> Path | None:
        """The GGUF file the Local model tab shows now (saved or not), or None."""
        choice = self.query_one("#local-model", Select).value
        if choice != CUSTOM_PATH:
            return Path(str(choice)) if isinstance(choice, str) and choice else None
        typed = self.query_one("#local-path", Input).value.strip()
        return Path(typed).expanduser() if typed else None

    def calibrate_picked(self) -> None:
        """Calibrate the model the tab shows, or say what to pick first."""
        path = self._picked_model()
        if path is None or not path.is_file():
            self.notify(
                "Pick a model (or type the path of a .gguf file) to calibrate.",
                severity="error",
                markup=False,
            )
            return
        self.calibrate(path)

    def calibrate(self, path: Path) -> None:
        """Measure ``path`` on the calibration set with a progress bar; a finished run is
        stored where Auto reads it (from the next message on)."""
        from rung.tui.calibrate_screen import Calibrated, CalibrateScreen

        def finished(result: Calibrated | None) -> None:
            if result is None:
                return  # stopped (the screen said so) or failed (it showed why)
            saved = self.config.get("local", "model_path") or str(embedded_model_path())
            when = "" if saved == str(path) else " once it is saved as the local model"
            self.notify(
                f"{result.model}: {result.right}/{result.asked} right "
                f"({result.seconds:.0f} s), stored in {result.stored}. Auto routes it by "
                f"these numbers from the next message{when}.",
                title="Calibrated",
                markup=False,
                timeout=15,
            )

        screen = CalibrateScreen(path, self.config, self.calibration_limit)
        self.app.push_screen(screen, finished)

    def get_model(self) -> None:
        """Offer models that fit this machine; one pulled is picked (Save keeps it)."""
        from rung.engine.model_catalog import this_machine
        from rung.tui.model_pull_screen import GetModelScreen

        def picked(path: Path | None) -> None:
            if path is None:
                return
            select = self.query_one("#local-model", Select)
            select.set_options(model_choices())
            select.value = str(path)  # pulled into the models folder, which the finder reads
            self.notify(f"{path.name} is picked: Save to use it.", markup=False)

        self.app.push_screen(GetModelScreen(this_machine()), picked)
