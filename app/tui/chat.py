"""The chat screen: a view of the conversation engine. It shows what the engine says
(questions, replies streaming in, how each attempt ended) and turns keys into calls on
the engine; the ladder's state and the money live in the app, which the status and
cost lines watch."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer

from rung.engine import attachments
from rung.engine.conversation import (
    Conversation,
    EngineEvent,
    FallingBack,
    Plan,
    Recorded,
    Routed,
)
from rung.engine.export import export_session
from rung.engine.safe_text import for_terminal
from rung.engine.store import StoredMessage
from rung.tiers.base import Reply, TextDelta
from rung.tiers.meter import MessageCost
from rung.tiers.pricing import format_usd
from rung.tui.confirm import ConfirmScreen
from rung.tui.cost_screen import CostScreen
from rung.tui.widgets.messages import MessageItem, MessageList, last_code_block
from rung.tui.widgets.meter import CostBar
from rung.tui.widgets.prompt import PromptInput
from rung.tui.widgets.status import StatusBar

PIN_ACTION = re.compile(r"pin\((\d+)\)")
# The footer's order, most useful first: at 80 columns the tail is cut off.
FOOTER_ORDER = {
    ident: i
    for i, ident in enumerate(
        ["help", "pin-rung-1", "pin-rung-2", "pin-rung-3", "pin-rung-4", "toggle-auto",
         "escalate", "cancel-reply", "new-chat", "regenerate", "cost-detail", "settings",
         "quit"]
    )
}  # fmt: skip


def reply_meta(tier: str, reply: Reply, record: MessageCost) -> str:
    u = reply.usage
    meta = f"{tier} · {record.model} · {u.input_tokens:,} in / {u.output_tokens:,} out"
    if u.cached_input_tokens:
        meta += f" ({u.cached_input_tokens:,} cached)"
    meta += f" · {format_usd(record.cost.usd, not record.cost.exact)}"
    if u.estimated:
        meta += " (estimated)"
    return meta


def stored_meta(m: StoredMessage) -> str:
    meta = f"{m.tier} · {m.model}"
    if m.input_tokens or m.output_tokens:
        meta += f" · {m.input_tokens:,} in / {m.output_tokens:,} out"
        if m.cached_input_tokens:
            meta += f" ({m.cached_input_tokens:,} cached)"
    meta += f" · {format_usd(m.cost_usd, m.estimated)}"
    if m.estimated:
        meta += " (estimated)"
    return meta + (f" — {m.reason}" if m.reason else "")


def closing_note(reply: Reply, fallback_to: str | None = None) -> tuple[str, str]:
    """(status word, the note under the reply) for how an attempt ended."""
    if reply.failed is not None:
        if fallback_to:
            return "failed", f"Failed: {reply.failed.message} — falling back to {fallback_to}."
        return "failed", f"Failed: {reply.failed.message}"
    if reply.finish_reason == "cancelled":
        return "cancelled", "Cancelled — the text above is what arrived."
    if reply.finish_reason == "length":
        return "done", "Stopped at the output token limit."
    return "done", ""


class ChatScreen(Screen[None]):
    BINDINGS = [
        Binding(
            "escape",
            "cancel_reply",
            "Cancel",
            id="cancel-reply",
            tooltip="Cancel the reply (text stays)",
        ),
        Binding(
            "f7",
            "cost_detail",
            "Costs",
            id="cost-detail",
            priority=True,
            tooltip="Every reply's tokens and cost",
        ),
        # In F1 and the palette; the footer keeps its room for the ladder's keys.
        Binding(
            "ctrl+o",
            "copy_reply",
            "Copy reply",
            id="copy-reply",
            show=False,
            tooltip="Copy the last reply",
        ),
        Binding(
            "ctrl+t",
            "copy_code",
            "Copy code",
            id="copy-code",
            show=False,
            tooltip="Copy the last code block",
        ),
        Binding(
            "ctrl+n",
            "new_chat",
            "New chat",
            id="new-chat",
            tooltip="New conversation (old one kept)",
        ),
        Binding(
            "ctrl+g",
            "regenerate",
            "Again",
            id="regenerate",
            tooltip="The last reply again, same rung",
        ),
        Binding(
            "ctrl+l",
            "edit_last",
            "Edit",
            id="edit-last",
            show=False,
            tooltip="Edit the last question, send again",
        ),
        Binding(
            "ctrl+b",
            "chat_options",
            "Options",
            id="chat-options",
            show=False,
            tooltip="This chat's prompt, limits, model",
        ),
        Binding(
            "f9,ctrl+r",
            "escalate",
            "Escalate",
            id="escalate",
            priority=True,
            tooltip="Ask again one rung up",
        ),
    ]

    def __init__(self, conversation: Conversation, resume_id: int | None = None) -> None:
        super().__init__()
        self.conversation = conversation
        self.resume_id = resume_id
        self.replies: list[Reply] = []  # every finished attempt shown, in order
        self._item: MessageItem | None = None  # the reply streaming now
        self._failed_item: tuple[MessageItem, Reply] | None = None  # awaiting its fallback
        conversation.add_listener(self._on_engine_event)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The bindings in effect, with each pin key named after its rung ("f3 deepseek"
        in the footer and F1, not "Rung 2")."""
        names = self.conversation.ladder.names
        named: dict[str, ActiveBinding] = {}
        ordered = sorted(
            super().active_bindings.items(),
            key=lambda item: FOOTER_ORDER.get(item[1].binding.id or "", len(FOOTER_ORDER)),
        )
        for key, active in ordered:
            pin = PIN_ACTION.fullmatch(active.binding.action)
            if pin is not None:
                position = int(pin.group(1))
                if position >= len(names):
                    continue
                binding = dataclasses.replace(active.binding, description=names[position])
                active = active._replace(binding=binding)
            named[key] = active
        return named

    # -- state the tests and the palette read -----------------------------------------------
    @property
    def history(self):  # type: ignore[no-untyped-def]
        return self.conversation.history

    @property
    def busy(self) -> bool:
        return self.conversation.busy

    def compose(self) -> ComposeResult:
        yield MessageList(id="messages")
        yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield CostBar(id="cost")
        yield Footer()

    def on_mount(self) -> None:
        # The status and cost lines draw the app's state; the app decides it.
        self.watch(self.app, "status", self.query_one(StatusBar).show, init=True)
        self.watch(self.app, "cost_view", self.query_one(CostBar).show_view, init=True)
        self.query_one(PromptInput).focus()
        if self.resume_id is not None:
            self.resume(self.resume_id)

    # -- resuming --------------------------------------------------------------------------
    @work(group="resume")
    async def resume(self, session_id: int) -> None:
        """Show an earlier session and continue it: the model sees it all again."""
        try:
            stored = self.conversation.resume(session_id)
        except LookupError as exc:
            self.notify(for_terminal(str(exc)), title="Resume", severity="error", markup=False)
            return
        messages = self.query_one(MessageList)
        for m in stored:
            if m.role == "user":
                typed, files = attachments.split_attached(m.content)
                meta = "you" + (f" · attached {', '.join(files)}" if files else "")
                await messages.add(MessageItem("user", typed, meta=meta))
                continue
            item = await messages.add(MessageItem("assistant", m.content, meta=stored_meta(m)))
            if m.error and m.finish_reason != "interrupted":
                await item.finish("failed", f"Failed: {m.error}")
            elif m.finish_reason in ("cancelled", "interrupted"):
                await item.finish("cancelled", f"{m.finish_reason.capitalize()} — the text above "
                                  "is what arrived.")  # fmt: skip
        messages.follow()
        self.app.post_message(self.Resumed(session_id, len(stored)))

    @dataclass
    class Resumed(Message):
        """An earlier session is on screen (the app re-reads the costs it brought)."""

        session_id: int
        count: int

    # -- sending --------------------------------------------------------------------------
    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        if self.busy:
            self.notify("A reply is still streaming: Esc cancels it.", severity="warning")
            return
        # Mentions that arrived in a paste are never expanded unless typed again.
        pasted = {name for name, n in message.pasted_mentions.items()
                  if Counter(attachments.mentions(message.text)).get(name, 0) <= n}  # fmt: skip
        expansion = attachments.expand(message.text, Path.cwd(), ignore=pasted)
        if expansion.needs_confirmation:
            names = ", ".join(f"@{n}" for n in expansion.needs_confirmation)
            self.app.push_screen(
                ConfirmScreen(
                    f"Attach {names}? It is outside {Path.cwd()}.",
                    yes="Attach", no="Send without it",
                ),
                lambda ok: self._send_expanded(
                    message.text,
                    attachments.expand(message.text, Path.cwd(), ignore=pasted,
                                       confirmed=expansion.needs_confirmation if ok else ()),
                    message.replace_last,
                ),
            )  # fmt: skip
            return
        await self._send_expanded(message.text, expansion, message.replace_last)

    async def _send_expanded(
        self, typed: str, expansion: attachments.Expansion, replace_last: bool = False
    ) -> None:
        for problem in expansion.problems + [
            f"@{n}: outside the working directory; not attached"
            for n in expansion.needs_confirmation
        ]:
            self.notify(
                for_terminal(problem), title="Not attached", severity="warning", markup=False
            )
        plan = self.conversation.prepare(expansion.text, replace_last=replace_last)
        if not isinstance(plan, Plan):
            # Nothing is sent and the prompt keeps the text, ready for another try.
            title = "Budget reached" if plan.kind == "budget" else "Not sent"
            extra = " F2 pins the first rung." if plan.kind == "budget" else ""
            self.notify(plan.message + extra, title=title, severity="error", timeout=15,
                        markup=False)  # fmt: skip
            return
        prompt = self.query_one(PromptInput)
        prompt.remember(typed)
        prompt.clear()
        messages = self.query_one(MessageList)
        messages.follow()
        if replace_last:
            await self._mark_replaced(messages)
        meta = (
            f"you · attached {attachments.describe(expansion.attached)}"
            if expansion.attached
            else "you"
        )
        await messages.add(MessageItem("user", typed, meta=meta))
        self.run_plan(plan)

    @work(exclusive=True, group="reply")
    async def run_plan(self, plan: Plan) -> None:
        await self.conversation.run(plan)

    # -- what the engine says -----------------------------------------------------------------
    async def _on_engine_event(self, event: EngineEvent) -> None:
        if isinstance(event, TextDelta):
            if self._item is not None:
                await self._item.append(event.text)
            return
        match event:
            case Routed(tier=tier, model=model, reason=reason):
                messages = self.query_one(MessageList)
                self._item = await messages.add(
                    MessageItem(
                        "assistant", meta=f"{tier} · {model or '(model from server)'} — {reason}"
                    )
                )
            case Recorded(tier=tier, reply=reply, record=record, reason=reason, last=last):
                item, self._item = self._item, None
                if item is None:
                    return
                self.replies.append(reply)
                item.set_meta(f"{reply_meta(tier, reply, record)} — {reason}")
                if last:
                    status, note = closing_note(reply)
                    await item.finish(status, note)
                else:
                    self._failed_item = (item, reply)
            case FallingBack(to_tier=target):
                if self._failed_item is not None:
                    item, reply = self._failed_item
                    self._failed_item = None
                    status, note = closing_note(reply, target)
                    await item.finish(status, note)

    async def _mark_replaced(self, messages: MessageList) -> None:
        """The last exchange on screen was edited and sent again: it stays, dimmed."""
        items = list(messages.query(MessageItem))
        users = [i for i, item in enumerate(items) if item.role == "user"]
        for item in items[users[-1] :] if users else []:
            item.add_class("replaced")
            item.set_meta(f"{item.meta_text} (replaced by the edit below)")

    # -- actions ------------------------------------------------------------------------
    def action_cancel_reply(self) -> None:
        prompt = self.query_one(PromptInput)
        if prompt.editing_last and not self.busy:
            prompt.stop_editing()
            return
        self.conversation.cancel()

    def action_regenerate(self) -> None:
        """The last reply again, on the same rung: the new answer replaces it."""
        plan = self.conversation.prepare_regenerate()
        if not isinstance(plan, Plan):
            self.notify(plan.message, severity="warning", markup=False)
            return
        self.query_one(MessageList).follow()
        self.run_plan(plan)

    def action_edit_last(self) -> None:
        conversation = self.conversation
        if conversation.busy:
            self.notify("Wait for the reply to finish, or Esc to cancel it.", severity="warning")
            return
        if conversation.last_question is None:
            self.notify("There is no question to edit yet.", severity="warning")
            return
        prompt = self.query_one(PromptInput)
        if prompt.text.strip() and not prompt.editing_last:
            self.notify("The prompt has text in it: send or clear it first.", severity="warning")
            return
        typed, _ = attachments.split_attached(conversation.last_question)
        prompt.edit_last(typed)
        prompt.focus()

    def action_chat_options(self) -> None:
        self.app.post_message(self.OptionsWanted())

    class OptionsWanted(Message):
        """Open this conversation's options (the app owns which rung is active)."""

    def action_escalate(self) -> None:
        """Ask again one rung up; both answers stay visible."""
        plan = self.conversation.prepare_escalation()
        if not isinstance(plan, Plan):
            self.notify(plan.message, severity="warning", markup=False)
            return
        self.query_one(MessageList).follow()
        self.run_plan(plan)

    def action_export(self) -> None:
        """Write this conversation as Markdown in the current directory."""
        session = self.conversation.session
        session_id = session.session_id
        if session.store is None or session_id is None:
            self.notify("Nothing to export yet.", severity="warning")
            return
        try:
            path = export_session(session.store, session_id, session.config, Path.cwd())
        except (OSError, LookupError) as exc:
            self.notify(f"Could not export: {for_terminal(str(exc))}", severity="error",
                        markup=False)  # fmt: skip
            return
        self.notify(f"Exported to {path} (API keys masked).", markup=False)

    def action_cost_detail(self) -> None:
        self.app.push_screen(CostScreen(self.conversation.session.meter))

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
        """A new conversation: the screen clears and the next message starts a new
        stored session (the old one stays in `rung sessions`)."""
        self.conversation.start_new()
        self._item = self._failed_item = None
        self.replies.clear()
        await self.query_one(MessageList).remove_children()
        self.app.post_message(self.NewChat())

    class NewChat(Message):
        """The conversation was started anew (the app resets its cost line)."""
