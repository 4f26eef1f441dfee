"""The chat screen: the conversation, the prompt, the status and cost lines, one reply at
a time."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from rung.engine import attachments
from rung.engine.session import tier_provider
from rung.engine.store import StoredMessage
from rung.tiers.base import ChatRequest, Event, Message, Notice, Reply, TextDelta, Tier, Usage
from rung.tiers.meter import MessageCost
from rung.tiers.pricing import format_usd
from rung.tiers.turn import Turn
from rung.tui.cost_screen import CostScreen
from rung.tui.help import HelpScreen, binding_rows
from rung.tui.widgets.messages import MessageItem, MessageList, last_code_block
from rung.tui.widgets.meter import CostBar
from rung.tui.widgets.prompt import PromptInput
from rung.tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from rung.tui.app import RungApp

# The running cost is re-priced at most this often while a reply streams.
LIVE_COST_INTERVAL_S = 0.15


def reply_meta(tier: Tier, reply: Reply, record: MessageCost) -> str:
    u = reply.usage
    meta = f"{tier.name} · {record.model} · {u.input_tokens:,} in / {u.output_tokens:,} out"
    if u.cached_input_tokens:
        meta += f" ({u.cached_input_tokens:,} cached)"
    meta += f" · {format_usd(record.cost.usd, not record.cost.exact)}"
    if u.estimated:
        meta += " (estimated)"
    return meta


class ChatScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "cancel_reply", "Cancel reply", id="cancel-reply"),
        Binding("f1", "help", "Keys", id="help"),
        Binding("f7", "cost_detail", "Costs", id="cost-detail", priority=True),
        Binding("ctrl+o", "copy_reply", "Copy reply", id="copy-reply"),
        Binding("ctrl+t", "copy_code", "Copy code", id="copy-code"),
        Binding("ctrl+n", "new_chat", "New chat", id="new-chat"),
        # Function keys reach the app in every common terminal and inside tmux, where
        # ctrl+digit and many alt chords do not.
        Binding("f2", "pin(0)", "Rung 1", id="pin-rung-1", priority=True),
        Binding("f3", "pin(1)", "Rung 2", id="pin-rung-2", priority=True),
        Binding("f4", "pin(2)", "Rung 3", id="pin-rung-3", priority=True),
        Binding("f5", "pin(3)", "Rung 4", id="pin-rung-4", priority=True),
        Binding("f8", "toggle_auto", "Auto", id="toggle-auto", priority=True),
        Binding("f9,ctrl+r", "escalate", "Escalate", id="escalate", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.history: list[Message] = []
        self.replies: list[Reply] = []  # every finished reply of this session, in order
        self.turn: Turn | None = None
        self.busy = False  # a reply (and any fallback after it) is under way
        self._budget_level = "ok"
        # The last question and the rung that answered it, for escalation.
        self.last_question: str | None = None
        self.last_tier: str | None = None

    @property
    def rung_app(self) -> RungApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield MessageList(id="messages")
        yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield CostBar(id="cost")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        self.refresh_status()
        self.refresh_cost()

    # -- status and cost lines ----------------------------------------------------
    def refresh_status(self, state: str | None = None) -> None:
        status = self.query_one(StatusBar)
        tier = self.rung_app.active_tier
        status.tier = tier.name
        status.model = tier.model or "(model from server)"
        status.mode = self.rung_app.mode_label
        if state is not None:
            status.state = state

    def refresh_cost(self, live: MessageCost | None = None) -> None:
        session = self.rung_app.session
        budget = session.budget_state()
        self.query_one(CostBar).show(
            session.meter.totals(live), session.meter.reference_model, live, budget
        )
        if budget.level != self._budget_level:
            self._budget_level = budget.level
            if budget.level in ("warn", "over"):
                self.notify(
                    budget.message,
                    title="Budget",
                    severity="warning" if budget.level == "warn" else "error",
                    timeout=10,
                )

    async def restore(self, stored: list[StoredMessage]) -> None:
        """Show an earlier session and continue it: the model sees it all again."""
        messages = self.query_one(MessageList)
        for m in stored:
            if m.role == "user":
                typed, files = attachments.split_attached(m.content)
                meta = "you" + (f" · attached {', '.join(files)}" if files else "")
                await messages.add(MessageItem("user", typed, meta=meta))
                self.history.append(Message("user", m.content))
                self.last_question = m.content
                continue
            cost = format_usd(m.cost_usd, m.estimated)
            item = MessageItem("assistant", m.content, meta=f"{m.tier} · {m.model} · {cost}")
            await messages.add(item)
            if m.error:
                await item.finish("failed", f"Failed: {m.error}")
            if m.content:
                self.history.append(Message("assistant", m.content))
            self.last_tier = m.tier
        messages.follow()

    # -- sending --------------------------------------------------------------------
    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        if self.busy:
            self.notify("A reply is still streaming: Esc cancels it.", severity="warning")
            return
        app = self.rung_app
        content, attached, problems = attachments.expand(message.text, Path.cwd())
        for problem in problems:
            self.notify(problem, title="Not attached", severity="warning")
        request = self._request([*self.history, Message("user", content)])
        decision = app.decide(request)
        verdict = app.session.allows(app.rungs[decision.tier])
        if verdict.blocks_paid:
            # Nothing is sent and the prompt keeps the text, ready for a free rung.
            self.notify(
                verdict.message + " F2 pins the first rung.",
                title="Budget reached",
                severity="error",
                timeout=15,
            )
            return
        self.query_one(PromptInput).clear()
        messages = self.query_one(MessageList)
        messages.follow()
        meta = f"you · attached {attachments.describe(attached)}" if attached else "you"
        await messages.add(MessageItem("user", message.text, meta=meta))
        self.history.append(Message("user", content))
        self.busy = True
        self.run_reply(request, content, decision.tier, decision.reason)

    def _request(self, messages: list[Message]) -> ChatRequest:
        config = self.rung_app.config
        return ChatRequest(
            messages=tuple(messages),
            system=config.get("ui", "system_prompt") or None,
            max_tokens=config.get("ui", "max_tokens"),
        )

    @work(exclusive=True, group="reply")
    async def run_reply(
        self, request: ChatRequest, question: str, tier_name: str, reason: str,
        escalation: bool = False,
    ) -> None:  # fmt: skip
        """Answer on ``tier_name``; if that rung fails, fall back up the ladder, out loud.
        Callers set ``busy`` before starting this worker, so a quick second Enter cannot
        slip in before it runs."""
        try:
            await self._answer_with_fallback(request, question, tier_name, reason, escalation)
        finally:
            self.busy = False

    async def _answer_with_fallback(
        self, request: ChatRequest, question: str, tier_name: str, reason: str,
        escalation: bool,
    ) -> None:  # fmt: skip
        app = self.rung_app
        while True:
            tier = app.rungs[tier_name]
            app.active_name = tier_name
            self.refresh_status()
            reply, failed_note = await self._answer_on(tier, request, question, reason)
            above = app.rung_above(tier_name) if reply.failed is not None else None
            if reply.failed is not None and above and app.config.get("ladder", "fallback"):
                self.notify(
                    f"{tier_name} failed ({reply.failed.kind}); falling back to {above}.",
                    title="Fallback",
                    severity="warning",
                )
                await failed_note(f"Failed: {reply.failed.message} — falling back to {above}.")
                reason = f"fallback from {tier_name} ({reply.failed.kind})"
                tier_name = above
                continue
            await failed_note(None)
            break
        # A partial reply stays in the conversation, so the next question sees it; an
        # escalated answer takes the place of the one it improves on.
        if reply.text:
            if escalation and self.history and self.history[-1].role == "assistant":
                self.history[-1] = Message("assistant", reply.text)
            else:
                self.history.append(Message("assistant", reply.text))
        self.last_question, self.last_tier = question, tier_name
        if app.mode != "auto":
            app.active_name = app.mode  # the status line shows the pin, not the detour
            self.refresh_status()

    async def _answer_on(
        self, tier: Tier, request: ChatRequest, question: str, reason: str
    ) -> tuple[Reply, Callable[[str | None], Awaitable[None]]]:
        """Stream one reply into a new message item; price and store it. Returns the
        reply and a coroutine function that writes the item's closing note."""
        app = self.rung_app
        messages = self.query_one(MessageList)
        item = await messages.add(
            MessageItem("assistant", meta=f"{tier.name} · {tier.model} — {reason}")
        )
        status = self.query_one(StatusBar)
        status.tokens_per_s = None
        status.ttft_s = None
        self.refresh_status("waiting for first token")
        started = time.monotonic()
        last_priced = 0.0
        reported: Usage | None = None
        deltas = 0

        def live_cost() -> MessageCost:
            return app.session.meter.estimate_live(
                tier=tier.name,
                kind=tier.kind,
                provider=tier_provider(tier),
                model=tier.model,
                request=request,
                text=item.text,
                deltas=deltas,
                busy_s=time.monotonic() - started,
                usage=reported,
            )

        async def on_event(event: Event) -> None:
            nonlocal last_priced, reported, deltas
            if isinstance(event, TextDelta):
                if not item.text:
                    self.refresh_status("streaming")
                deltas += 1
                await item.append(event.text)
                now = time.monotonic()
                if now - last_priced >= LIVE_COST_INTERVAL_S:
                    last_priced = now
                    self.refresh_cost(live_cost())
            elif isinstance(event, Usage):
                reported = event
                self.refresh_cost(live_cost())
            elif isinstance(event, Notice):
                self.notify(event.text, title=tier.name)

        self.turn = Turn(tier, request, [on_event])
        try:
            reply = await self.turn.run()
        finally:
            self.turn = None
        self.replies.append(reply)
        record = app.session.record(tier, question, reply)
        if app.session.store_error:
            self.notify(app.session.store_error, severity="warning")
            app.session.store_error = None
        if reply.finished is not None:
            status.tokens_per_s = reply.finished.output_tokens_per_s
            status.ttft_s = reply.finished.time_to_first_token_s
        item.set_meta(f"{reply_meta(tier, reply, record)} — {reason}")
        self.refresh_cost()

        async def close_item(fallback_note: str | None) -> None:
            if reply.failed is not None:
                status_word = "failed"
                note = fallback_note or f"Failed: {reply.failed.message}"
                if fallback_note is None:
                    self.notify(reply.failed.message, title=f"{tier.name} failed", severity="error")
            elif reply.finish_reason == "cancelled":
                status_word, note = "cancelled", "Cancelled — the text above is what arrived."
            else:
                status_word = "done"
                note = (
                    "Stopped at the output token limit." if reply.finish_reason == "length" else ""
                )
            await item.finish(status_word, note)
            self.refresh_status(status_word if status_word != "done" else "ready")

        return reply, close_item

    # -- actions ------------------------------------------------------------------------
    def action_cancel_reply(self) -> None:
        if self.turn is not None:
            self.turn.cancel()

    def action_pin(self, position: int) -> None:
        self.rung_app.pin(position)

    def action_toggle_auto(self) -> None:
        self.rung_app.toggle_auto()

    def action_escalate(self) -> None:
        """Ask the last question again one rung up; both answers stay visible."""
        app = self.rung_app
        if self.busy:
            self.notify("Wait for the reply to finish, or Esc to cancel it.", severity="warning")
            return
        if self.last_question is None or self.last_tier is None:
            self.notify("Nothing to escalate yet: ask something first.", severity="warning")
            return
        above = app.rung_above(self.last_tier)
        if above is None:
            self.notify(f"{self.last_tier} is the highest usable rung.", severity="warning")
            return
        # The question, with the conversation before it, but not the answer it replaces.
        cut = max(i for i, m in enumerate(self.history) if m.role == "user")
        request = self._request(self.history[: cut + 1])
        self.query_one(MessageList).follow()
        self.busy = True
        self.run_reply(
            request,
            self.last_question,
            above,
            f"escalated by you from {self.last_tier}",
            escalation=True,
        )

    def action_export(self) -> None:
        """Write this conversation as Markdown in the current directory."""
        from rung.engine.build_tiers import key_store
        from rung.engine.export import session_markdown

        session = self.rung_app.session
        if session.store is None or session._session_id is None:
            self.notify("Nothing to export yet.", severity="warning")
            return
        text = session_markdown(session.store, session._session_id, key_store(session.config))
        path = Path.cwd() / f"rung-conversation-{session._session_id}.md"
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not write {path}: {exc}", severity="error")
            return
        self.notify(f"Exported to {path} (API keys masked).")

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(binding_rows(self.app)))

    def action_cost_detail(self) -> None:
        self.app.push_screen(CostScreen(self.rung_app.session.meter))

    def _last_reply(self) -> str | None:
        items = self.query_one(MessageList).assistant_items()
        return items[-1].text if items and items[-1].text else None

    def action_copy_reply(self) -> None:
        text = self._last_reply()
        if text is None:
            self.notify("No reply to copy yet.", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied the last reply ({len(text):,} characters).")

    def action_copy_code(self) -> None:
        code = last_code_block(self._last_reply() or "")
        if code is None:
            self.notify("The last reply has no code block.", severity="warning")
            return
        self.app.copy_to_clipboard(code)
        self.notify(f"Copied the code block ({len(code.splitlines())} lines).")

    async def action_new_chat(self) -> None:
        if self.turn is not None:
            self.turn.cancel()
        self.history.clear()
        await self.query_one(MessageList).remove_children()
        self.refresh_status("ready")
