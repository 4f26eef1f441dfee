"""Settings → Local model → Get a model: the catalog marked for this machine, and one
model pulled with a progress bar in a worker thread. Esc stops a pull (the bytes stay
for the next one); the screen dismisses with the pulled file's path, or None."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from rung.engine.model_catalog import CATALOG, CatalogModel, Machine, fit, recommended
from rung.engine.model_pull import (
    PullCancelled,
    PullError,
    PullResult,
    PullTarget,
    destination,
    partial_bytes,
    pull,
    reporting_bar,
)
from rung.engine.safe_text import for_terminal


class GetModelScreen(ModalScreen["Path | None"]):
    DEFAULT_CSS = """
    GetModelScreen { align: center middle; }
    GetModelScreen > Vertical { width: 100; max-width: 98%; height: auto; max-height: 95%;
        border: round $accent; background: $surface; padding: 1 2; }
    GetModelScreen OptionList { height: auto; max-height: 12; margin: 1 0; }
    GetModelScreen ProgressBar { margin-top: 1; }
    GetModelScreen Horizontal { height: auto; margin-top: 1; }
    GetModelScreen Button { margin-right: 2; min-width: 0; }
    """
    BINDINGS = [Binding("escape", "stop_or_close", "Stop / close", id="get-model-close")]

    def __init__(self, machine: Machine, catalog: tuple[CatalogModel, ...] = CATALOG) -> None:
        super().__init__()
        self.machine = machine
        self.catalog = catalog
        self._stopping = False
        self._worker: Worker[PullResult] | None = None

    def compose(self) -> ComposeResult:
        best = recommended(self.machine)
        memory = (
            f"{self.machine.ram_bytes / 1e9:.0f} GB of memory"
            if self.machine.ram_bytes
            else "unknown memory"
        )
        with Vertical():
            yield Static(
                f"GGUF models for the local rung; this machine: {memory}, "
                f"{self.machine.cores} cores. * = recommended here.",
                markup=False,
            )
            options = []
            for model in self.catalog:
                there = "  [on disk]" if destination(self._target(model)).is_file() else ""
                mark = "*" if model is best else " "
                options.append(
                    Option(
                        f"{mark} {model.name}  {model.size_gb:.1f} GB  {fit(model, self.machine)}"
                        f"  {model.licence}: {model.good_for}{there}",
                        id=model.name,
                    )
                )
            yield OptionList(*options, id="catalog")
            yield ProgressBar(id="pull-progress", show_eta=True)
            yield Static("", id="pull-status", markup=False)
            with Horizontal():
                yield Button("Pull", id="pull", variant="success", compact=True)
                yield Button("Close  Esc", id="close", compact=True)

    def on_mount(self) -> None:
        catalog = self.query_one("#catalog", OptionList)
        best = recommended(self.machine)
        names = [m.name for m in self.catalog]
        catalog.highlighted = names.index(best.name) if best and best.name in names else 0
        catalog.focus()

    @staticmethod
    def _target(model: CatalogModel) -> PullTarget:
        return PullTarget(model.repo, model.filename)

    def _status(self, text: str) -> None:
        self.query_one("#pull-status", Static).update(for_terminal(text))

    @property
    def pulling(self) -> bool:
        return self._worker is not None and self._worker.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        )

    @on(OptionList.OptionSelected, "#catalog")
    @on(Button.Pressed, "#pull")
    def start_pull(self) -> None:
        if self.pulling:
            return
        index = self.query_one("#catalog", OptionList).highlighted
        if index is None:
            return
        model = self.catalog[index]
        self._stopping = False
        self.query_one("#pull", Button).disabled = True
        self._status(f"Pulling {model.ref} …")
        self._worker = self._pull(self._target(model))

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _pull(self, target: PullTarget) -> PullResult:
        def report(done: int, total: int | None) -> None:
            self.app.call_from_thread(self._progress, done, total)

        return pull(target, tqdm_class=reporting_bar(report, lambda: self._stopping))

    def _progress(self, done: int, total: int | None) -> None:
        self.query_one("#pull-progress", ProgressBar).update(total=total, progress=done)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
        ):
            return
        self.query_one("#pull", Button).disabled = False
        if event.state == WorkerState.SUCCESS and event.worker.result is not None:
            self.dismiss(event.worker.result.path)
            return
        error = event.worker.error
        if isinstance(error, PullCancelled):
            index = self.query_one("#catalog", OptionList).highlighted or 0
            kept = partial_bytes(self._target(self.catalog[index]))
            self._status(f"Stopped; {kept / 1e6:.0f} MB kept: Pull resumes from there.")
        elif isinstance(error, PullError):
            self._status(str(error))
        else:
            self._status(f"The pull failed: {type(error).__name__}: {error}")

    @on(Button.Pressed, "#close")
    def action_stop_or_close(self) -> None:
        if self.pulling:
            self._stopping = True  # the download loop stops itself at its next piece
            self._status("Stopping …")
            return
        self.dismiss(None)
