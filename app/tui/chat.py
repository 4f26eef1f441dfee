"""The chat screen: a view of the conversation engine. It shows what the engine says
(questions, replies streaming in, how each attempt ended) and turns keys into calls on
the engine; the ladder's state and the money live in the app, which the status and
cost lines watch."""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from rung.engine import attachments
from rung.engine.conversation import (
    Conversation,
    EditsProposed,
    EngineEvent,
    FallingBack,
    Plan,
    Recorded,
    Refusal,
    Routed,
)
from rung.engine.cost_label import header_money
from rung.engine.safe_text import for_terminal, one_line
from rung.engine.store import StoredMessage
from rung.tiers.base import Message as ChatMessage
from rung.tiers.base import Reply, TextDelta, Usage
from rung.tiers.meter import MessageCost
from rung.tiers.pricing import format_usd
from rung.tui import gc_pause
from rung.tui.confirm import AskScreen, ConfirmScreen
from rung.tui.widgets.keybar import KeyBar
from rung.tui.widgets.messages import MessageItem, MessageList, Shelved, last_code_block
from rung.tui.widgets.meter import CostBar
from rung.tui.widgets.prompt import PromptInput
from rung.tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from types import ModuleType

    from rung.engine.edits import Outcome as EditOutcome
    from rung.engine.side_by_side import SideBySide


def workspace() -> ModuleType:
    """The coding assistant's files and edits, loaded on first use: importing them at
    start cost ~35 ms before the first frame (bench/startup.py)."""
    from rung.engine import workspace as module

    return module


PIN_ACTION = re.compile(r"pin\((\d+)\)")
PREVIEW_DELAY_S = 0.3
FILE_LIST_TTL_S = 10.0
# The footer's order, most useful first: at 80 columns the tail is cut off.
FOOTER_ORDER = {
    ident: i
    for i, ident in enumerate(
        ["help", "pin-rung-1", "pin-rung-2", "pin-rung-3", "pin-rung-4", "toggle-auto",
         "escalate", "review-edits", "cancel-reply", "new-chat", "regenerate",
         "cost-detail", "settings", "quit"]
    )
}  # fmt: skip


def reply_meta(tier: str, reply: Reply, record: MessageCost) -> str:
    u = reply.usage
    meta = f"{tier} · {record.model} · {u.input_tokens:,} in / {u.output_tokens:,} out"
    if u.cached_input_tokens:
        meta += f" ({u.cached_input_tokens:,} cached)"
    cost = record.cost
    return meta + f" · {header_money(cost.usd, cost.exact and not u.estimated, cost.basis)}"


def stored_meta(m: StoredMessage) -> str:
    meta = f"{m.tier} · {m.model}"
    if m.input_tokens or m.output_tokens:
        meta += f" · {m.input_tokens:,} in / {m.output_tokens:,} out"
        if m.cached_input_tokens:
            meta += f" ({m.cached_input_tokens:,} cached)"
    meta += f" · {header_money(m.cost_usd, not m.estimated, m.price_basis)}"
    return meta + (f" — {m.reason}" if m.reason else "")


def closing_note(
    reply: Reply, fallback_to: str | None = None, limit: int | None = None, down: bool = False
) -> tuple[str, str]:
    """(status word, the note under the reply) for how an attempt ended; ``limit``: the
    output token limit the request carried; ``down``: the fallback is to a lower rung."""
    if reply.failed is not None:
        if fallback_to and down:
            return "failed", f"Failed: {reply.failed.message} — answering on {fallback_to} instead."
        if fallback_to:
            return "failed", f"Failed: {reply.failed.message} — falling back to {fallback_to}."
        return "failed", f"Failed: {reply.failed.message}"
    if reply.finish_reason == "cancelled":
        return "cancelled", "Cancelled — the text above is what arrived."
    if reply.finish_reason == "length":
        out = reply.usage.output_tokens
        # The rung may have a lower limit of its own (the local rung's, which says so).
        at = f"the {limit:,}-token limit" if limit and out >= limit else "the output token limit"
        return "done", f"Cut at {at}: Ctrl+B raises it for this chat ([ui] max_tokens for all)."
    return "done", ""


