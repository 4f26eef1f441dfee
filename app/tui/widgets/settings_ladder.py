"""The ladder in Settings, edited by picking and ordering rungs: the rungs on it (move up,
move down, remove), a chooser of the rungs not on it with their state, and the mode."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, OptionList, Select, Static
from textual.widgets.option_list import Option

from rung.engine.ladder import AUTO
from rung.tiers.providers import PROVIDERS
from rung.tui.widgets.settings_fields import FieldLabel


def place_for(rungs: list[str], name: str) -> tuple[int, str]:
    """Where a rung goes when added, and those words: the ladder is cheapest first, so
    the local model goes at the bottom, a self-hosted endpoint just above local (cheaper
    than any API), and an API provider at the top (the user can move it down)."""
    if not rungs:
        return 0, "as the only rung"
    if name == "local":
        return 0, f"at the bottom, below {rungs[0]}"
    if name == "selfhosted":
        at = rungs.index("local") + 1 if "local" in rungs else 0
        if at == 0:
            return 0, f"at the bottom, below {rungs[0]}"
        below = f", below {rungs[at]}" if at < len(rungs) else ""
        return at, f"above {rungs[at - 1]}{below}"
    return len(rungs), f"at the top, above {rungs[-1]}"


class RungList(OptionList):
    """The rungs on the ladder drawn as a ladder: the top rung first. Shift+Up/Down move
    the highlighted rung, Delete takes it off."""

    BINDINGS = [
        Binding("shift+up", "move(1)", "Move rung up", id="settings-rung-up"),
        Binding("shift+down", "move(-1)", "Move rung down", id="settings-rung-down"),
        Binding("delete", "remove", "Remove rung", id="settings-rung-remove"),
    ]

    @dataclass
    class Move(Message):
        climb: int  # +1: one rung up the ladder (dearer), -1: one down (cheaper)

    class Remove(Message):
        pass

    def action_move(self, climb: int) -> None:
        self.post_message(self.Move(climb))

    def action_remove(self) -> None:
        self.post_message(self.Remove())


class LadderEditor(Vertical):
    """Owns the rungs being edited (cheapest first, as in the config); posts Changed
    whenever they change."""

    DEFAULT_CSS = """
    LadderEditor { height: auto; }
    LadderEditor RungList { width: 1fr; height: auto; max-height: 12; border: round $panel;
        padding: 0; }
    LadderEditor RungList:focus { border: round $accent; }
    LadderEditor #ladder-buttons { height: auto; margin-bottom: 1; }
    LadderEditor #ladder-buttons Button { margin-right: 2; }
    LadderEditor .keys-hint { width: 1fr; color: $text-muted; }
    """

    @dataclass
    class Changed(Message):
        rungs: tuple[str, ...]

    def __init__(self, rungs: list[str], mode: str, states: dict[str, str], **kwargs: object):
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rungs = [r for r in dict.fromkeys(rungs) if r in PROVIDERS] or ["local"]
        self.states = dict(states)
        self._mode = mode if mode == AUTO or mode in self.rungs else AUTO

    def compose(self) -> ComposeResult:
        yield FieldLabel("The ladder", "top: for the hardest questions · bottom: cheapest")
        yield RungList(*self._rung_options(), id="ladder-rungs")
        with Horizontal(id="ladder-buttons"):
            yield Button("Move up", id="rung-up", compact=True, classes="plain")
            yield Button("Move down", id="rung-down", compact=True, classes="plain")
            yield Button("Remove", id="rung-remove", variant="error", compact=True)
            yield Static("or Shift+↑/↓ and Delete in the list", classes="keys-hint")
        with Vertical(classes="field"):
            yield FieldLabel("Add a rung", "an API provider goes at the top; move it down")
            yield Select(
                self._add_options(), prompt="choose a rung to add…", id="add-rung", compact=True
            )
        with Vertical(classes="field"):
            yield FieldLabel("Mode", "Auto climbs only as high as a question needs")
            yield Select(
                self._mode_options(), value=self._mode, allow_blank=False, id="mode", compact=True
            )

    def on_mount(self) -> None:
        self._highlight(len(self.rungs) - 1)

    # -- what the rungs look like ---------------------------------------------------------
    def _rung_options(self) -> list[Option]:
        # Rung numbers as F2…F5 and "Pin rung N" count them: 1 is the cheapest.
        width = len(str(len(self.rungs)))
        return [
            Option(
                Content.assemble(
                    f"{at:>{width}}. ", (name, "bold"), (f" — {self.states.get(name, '')}", "dim")
                ),
                id=name,
            )
            for at, name in reversed(list(enumerate(self.rungs, start=1)))
        ]

    def _add_options(self) -> list[tuple[Content, str]]:
        # In the order of ``states`` (the settings' own order), then any other rung.
        return [
            (Content(f"{name} — {self.states.get(name, '')}"), name)
            for name in dict.fromkeys([*self.states, *PROVIDERS])
            if name not in self.rungs and name in PROVIDERS
        ]

    def _mode_options(self) -> list[tuple[str, str]]:
        return [("Auto: each message to the cheapest rung that fits", AUTO)] + [
            (f"Always {name} (pinned)", name) for name in self.rungs
        ]

    @property
    def mode(self) -> str:
        value = self.query_one("#mode", Select).value
        return value if isinstance(value, str) else AUTO

    def _highlighted(self) -> int | None:
        """The highlighted rung's index in ``rungs`` (the list shows them top first)."""
        shown = self.query_one(RungList).highlighted
        return None if shown is None else len(self.rungs) - 1 - shown

    def _highlight(self, at: int | None) -> None:
        if at is not None and self.rungs:
            at = max(0, min(at, len(self.rungs) - 1))
            self.query_one(RungList).highlighted = len(self.rungs) - 1 - at

    def set_states(self, states: dict[str, str]) -> None:
        """Show each rung's state (key, URL, reachable) as the rest of the form says."""
        if states != self.states:
            self.states = dict(states)
            self._refresh(self._highlighted())

    def _refresh(self, highlight: int | None) -> None:
        self.query_one(RungList).set_options(self._rung_options())
        self._highlight(highlight)
        self.query_one("#add-rung", Select).set_options(self._add_options())
        mode_select = self.query_one("#mode", Select)
        mode = self.mode
        mode_select.set_options(self._mode_options())
        mode_select.value = mode if mode in self.rungs else AUTO

    def _changed(self, highlight: int | None) -> None:
        self._refresh(highlight)
        self.post_message(self.Changed(tuple(self.rungs)))

    # -- editing -------------------------------------------------------------------------
    def add(self, name: str) -> str:
        """Put ``name`` on the ladder where it belongs; returns where, in words."""
        if name in self.rungs:
            return "already on the ladder"
        at, where = place_for(self.rungs, name)
        self.rungs.insert(at, name)
        self._changed(at)
        return where

    def move(self, climb: int) -> None:
        """Move the highlighted rung ``climb`` places up the ladder (negative: down)."""
        at = self._highlighted()
        if at is None or not 0 <= at + climb < len(self.rungs):
            return
        self.rungs[at], self.rungs[at + climb] = self.rungs[at + climb], self.rungs[at]
        self._changed(at + climb)

    def remove(self) -> None:
        at = self._highlighted()
        if at is None:
            return
        if len(self.rungs) == 1:
            self.notify("The ladder needs at least one rung.", severity="warning")
            return
        self.rungs.pop(at)
        self._changed(at)

    @on(RungList.Move)
    def _move_key(self, event: RungList.Move) -> None:
        self.move(event.climb)

    @on(RungList.Remove)
    def _remove_key(self) -> None:
        self.remove()

    @on(Button.Pressed, "#rung-up, #rung-down, #rung-remove")
    def _button(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "rung-remove":
            self.remove()
        else:
            self.move(1 if event.button.id == "rung-up" else -1)

    @on(Select.Changed, "#add-rung")
    def _chosen(self, event: Select.Changed) -> None:
        event.stop()
        # Refilling the chooser resets it to its blank entry (Select.NULL): not a rung.
        if isinstance(event.value, str) and event.value in PROVIDERS:
            where = self.add(event.value)
            self.notify(f"{event.value} is on the ladder, {where}.", markup=False)
