"""Review proposed edits hunk by hunk, then apply only what was accepted.

The screen shows the files a reply wants to change (left) and the selected file's
hunks as a highlighted diff (right). Nothing is written until Enter; a file that
changed on disk since the proposal is shown as it is now and is not written. Applying
goes through the edits journal, so it can be undone (palette, or `rung undo`).

Each file is marked with what edits.policy says of it: "not attached" (the reply chose
it itself), "runs code" (a hook, CI workflow, build script...: such a file is written
only after its own yes, asked on Enter, since accepting its hunks is not enough), and
the files the reply may not change at all are listed as refused.
"""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from rung.engine.edits import FileProposal, Journal, Proposal, apply_proposal
from rung.engine.safe_text import for_terminal
from rung.tui.confirm import ConfirmScreen

HELP = (
    "↑↓ hunk · ←→ file · space toggle · a/r accept/reject hunk · A/R whole file · "
    "Enter apply · Esc close"
)
# A file that changed on disk is shown as it is now, up to this many lines.
PREVIEW_LINES = 40


class HunkView(Static):
    DEFAULT_CSS = """
    HunkView { border-left: thick $success; padding: 0 1; margin: 0 0 1 0; height: auto; }
    HunkView.rejected { border-left: thick $error; opacity: 55%; }
    HunkView.current { background: $boost; }
    """