def path_choices(partial: str, files: list[str], limit: int = 8) -> list[str]:
    """What Tab can complete ``@partial`` to: the directories one level further down
    (ending in "/", so a Tab on one goes on into it, as in a shell), then the files."""
    needle = partial.casefold()
    directories: dict[str, None] = {}
    for path in files:
        if path.casefold().startswith(needle):
            slash = path.find("/", len(partial))
            if slash != -1:
                directories[path[: slash + 1]] = None
    found = workspace().complete_path(partial, files, limit)
    if len(found) + len(directories) <= 1:
        return found  # one file, or one directory's single file: straight to it
    return (sorted(directories)[: limit // 2] + found)[:limit]


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
            "f10,ctrl+f",
            "review_edits",
            "Review edits",
            id="review-edits",
            priority=True,
            tooltip="Review the last reply's edits, hunk by hunk",
        ),
        Binding(
            "ctrl+s",
            "sessions",
            "Sessions",
            id="sessions",
            show=False,
            tooltip="Every conversation: open, rename, delete, export",
        ),
        Binding(
            "f12",
            "compare",
            "Compare",
            id="compare",
            priority=True,
            show=False,
            tooltip="Ask one question on several rungs, side by side",
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
        self._preview_timer: Timer | None = None
        self._files: tuple[float, list[str]] | None = None  # (when listed, paths)
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

    # -- @path completion and what attachments will cost --------------------------------------
    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        prompt = self.query_one(PromptInput)
        if event.text_area is not prompt:
            return
        gc_pause.activity()  # a due full collection waits for a pause in typing
        if self._item is not None:
            self._item.user_typed()  # the streaming reply gives way to typing
        self._suggest(prompt)
        if self._preview_timer is not None:
            self._preview_timer.stop()
        # Reading the files and routing waits until typing pauses.
        self._preview_timer = self.set_timer(PREVIEW_DELAY_S, self._preview_attachments)

    def _suggest(self, prompt: PromptInput) -> None:
        partial = prompt.mention_at_cursor()
        choices = self.query_one("#completions", OptionList)
        found = []
        if partial is not None:
            found = path_choices(partial, self._project_files())
        if not found or (len(found) == 1 and found[0] == partial):
            choices.remove_class("shown")
            prompt.completing = False
            return
        choices.clear_options()
        choices.add_options([Option(for_terminal(path), id=path) for path in found])
        choices.highlighted = 0
        choices.add_class("shown")
        prompt.completing = True

    def _project_files(self) -> list[str]:
        now = time.monotonic()
        if self._files is None or now - self._files[0] > FILE_LIST_TTL_S:
            self._files = (now, workspace().project_files(Path.cwd()))
        return self._files[1]

    def on_prompt_input_completion_key(self, message: PromptInput.CompletionKey) -> None:
        prompt = self.query_one(PromptInput)
        choices = self.query_one("#completions", OptionList)
        if message.key == "escape":
            choices.remove_class("shown")
            prompt.completing = False
        elif message.key in ("up", "down"):
            step = -1 if message.key == "up" else 1
            count = choices.option_count
            choices.highlighted = ((choices.highlighted or 0) + step) % max(1, count)
        elif message.key == "tab" and choices.highlighted is not None:
            path = choices.get_option_at_index(choices.highlighted).id or ""
            choices.remove_class("shown")
            prompt.completing = False
            prompt.complete_mention(path)

    def on_prompt_input_page_key(self, message: PromptInput.PageKey) -> None:
        """PageUp/PageDown while typing turn the messages' pages; the prompt keeps focus."""
        messages = self.query_one(MessageList)
        if message.key == "pageup":
            messages.scroll_page_up(animate=False)
        else:
            messages.scroll_page_down(animate=False)

    def _preview_attachments(self) -> None:
        """Under the prompt: what the attached files add, in tokens and money, on the
        rung that would answer this message now."""
        prompt = self.query_one(PromptInput)
        text = prompt.text.strip()
        if not attachments.mentions(text):
            prompt.border_subtitle = None
            return
        expansion = attachments.expand(text, Path.cwd())
        if not expansion.attached:
            problem = expansion.problems[0] if expansion.problems else ""
            prompt.border_subtitle = one_line(problem, 70) or None
            return
        added = (len(expansion.text) - len(text) + 3) // 4
        conversation = self.conversation
        asked = ChatMessage("user", expansion.text)
        request = conversation.request([*conversation.history, asked])
        try:
            decision = conversation.ladder.decide(request)
            tier = conversation.ladder.tier(decision.tier)
        except ValueError:
            prompt.border_subtitle = f"+~{added:,} tokens attached"
            return
        cost = conversation.session.meter.book.cost(
            kind=tier.kind, provider=tier.provider or tier.name, model=tier.model,
            usage=Usage(input_tokens=added, estimated=True), when=datetime.now(UTC),
        )  # fmt: skip
        money = format_usd(cost.usd, estimated=True) if cost.usd is not None else "price unknown"
        prompt.border_subtitle = f"+~{added:,} tokens attached · {money} on {tier.name}"

    def detach(self) -> None:
        """This screen is being replaced (another session opened): stop listening."""
        self.conversation.remove_listener(self._on_engine_event)

    # -- state the tests and the palette read -----------------------------------------------
    @property
    def history(self):  # type: ignore[no-untyped-def]
        return self.conversation.history

    @property
    def busy(self) -> bool:
        return self.conversation.busy

    DEFAULT_CSS = """
    ChatScreen #completions { height: auto; max-height: 8; display: none;
        border: round $accent; background: $surface; }
    ChatScreen #completions.shown { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield MessageList(id="messages")
        yield OptionList(id="completions")
        yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield CostBar(id="cost")
        yield KeyBar(id="keys")

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
        items: list[Shelved] = []
        for m in stored:
            if m.role == "user":
                typed, files = attachments.split_attached(m.content)
                meta = "you" + (f" · attached {', '.join(files)}" if files else "")
                items.append(Shelved("user", typed, meta=meta))
                continue
            status, note = "done", ""
            if m.error and m.finish_reason != "interrupted":
                status, note = "failed", f"Failed: {m.error}"
            elif m.finish_reason in ("cancelled", "interrupted"):
                status = "cancelled"
                note = f"{m.finish_reason.capitalize()} — the text above is what arrived."
            elif m.finish_reason == "length":
                note = "Cut at the output token limit: Ctrl+B raises it for this chat."
            items.append(Shelved("assistant", m.content, stored_meta(m), status=status, note=note))
        await messages.show_history(items)
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
        gc_pause.sending()  # a due full collection runs while the request is on its way
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
                    status, note = closing_note(reply, limit=self.conversation.options.max_tokens)
                    await item.finish(status, note)
                else:
                    self._failed_item = (item, reply)
            case EditsProposed(result=result):
                items = self.query_one(MessageList).assistant_items()
                if items and result.edits:
                    last = items[-1]
                    last.set_meta(f"{last.meta_text} · {result.summary()} — F10 to review")
                self.notify(
                    f"The reply proposes {result.summary()}"
                    + (f" ({len(result.problems)} block(s) unusable)" if result.problems else "")
                    + ". F10 reviews them hunk by hunk; nothing is written until you apply.",
                    title="Edits",
                    markup=False,
                )
            case FallingBack(to_tier=target, down=down):
                if self._failed_item is not None:
                    item, reply = self._failed_item
                    self._failed_item = None
                    status, note = closing_note(reply, target, down=down)
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
        self._answer_again(self.conversation.prepare_regenerate())

    def _answer_again(self, plan: Plan | Refusal) -> None:
        """Run an escalation or a regeneration, or say why there is none."""
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

    def action_review_edits(self) -> None:
        result = self.conversation.last_edits
        if result is None or not (result.edits or result.problems):
            self.notify("The last reply proposes no edits. Attach files with @path and "
                        "ask for a change.", severity="warning")  # fmt: skip
            return
        from rung.tui.review_screen import ReviewScreen

        root, files = Path.cwd(), workspace()
        self.app.push_screen(
            ReviewScreen(files.proposal_for(result, root), files.edits_journal(root)), self._applied
        )

    def _applied(self, outcome: EditOutcome | None) -> None:
        if outcome is not None:
            self.notify(for_terminal(outcome.message) + " Undo from the palette or with "
                        "`rung undo`.", title="Applied", markup=False)  # fmt: skip

    def action_save_code(self) -> None:
        """Save the last reply's last code block as a file in the project (undoable)."""
        reply = self._last_reply() or ""
        code = last_code_block(reply)
        if code is None:
            self.notify("The last reply has no code block.", severity="warning")
            return
        self.app.push_screen(
            AskScreen("Save the code block as (a path inside the project):",
                      workspace().suggested_name(reply)),
            lambda name: self._save_code(name, code),
        )  # fmt: skip

    def _save_code(self, name: str | None, code: str) -> None:
        if not name:
            return
        files, root = workspace(), Path.cwd()
        outcome = files.save_file(root, name, code + "\n", files.edits_journal(root))
        self.notify(for_terminal(outcome.message), markup=False,
                    severity="information" if outcome.ok else "error")  # fmt: skip

    def action_undo_edit(self) -> None:
        # The project's journal as `rung undo` finds it from here (also from a subfolder).
        outcome = workspace().project_journal(Path.cwd()).undo()
        self.notify(for_terminal(outcome.message), markup=False,
                    severity="information" if outcome.ok else "warning")  # fmt: skip

    def action_redo_edit(self) -> None:
        outcome = workspace().project_journal(Path.cwd()).redo()
        self.notify(for_terminal(outcome.message), markup=False,
                    severity="information" if outcome.ok else "warning")  # fmt: skip

    def action_compare(self) -> None:
        """One question on several rungs at once; keep one answer in the conversation."""
        if self.busy:
            self.notify("Wait for the reply to finish, or Esc to cancel it.", severity="warning")
            return
        prompt = self.query_one(PromptInput)
        question, prompt_text = prompt.text.strip(), prompt.text
        if question:
            prompt.clear()
        from rung.tui.compare_screen import CompareScreen

        self.app.push_screen(
            CompareScreen(self.conversation, rungs=None, question=question),
            lambda result: self._compared(result, prompt_text),
        )

    async def _compared(self, result: SideBySide | None, typed: str) -> None:
        if result is None or not result.columns:
            if typed:
                self.query_one(PromptInput).load_text(typed)  # nothing asked: nothing lost
            return
        from rung.engine.side_by_side import adopt

        question_row = adopt(self.conversation, result)
        if question_row is not None:
            self.conversation.note_question(question_row)
        messages = self.query_one(MessageList)
        messages.follow()
        await messages.add(MessageItem("user", result.question, meta="you · compared"))
        order = [i for i in range(len(result.columns)) if i != result.kept]
        order += [result.kept] if result.kept is not None else []
        for index in order:
            column = result.columns[index]
            kept = " · kept" if index == result.kept else ""
            item = await messages.add(MessageItem(
                "assistant", column.reply.text,
                meta=f"{reply_meta(column.rung, column.reply, column.record)} — compared{kept}",
            ))  # fmt: skip
            if index != result.kept:
                item.add_class("replaced")
            self.replies.append(column.reply)
        self.app.post_message(self.Compared())

    class Compared(Message):
        """A side-by-side question was recorded (the app refreshes the cost line)."""

    def action_sessions(self) -> None:
        self.app.post_message(self.SessionsWanted())

    class SessionsWanted(Message):
        """Open the sessions screen (the app owns the conversation to switch)."""

    def action_chat_options(self) -> None:
        self.app.post_message(self.OptionsWanted())

    class OptionsWanted(Message):
        """Open this conversation's options (the app owns which rung is active)."""

    def action_escalate(self) -> None:
        """Ask again one rung up; both answers stay visible."""
        self._answer_again(self.conversation.prepare_escalation())

    def action_export(self) -> None:
        """Write this conversation as Markdown in the current directory."""
        session = self.conversation.session
        session_id = session.session_id
        if session.store is None or session_id is None:
            self.notify("Nothing to export yet.", severity="warning")
            return
        try:
            from rung.engine.export import export_session

            path = export_session(session.store, session_id, session.config, Path.cwd())
        except (OSError, LookupError) as exc:
            self.notify(f"Could not export: {for_terminal(str(exc))}", severity="error",
                        markup=False)  # fmt: skip
            return
        self.notify(f"Exported to {path} (API keys masked).", markup=False)

    def action_cost_detail(self) -> None:
        from rung.tui.cost_screen import CostScreen

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
        await self.query_one(MessageList).clear()
        self.app.post_message(self.NewChat())

    class NewChat(Message):
        """The conversation was started anew (the app resets its cost line)."""
