"""The compare screen: one question on two or more rungs at once, the answers streaming
side by side, each column with its live cost and speed, and a key to keep one of them.

It dismisses with a ``SideBySide`` (every answer, all paid for, and which one was
kept) or None when nothing was asked; ``rung.engine.side_by_side.adopt`` records them
and continues the conversation from the kept answer. Answers stream into Markdown
piece by piece (``Markdown.get_stream``), never re-rendered whole, and only sanitized
text reaches the terminal.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Markdown, Static
from textual.widgets.markdown import MarkdownStream
from textual.worker import Worker

from rung.engine.compare_answer import Answered, LiveAnswer
from rung.engine.conversation import LIVE_COST_INTERVAL_S, Conversation
from rung.engine.safe_text import for_terminal, one_line
from rung.engine.side_by_side import Column, SideBySide, default_rungs
from rung.tiers.base import Event, Message, TextDelta, Tier
from rung.tiers.pricing import format_usd

# How an answer ended, in the column's last line.
ENDED = {"stop": "done", "length": "token limit", "cancelled": "stopped", "error": "failed"}


def speed_text(tokens_per_s: float | None, ttft_s: float | None) -> str:
    parts = []
    if tokens_per_s is not None:
        parts.append(f"{tokens_per_s:.0f} tok/s")
    if ttft_s is not None:
        parts.append(f"first token {ttft_s:.2f} s")
    return " · ".join(parts)


def final_meter(answered: Answered) -> str:
    """The column's last line once its answer ended: cost, tokens, speed, ending."""
    record, reply = answered.record, answered.reply
    u = reply.usage
    cost = format_usd(record.cost.usd, not record.cost.exact)
    tokens = f"{u.input_tokens:,} in / {u.output_tokens:,} out"
    if u.cached_input_tokens:
        tokens += f" ({u.cached_input_tokens:,} cached)"
    speed = speed_text(answered.tokens_per_s, answered.ttft_s)
    ended = ENDED.get(record.finish_reason, record.finish_reason)
    return " · ".join(p for p in (cost, tokens, speed, ended) if p)


class _AnswerBody(VerticalScroll):
    # Not focusable: ←/→ choose a column instead of scrolling this one sideways.
    can_focus = False