class ReviewScreen(ModalScreen["Outcome | None"]):
    DEFAULT_CSS = """
    ReviewScreen { align: center middle; }
    ReviewScreen > Vertical { width: 100%; height: 100%; border: round $accent;
        background: $surface; }
    ReviewScreen #review-help { color: $text-muted; padding: 0 1; height: auto; }
    ReviewScreen #review-files { width: 34; max-width: 40%; padding: 0 1;
        border-right: solid $panel; height: 1fr; }
    ReviewScreen #review-diff { height: 1fr; padding: 0 1; }
    ReviewScreen .problem { color: $warning; height: auto; }
    ReviewScreen .changed { color: $error; height: auto; }
    ReviewScreen .policy { color: $warning; text-style: bold; height: auto; }
    ReviewScreen #review-summary { padding: 0 1; height: auto; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close", id="review-close"),
        Binding("enter,ctrl+s", "apply", "Apply", id="review-apply", priority=True),
        Binding("down,j", "move(1)", "Next hunk", id="review-next", show=False),
        Binding("up,k", "move(-1)", "Previous hunk", id="review-previous", show=False),
        Binding("right,l,tab", "file(1)", "Next file", id="review-next-file", show=False),
        Binding("left,h,shift+tab", "file(-1)", "Previous file", id="review-prev-file", show=False),
        Binding("space", "toggle", "Toggle hunk", id="review-toggle"),
        Binding("a", "set_hunk(True)", "Accept", id="review-accept", show=False),
        Binding("r", "set_hunk(False)", "Reject", id="review-reject", show=False),
        Binding("A", "set_file(True)", "Accept file", id="review-accept-file", show=False),
        Binding("R", "set_file(False)", "Reject file", id="review-reject-file", show=False),
    ]

    def __init__(self, proposal: Proposal, journal: Journal | None) -> None:
        super().__init__()
        self.proposal = proposal
        self.journal = journal
        # Files with something to review (hunks, a new file, or problems to read).
        self.files = [f for f in proposal.files if f.hunks or f.creates or f.problems]
        self.file_index = 0
        self.hunk_index = 0
        self._declined: set[str] = set()  # runs-code files the user said no to, this Enter

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HELP, id="review-help", markup=False)
            with Horizontal():
                yield Static("", id="review-files", markup=False)
                yield VerticalScroll(id="review-diff")
            yield Static("", id="review-summary", markup=False)

    async def on_mount(self) -> None:
        await self._show_file()

    # -- what is shown ---------------------------------------------------------------
    @property
    def current(self) -> FileProposal | None:
        return self.files[self.file_index] if self.files else None

    def _file_line(self, i: int, f: FileProposal) -> str:
        marker = "▶" if i == self.file_index else " "
        if f.hunks:
            taken = sum(1 for h in f.hunks if h.accepted)
            state = f"{taken}/{len(f.hunks)}"
        elif f.creates:
            state = "new ✓" if f.accepted else "new ✗"
        else:
            state = "!"
        changed = " changed on disk" if f.edits and self.proposal.disk_state(f.path).changed else ""
        return f"{marker} {for_terminal(f.path)}  {state}{changed}{self._marks(f)}"

    @staticmethod
    def _marks(f: FileProposal) -> str:
        marks = "" if f.attached else " · not attached"
        if f.runs_code:
            marks += " · runs code, yes given" if f.confirmed else " · runs code"
        return marks

    def _refresh_side(self) -> None:
        lines = [self._file_line(i, f) for i, f in enumerate(self.files)]
        if self.proposal.refused:
            lines += ["", *(f"✗ {for_terminal(r.describe())}" for r in self.proposal.refused)]
        if self.proposal.notes:
            lines += ["", *(f"· {for_terminal(n)}" for n in self.proposal.notes)]
        if self.proposal.problems:
            lines += ["", *(f"! {for_terminal(p)}" for p in self.proposal.problems)]
        self.query_one("#review-files", Static).update("\n".join(lines) or "No changes.")
        writes = self.proposal.to_write
        asking = sum(1 for f in self.proposal.files if f.needs_yes)
        later = f" (+{asking} if you say yes)" if asking else ""
        self.query_one("#review-summary", Static).update(
            f"{self.proposal.summary()} · Enter writes {len(writes)} file(s){later} · undo "
            "later from the palette or `rung undo`"
        )

    async def _show_file(self) -> None:
        pane = self.query_one("#review-diff", VerticalScroll)
        await pane.remove_children()
        self._refresh_side()
        f = self.current
        if f is None:
            await pane.mount(Static("The reply proposes no changes Rung could use.",
                                    markup=False))  # fmt: skip
            return
        widgets: list[Static] = [*self._policy_notes(f)]
        for problem in f.problems:
            widgets.append(Static(f"! {for_terminal(problem)}", classes="problem", markup=False))
        state = self.proposal.disk_state(f.path) if f.edits else None
        if state is not None and state.changed:
            now = (state.text or state.problem or "(gone)").splitlines()[:PREVIEW_LINES]
            widgets.append(
                Static(
                    f"{f.path} changed on disk since the proposal: it will not be written. "
                    "As it is now:\n" + for_terminal("\n".join(now)),
                    classes="changed",
                    markup=False,
                )
            )
        if f.creates and not f.hunks:
            widgets.append(HunkView(f"new file {for_terminal(f.path)} (empty)", markup=False))
        for hunk in f.hunks:
            view = HunkView(self._render_hunk(f, hunk.index))
            view.set_class(not hunk.accepted, "rejected")
            widgets.append(view)
        await pane.mount_all(widgets)
        self._mark_current()

    @staticmethod
    def _policy_notes(f: FileProposal) -> list[Static]:
        notes: list[Static] = []
        name = for_terminal(f.path)
        if not f.attached:
            notes.append(Static(f"{name} was not attached: the reply chose this file itself.",
                                classes="policy", markup=False))  # fmt: skip
        if f.runs_code:
            state = (
                "You said yes to writing it."
                if f.confirmed
                else "Accepting its hunks is not enough: Enter asks you about this file."
            )
            notes.append(Static(f"{name} runs code by itself: {f.runs_code}. {state}",
                                classes="policy", markup=False))  # fmt: skip
        return notes

    def _render_hunk(self, f: FileProposal, index: int) -> Syntax | Text:
        hunk = f.hunks[index]
        state = "accepted" if hunk.accepted else "rejected"
        body = "\n".join([f"{hunk.header}  ({state})", *hunk.lines])
        # File text and model output are untrusted: no control characters reach the screen.
        return Syntax(for_terminal(body), "diff", theme="ansi_dark", word_wrap=True)

    def _mark_current(self) -> None:
        views = list(self.query(HunkView))
        for i, view in enumerate(views):
            view.set_class(i == self.hunk_index, "current")
        if views and self.hunk_index < len(views):
            views[self.hunk_index].scroll_visible()

    def _update_hunk(self) -> None:
        f = self.current
        if f is None or not f.hunks:
            return
        views = list(self.query(HunkView))
        view = views[self.hunk_index]
        view.update(self._render_hunk(f, self.hunk_index))
        view.set_class(not f.hunks[self.hunk_index].accepted, "rejected")
        self._refresh_side()

    # -- keys --------------------------------------------------------------------------
    def action_move(self, step: int) -> None:
        f = self.current
        if f is None or not f.hunks:
            return
        self.hunk_index = max(0, min(len(f.hunks) - 1, self.hunk_index + step))
        self._mark_current()

    async def action_file(self, step: int) -> None:
        if not self.files:
            return
        self.file_index = (self.file_index + step) % len(self.files)
        self.hunk_index = 0
        await self._show_file()

    def action_toggle(self) -> None:
        f = self.current
        if f is not None and f.hunks:
            self.action_set_hunk(not f.hunks[self.hunk_index].accepted)
        elif f is not None and f.creates:
            self.action_set_file(not f.accepted)

    def action_set_hunk(self, accepted: bool) -> None:
        f = self.current
        if f is None or not f.hunks:
            return
        f.hunks[self.hunk_index].accepted = accepted
        self._update_hunk()

    async def action_set_file(self, accepted: bool) -> None:
        f = self.current
        if f is None:
            return
        if accepted:
            f.accept()
        else:
            f.reject()
        await self._show_file()

    def action_apply(self) -> None:
        # A file that runs code is written only after its own yes, one file at a time.
        for f in self.proposal.files:
            if f.needs_yes and f.path not in self._declined:
                question = (
                    f"{for_terminal(f.path)} runs code by itself: {f.runs_code}."
                    f"{'' if f.attached else ' You did not attach it.'}\n\n"
                    "Write the accepted changes to this file?"
                )
                self.app.push_screen(
                    ConfirmScreen(question, yes="Write it", no="Leave it"),
                    lambda yes, f=f: self._answered(f, bool(yes)),
                )
                return
        self._declined.clear()
        outcome = apply_proposal(self.proposal, self.journal)
        if not outcome.ok:
            # Nothing was written; say why and stay, so the user can change the choice.
            self.notify(for_terminal(outcome.message), severity="error", timeout=15,
                        markup=False)  # fmt: skip
            return
        self.dismiss(outcome)

    def _answered(self, f: FileProposal, yes: bool) -> None:
        if yes:
            f.confirmed = True
        else:
            self._declined.add(f.path)
        self._refresh_side()
        self.action_apply()

    def action_close(self) -> None:
        self.dismiss(None)
