"""The key bar at the bottom of the chat screen: the screen's keys, one line of text.

Textual's ``Footer`` mounts one widget per key and restyles each as it mounts; with the
chat screen's dozen keys that was about a third of the time from launch to the first
frame (bench/startup.py, docs/PERFORMANCE.md). This bar draws the same keys as one
line of text, redrawn (not remounted) when the bindings change; a click on a key
presses it, as in the footer.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


class KeyBar(Widget, can_focus=False):
    """The active screen's shown bindings, in its order; the palette key on the right."""

    COMPONENT_CLASSES = {"keybar--key", "keybar--description", "keybar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar > .keybar--key { color: $footer-key-foreground; background: $footer-key-background;
        text-style: bold; }
    KeyBar > .keybar--description { color: $footer-description-foreground;
        background: $footer-description-background; }
    KeyBar > .keybar--disabled { text-style: dim; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # (first column, last column + 1, key) of each drawn key, for clicks.
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self.refresh()

    def _entries(self) -> tuple[list[tuple[str, str, str, bool]], tuple[str, str, str] | None]:
        """(key, key as shown, description, enabled) for the left; the palette's key."""
        app = self.app
        active = self.screen.active_bindings
        left = []
        actions: set[str] = set()
        for _node, binding, enabled, _tooltip in active.values():
            # One key per action, the first (as Textual's footer does): F9 and Ctrl+R
            # both escalate, the bar says F9.
            if not binding.show or binding.key == app.COMMAND_PALETTE_BINDING:
                continue
            if binding.action in actions:
                continue
            actions.add(binding.action)
            left.append((binding.key, app.get_key_display(binding), binding.description, enabled))
        palette = None
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
            _node, binding, _enabled, _tooltip = active[app.COMMAND_PALETTE_BINDING]
            palette = (binding.key, app.get_key_display(binding), binding.description)
        return left, palette

    def render(self) -> Text:
        key_style = self.get_component_rich_style("keybar--key")
        text_style = self.get_component_rich_style("keybar--description")
        dim = self.get_component_rich_style("keybar--disabled")
        left, palette = self._entries()
        width = self.size.width
        right = Text()
        if palette is not None:
            right.append(f" {palette[1]} ", key_style)
            right.append(f"{palette[2]} ", text_style)
        room = max(0, width - right.cell_len)
        line = Text(no_wrap=True, overflow="crop")
        spans: list[tuple[int, int, str]] = []
        for key, shown, description, enabled in left:
            piece = Text()
            piece.append(f" {shown} ", key_style if enabled else key_style + dim)
            if description:
                piece.append(f"{description} ", text_style if enabled else text_style + dim)
            if line.cell_len + piece.cell_len > room:
                break  # most useful keys come first: the tail is what is cut
            spans.append((line.cell_len, line.cell_len + piece.cell_len, key))
            line.append_text(piece)
        if palette is not None:
            line.append(" " * max(0, width - line.cell_len - right.cell_len))
            spans.append((line.cell_len, line.cell_len + right.cell_len, palette[0]))
            line.append_text(right)
        self._spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                event.stop()
                self.app.simulate_key(key)
                return