class CompareColumn(Vertical):
    """One rung's answer: a header, the answer streaming in, its live cost and speed."""

    DEFAULT_CSS = """
    CompareColumn { width: 1fr; height: 1fr; border: round $panel; padding: 0 1; }
    CompareColumn.-selected { border: round $accent; }
    CompareColumn.-failed { border: round $error; }
    CompareColumn > .head { height: auto; color: $text; text-style: bold; }
    CompareColumn > .meter { height: auto; color: $text-muted; }
    CompareColumn > _AnswerBody { height: 1fr; }
    CompareColumn Markdown { margin: 0; padding: 0; }
    """

    def __init__(self, rung: str, tier: Tier | None, why_not: str | None) -> None:
        super().__init__()
        self.rung = rung
        self.tier = tier
        self.why_not = why_not  # not asked: no key, budget reached, unusable
        self.text = ""  # as received (kept and stored as is)
        self.status = "not asked" if why_not else "ready"
        self.answer: LiveAnswer | None = None
        self.answered: Answered | None = None
        self.worker: Worker[None] | None = None
        self._stream: MarkdownStream | None = None
        self._following = False

    def compose(self) -> ComposeResult:
        model = one_line(self.tier.model, 40) if self.tier and self.tier.model else ""
        yield Static(
            f"{self.rung}" + (f" · {model}" if model else ""), classes="head", markup=False
        )
        with _AnswerBody():
            yield Markdown("")
        meter = f"not asked: {self.why_not}" if self.why_not else "waiting for the question"
        yield Static(meter, classes="meter", markup=False)

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)

    @property
    def streaming(self) -> bool:
        return self.status in ("waiting", "streaming")

    def set_meter(self, text: str) -> None:
        self.query_one(".meter", Static).update(for_terminal(text))

    async def on_answer_event(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.status = "streaming"
            self.text += event.text
            if self._stream is None:
                self._stream = Markdown.get_stream(self.markdown)
            await self._stream.write(for_terminal(event.text))
            body = self.query_one(_AnswerBody)
            if not self._following and body.max_scroll_y > 0:
                # Follow the answer once it outgrows the column (anchoring earlier would
                # push a short answer to the bottom); scrolling up lets go, as in the chat.
                self._following = True
                body.anchor()

    def tick(self) -> None:
        """Re-price the answer in flight (on the screen's timer, not per token)."""
        if self.answer is None or not self.streaming:
            return
        live = self.answer.live_cost()
        cost = format_usd(live.cost.usd, estimated=True)
        speed = speed_text(self.answer.live_tokens_per_s, self.answer.ttft_s)
        self.set_meter(" · ".join(p for p in (cost, speed) if p) or cost)

    async def finish(self, answered: Answered) -> None:
        self.answered = answered
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        failed = answered.reply.failed
        self.status = "failed" if failed else answered.record.finish_reason
        if failed is not None:
            self.add_class("-failed")
            await self.markdown.append(f"\n\n*Failed: {for_terminal(failed.message)}*")
        self.set_meter(final_meter(answered))


PICK_HINT = (
    "←/→ pick an answer, Enter keeps it in the conversation, Esc stops the answers "
    "(and again closes)."
)
ASKING_HINT = "Asking every rung at once: " + PICK_HINT


class CompareScreen(ModalScreen["SideBySide | None"]):
    """Ask one question on several rungs; ←/→ pick a column, Enter keeps its answer."""

    DEFAULT_CSS = """
    CompareScreen { align: center middle; }
    CompareScreen > Vertical { width: 100%; height: 100%; background: $surface;
        border: round $accent; padding: 0 1; }
    CompareScreen #compare-question { margin: 0 0 1 0; }
    CompareScreen #compare-columns { height: 1fr; }
    CompareScreen #compare-hint { height: auto; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "close", "Stop / close", id="compare-close"),
        Binding("left", "select(-1)", "Previous", id="compare-previous", show=False),
        Binding("right", "select(1)", "Next", id="compare-next", show=False),
        Binding("enter,k", "keep", "Keep this answer", id="compare-keep"),
    ]

    def __init__(
        self, conversation: Conversation, rungs: list[str] | None = None, question: str = ""
    ) -> None:
        """``rungs``: the rungs to ask (default: every usable rung, or the cheapest and
        the two at the top); ``question``: asked at once when given."""
        super().__init__()
        self.conversation = conversation
        self.session = conversation.session
        self.ladder = conversation.ladder
        self.session.refresh_today()
        allows_paid = not self.session.budget_state().blocks_paid
        self.rungs = list(rungs) if rungs else default_rungs(self.ladder, allows_paid)
        self.initial = question
        self.question = ""
        self.selected = 0

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical():
            yield Input(
                self.initial, placeholder="Ask every rung below at once…", id="compare-question"
            )
            with Horizontal(id="compare-columns"):
                for name in self.rungs:
                    tier, why_not = self._rung(name)
                    yield CompareColumn(name, tier, why_not)
            # Asked at once when the prompt had a question: the hint says so, not "Enter".
            yield Static(
                ASKING_HINT if self.initial.strip() else "Enter asks every rung. Then " + PICK_HINT,
                id="compare-hint",
                markup=False,
            )

    def _rung(self, name: str) -> tuple[Tier | None, str | None]:
        """The tier for a column, or why it will not be asked (never raises)."""
        rung = self.ladder.rung(name)
        if not rung.usable:
            return None, rung.why_not
        try:
            tier = self.ladder.tier(name)
        except ValueError as exc:
            return None, str(exc)
        verdict = self.session.allows(tier)
        if verdict.blocks_paid:
            return tier, "budget reached"
        return tier, None

    @property
    def columns(self) -> list[CompareColumn]:
        return list(self.query(CompareColumn))

    def on_mount(self) -> None:
        self._select(0)
        if self.initial.strip():
            self.call_after_refresh(self.ask, self.initial)
        else:
            self.query_one(Input).focus()
        self.set_interval(LIVE_COST_INTERVAL_S, self._tick)

    # -- asking --------------------------------------------------------------------------
    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.ask(event.value)

    async def ask(self, question: str) -> None:
        question = question.strip()
        if not question or self.question:
            return
        if self.conversation.busy:
            self.notify(
                "Wait for the reply to finish, or cancel it, then compare.", severity="warning"
            )
            return
        asked = [c for c in self.columns if c.tier is not None and c.why_not is None]
        if not asked:
            self.notify("None of these rungs can be asked now.", severity="warning")
            return
        self.question = question
        field = self.query_one(Input)
        field.disabled = True
        self.set_focus(None)  # ←/→ and Enter now choose and keep an answer
        self.query_one("#compare-hint", Static).update(ASKING_HINT)
        # The conversation so far goes with the question, so the kept answer continues it.
        request = self.conversation.request([*self.conversation.history, Message("user", question)])
        for column in asked:
            assert column.tier is not None
            column.answer = LiveAnswer(column.tier, request, self.session, [column.on_answer_event])
            column.status = "waiting"
            column.set_meter("waiting for the first token")
            column.worker = self._run_column(column)

    @work(group="compare", exit_on_error=False)
    async def _run_column(self, column: CompareColumn) -> None:
        assert column.answer is not None
        try:
            answered = await column.answer.run()
            await column.finish(answered)
        except Exception as exc:  # a bug in one column must not take the app down
            column.status = "failed"
            column.add_class("-failed")
            column.set_meter(f"failed: {type(exc).__name__}: {exc}")
        if not any(c.streaming for c in self.columns):
            self.query_one("#compare-hint", Static).update(
                "←/→ pick an answer, Enter keeps it in the conversation, Esc closes "
                "(every answer is counted in the session's cost)."
            )

    def _tick(self) -> None:
        for column in self.columns:
            column.tick()

    # -- choosing ------------------------------------------------------------------------
    def _select(self, index: int) -> None:
        columns = self.columns
        if not columns:
            return
        self.selected = index % len(columns)
        for i, column in enumerate(columns):
            column.set_class(i == self.selected, "-selected")

    def action_select(self, step: int) -> None:
        self._select(self.selected + step)

    async def _stop_all(self) -> None:
        """Stop every answer still streaming (what arrived is kept and priced) and wait
        for them to end, so no reply is left running with no one to record it."""
        running = [c for c in self.columns if c.streaming and c.answer is not None]
        for column in running:
            assert column.answer is not None
            column.answer.cancel()
        for column in running:
            if column.worker is not None:
                await column.worker.wait()

    def result(self, kept: CompareColumn | None = None) -> SideBySide:
        """Every answer that was asked for (all paid for), and the one kept."""
        out = SideBySide(self.question)
        for column in self.columns:
            if column.answered is None or column.tier is None:
                continue
            if column is kept:
                out.kept = len(out.columns)
            out.columns.append(Column(column.tier, column.answered.reply, column.answered.record))
        return out

    async def action_keep(self) -> None:
        if not self.question:
            return
        column = self.columns[self.selected]
        if column.streaming:
            self.notify(f"{column.rung} is still answering: wait for it, or pick another.")
            return
        if column.answered is None or not column.answered.reply.text:
            self.notify(f"{column.rung} has no answer to keep.", severity="warning")
            return
        await self._stop_all()
        self.dismiss(self.result(kept=column))

    async def action_close(self) -> None:
        if any(c.streaming for c in self.columns):
            await self._stop_all()
            self.notify("Stopped. Enter keeps the selected answer; Esc closes.")
            return
        self.dismiss(self.result() if self.question else None)
