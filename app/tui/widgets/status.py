"""The status line: active rung and model, state, speed, time to first token. It shows
the app's ``status`` and nothing else (one-way: the app decides, the line draws)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.widgets import Static

from rung.engine.safe_text import one_line


@dataclass(frozen=True)
class StatusView:
    mode: str = ""  # "Auto" or "Pinned"
    tier: str = "local"
    model: str = ""
    state: str = "loading model"
    tokens_per_s: float | None = None
    ttft_s: float | None = None
    agent: str = ""  # "agent ask · commands not sandboxed"; "": chat only


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; width: 1fr; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.view = StatusView()

    # The fields tests and the palette read.
    @property
    def tier(self) -> str:
        return self.view.tier

    @property
    def model(self) -> str:
        return self.view.model

    @property
    def state(self) -> str:
        return self.view.state

    @property
    def tokens_per_s(self) -> float | None:
        return self.view.tokens_per_s

    @property
    def ttft_s(self) -> float | None:
        return self.view.ttft_s

    def show(self, view: StatusView) -> None:
        self.view = view
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        view = self.view
        width = self.content_size.width or self.size.width or 200
        speed = []
        if view.tokens_per_s is not None:
            speed.append(f"{view.tokens_per_s:.1f} tok/s")
        if view.ttft_s is not None:
            speed.append(f"TTFT {view.ttft_s:.2f} s")
        head = f"{view.mode + ' · ' if view.mode else ''}{view.tier} · "
        model = view.model or "(model from server)"
        # The model name gives way first (it may be a whole GGUF path a server chose),
        # then the speed: the rung and its state are what the line is for.
        state = f"{view.state}  │  {view.agent}" if view.agent else view.state
        for tail in ("  │  ".join([state, *speed]), state):
            room = width - len(head) - len("  │  ") - len(tail)
            if room >= 12 or tail == state:
                line = f"{head}{short_model(model, max(4, room))}  │  {tail}"
                break
        # One line of fixed size: a repaint, not a re-layout of the whole screen (the
        # status changes while a reply streams).
        self.update(line if len(line) <= width else line[: max(1, width - 1)] + "…", layout=False)


def short_model(name: str, room: int) -> str:
    """A model id that fits ``room`` characters: a file path becomes its file name, then
    the middle gives way (both ends of an id say the most)."""
    name = one_line(name)
    if "/" in name and len(name) > room and name.lower().endswith(".gguf"):
        name = name.rsplit("/", 1)[-1]
    if len(name) <= room:
        return name
    keep = max(1, room - 1)
    return name[: keep - keep // 2] + "…" + name[len(name) - keep // 2 :]
