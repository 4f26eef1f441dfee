"""The key bar at the bottom of the chat screen: the screen's keys as text, on one line,
or two when they do not fit (at 80 columns).

Textual's ``Footer`` mounts one widget per key and restyles each as it mounts; with the
chat screen's dozen keys that was about a third of the time from launch to the first
frame (bench/startup.py, docs/PERFORMANCE.md). This bar draws the same keys as one
line of text, redrawn (not remounted) when the bindings change; a click on a key
presses it, as in the footer.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

MAX_LINES = 2


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
        # (line, first column, last column + 1, key) of each drawn key, for clicks.
        self._spans: list[tuple[int, int, int, str]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._fit_height()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self._fit_height()

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self._fit_height()
            self.refresh()

    def _fit_height(self) -> None:
        """One line when every key fits, else two (at 80 columns the chat's keys need
        two): a key that is not drawn is a key a newcomer never learns."""
        lines = len(self._layout(self.size.width or self.app.size.width)[0])
        if self.styles.height is None or self.styles.height.value != lines:
            self.styles.height = lines

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

    def _layout(
        self, width: int
    ) -> tuple[list[list[tuple[str, str, str, bool]]], tuple[str, str, str] | None]:
        """The keys in their order over at most MAX_LINES lines of ``width``; the first
        line keeps room for the palette's key on its right."""
        left, palette = self._entries()
        lines = self._wrap(left, palette, width)
        if sum(map(len, lines)) < len(left):
            # Short words ("Review", "New") before any key is left out.
            short = [(k, shown, d.split(" ")[0], e) for k, shown, d, e in left]
            lines = self._wrap(short, palette, width)
        return lines, palette

    @staticmethod
    def _wrap(
        left: list[tuple[str, str, str, bool]], palette: tuple[str, str, str] | None, width: int
    ) -> list[list[tuple[str, str, str, bool]]]:
        right = cell_len(f" {palette[1]} {palette[2]} ") if palette is not None else 0
        lines: list[list[tuple[str, str, str, bool]]] = [[]]
        used = 0
        for entry in left:
            size = cell_len(f" {entry[1]} ") + (cell_len(f"{entry[2]} ") if entry[2] else 0)
            room = width - (right if len(lines) == 1 else 0)
            if used + size > room and lines[-1]:
                if len(lines) == MAX_LINES:
                    break  # most useful keys come first: the tail is what is cut
                lines.append([])
                used = 0
            lines[-1].append(entry)
            used += size
        return lines

    def render(self) -> Text:
        key_style = self.get_component_rich_style("keybar--key")
        text_style = self.get_component_rich_style("keybar--description")
        dim = self.get_component_rich_style("keybar--disabled")
        width = self.size.width
        rows, palette = self._layout(width)
        out = Text(no_wrap=True, overflow="crop")
        spans: list[tuple[int, int, int, str]] = []
        for number, entries in enumerate(rows):
            line = Text(no_wrap=True, overflow="crop")
            for key, shown, description, enabled in entries:
                start = line.cell_len
                line.append(f" {shown} ", key_style if enabled else key_style + dim)
                if description:
                    line.append(f"{description} ", text_style if enabled else text_style + dim)
                spans.append((number, start, line.cell_len, key))
            if number == 0 and palette is not None:
                right = Text()
                right.append(f" {palette[1]} ", key_style)
                right.append(f"{palette[2]} ", text_style)
                line.append(" " * max(0, width - line.cell_len - right.cell_len))
                spans.append((number, line.cell_len, line.cell_len + right.cell_len, palette[0]))
                line.append_text(right)
            if number:
                out.append("\n")
            out.append_text(line)
        self._spans = spans
        return out

    def on_click(self, event: events.Click) -> None:
        for line, start, end, key in self._spans:
            if line == event.y and start <= event.x < end:
                event.stop()
                self.app.simulate_key(key)
                return
