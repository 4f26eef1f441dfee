"""The status line: active rung and model, state, speed, time to first token."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    tier = reactive("local")
    model = reactive("")
    mode = reactive("")
    state = reactive("loading model")
    tokens_per_s: reactive[float | None] = reactive(None)
    ttft_s: reactive[float | None] = reactive(None)

    def render(self) -> str:
        parts = [f"{self.mode + ' · ' if self.mode else ''}{self.tier} · {self.model}", self.state]
        if self.tokens_per_s is not None:
            parts.append(f"{self.tokens_per_s:.1f} tok/s")
        if self.ttft_s is not None:
            parts.append(f"TTFT {self.ttft_s:.2f} s")
        return "  │  ".join(parts)
