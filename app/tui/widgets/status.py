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


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
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
        # The model name may come from a server: one line, no control characters.
        model = one_line(view.model or "(model from server)", 60)
        parts = [f"{view.mode + ' · ' if view.mode else ''}{view.tier} · {model}", view.state]
        if view.tokens_per_s is not None:
            parts.append(f"{view.tokens_per_s:.1f} tok/s")
        if view.ttft_s is not None:
            parts.append(f"TTFT {view.ttft_s:.2f} s")
        self.update("  │  ".join(parts))
