"""The chat screen: a view of the conversation engine and the agent. It shows what they
say (questions, replies streaming in, how each attempt ended, tool calls) and turns keys
and slash commands into calls on them; the ladder's state and the money live in the
app, which the status and cost lines watch.

Split by purpose: chat_keys (bindings), chat_prompt (completion, attachment preview),
chat_slash (slash commands), chat_agent (the agent loop's view), chat_replies (the
engine's replies, resuming), chat_actions (edits, copy, export, compare)."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import ActiveBinding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer

from rung.engine import attachments
from rung.engine.safe_text import for_terminal
from rung.tui import gc_pause, slash
from rung.tui.chat_actions import ReplyActions
from rung.tui.chat_agent import AgentGlue
from rung.tui.chat_keys import CHAT_BINDINGS, FOOTER_ORDER
from rung.tui.chat_prompt import PromptGlue
from rung.tui.chat_replies import ReplyView
from rung.tui.chat_slash import SlashCommands
from rung.tui.confirm import ConfirmScreen
from rung.tui.widgets.keybar import KeyBar
from rung.tui.widgets.messages import MessageItem, MessageList
from rung.tui.widgets.meter import CostBar
from rung.tui.widgets.prompt import PromptInput
from rung.tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from rung.engine.conversation import Conversation, Plan, Refusal
    from rung.tiers.base import Reply

PIN_ACTION = re.compile(r"pin\((\d+)\)")


class ChatScreen(PromptGlue, SlashCommands, AgentGlue, ReplyView, ReplyActions, Screen[None]):
    BINDINGS = CHAT_BINDINGS

    def __init__(
        self,
        conversation: Conversation | None = None,
        resume_id: int | None = None,
        *,
        config: Any = None,
    ) -> None:
        """``conversation`` None: the screen is drawn before the engine is built (the app
        builds it right after the first frame, app.py); it attaches on first use.
        ``config``: where ``[agent] in_chat`` is read until then."""
        super().__init__()
        self._conversation: Conversation | None = None
        self._engine_seen = False  # engine_ready() ran
        self.resume_id = resume_id
        self.replies: list[Reply] = []  # every finished attempt shown, in order
        self._item: MessageItem | None = None  # the reply streaming now
        self._preview_timer: Timer | None = None
        self._files: tuple[float, list[str]] | None = None  # (when listed, paths)
        self._failed_item: tuple[MessageItem, Reply] | None = None  # awaiting its fallback
        self.agent_mode: str | None = None  # /mode: this chat's; None: the config's
        config = conversation.session.config if conversation is not None else config
        self.init_agent(config.get("agent", "in_chat") if config is not None else "auto")
        if conversation is not None:
            self._listen_to(conversation)

    @property
    def conversation(self) -> Conversation:
        """The app's conversation engine (built on first use if it is not yet)."""
        if self._conversation is None:
            self._listen_to(self.app.conversation)  # type: ignore[attr-defined]
        return self._conversation  # type: ignore[return-value]

    def _listen_to(self, conversation: Conversation) -> None:
        if self._conversation is None:
            self._conversation = conversation
            conversation.add_listener(self._on_engine_event)

    def engine_ready(self) -> None:
        """The engine is built: say who answers (agent or chat), follow the rung, and
        name the pin keys after the ladder's rungs."""
        if self._engine_seen:
            return
        self._engine_seen = True
        self.conversation  # noqa: B018 (attaches)
        # Agent or chat only ([agent] in_chat, the rung): say so, and again when a pin
        # changes who answers.
        self.call_after_refresh(self.show_agent_status)
        self.watch(self.app, "status", self.follow_rung, init=False)
        self.refresh_bindings()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The bindings in effect, with each pin key named after its rung ("f3 deepseek"
        in the footer and F1, not "Rung 2")."""
        names = self.app.rung_names  # type: ignore[attr-defined]
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

    def detach(self) -> None:
        """This screen is being replaced (another session opened): stop listening."""
        if self._conversation is not None:
            self._conversation.remove_listener(self._on_engine_event)

    # -- state the tests and the palette read -----------------------------------------------
    @property
    def history(self):  # type: ignore[no-untyped-def]
        return self.conversation.history

    @property
    def busy(self) -> bool:
        # Nothing runs in an engine not built yet (and asking must not build it).
        conversation = self._conversation
        return (conversation is not None and conversation.busy) or self.agent_running

    DEFAULT_CSS = """
    ChatScreen #completions { height: auto; max-height: 8; display: none;
        border: round $accent; background: $surface; }
    ChatScreen #completions.shown { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield MessageList(id="messages")
        # The completion list (#completions) is mounted above the prompt when first
        # needed (chat_prompt.py): one widget kind fewer to style for the first frame.
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
            self.resume(self.resume_id)  # it waits for the engine: the messages are in it
        if self.app.engine_built:  # type: ignore[attr-defined]
            self.engine_ready()
        else:  # once this screen is drawn (the app's own refresh comes before it)
            self.call_after_refresh(self.app.start_engine_soon)  # type: ignore[attr-defined]

    @dataclass
    class Resumed(Message):
        """An earlier session is on screen (the app re-reads the costs it brought)."""

        session_id: int
        count: int

    # -- sending --------------------------------------------------------------------------
    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        # Sent before the engine is built (right after the first frame): it waits for it,
        # then goes as if sent a moment later.
        await self.app.wait_for_engine()  # type: ignore[attr-defined]
        parsed = slash.parse(message.text)
        if parsed.kind != "text":
            # A command (or a mistyped one) is never sent to a model.
            self.hide_completions()
            if parsed.kind == "command":
                prompt = self.query_one(PromptInput)
                prompt.remember(message.text)
                prompt.clear()
            await self.run_slash(parsed)
            return
        text = parsed.text  # "//…" arrives as a literal "/…"
        if self.busy:
            self.notify("A reply is still streaming: Esc cancels it.", severity="warning")
            return
        # Mentions that arrived in a paste are never expanded unless typed again.
        pasted = {name for name, n in message.pasted_mentions.items()
                  if Counter(attachments.mentions(text)).get(name, 0) <= n}  # fmt: skip
        expansion = attachments.expand(text, Path.cwd(), ignore=pasted)
        if expansion.needs_confirmation:
            names = ", ".join(f"@{n}" for n in expansion.needs_confirmation)
            self.app.push_screen(
                ConfirmScreen(
                    f"Attach {names}? It is outside {Path.cwd()}.",
                    yes="Attach", no="Send without it",
                ),
                lambda ok: self._send_expanded(
                    text,
                    attachments.expand(text, Path.cwd(), ignore=pasted,
                                       confirmed=expansion.needs_confirmation if ok else ()),
                    message.replace_last,
                ),
            )  # fmt: skip
            return
        await self._send_expanded(text, expansion, message.replace_last)

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
        if not replace_last and self.agent_answers(expansion.text):
            if self.agent_refuses():  # the budget: nothing sent, the prompt keeps the text
                return
            await self._show_question(typed, expansion)
            self.run_agent(expansion.text)
            return
        from rung.engine.conversation import Plan

        plan = self.conversation.prepare(expansion.text, replace_last=replace_last)
        if not isinstance(plan, Plan):
            # Nothing is sent and the prompt keeps the text, ready for another try.
            title = "Budget reached" if plan.kind == "budget" else "Not sent"
            extra = " F2 pins the first rung." if plan.kind == "budget" else ""
            self.notify(plan.message + extra, title=title, severity="error", timeout=15,
                        markup=False)  # fmt: skip
            return
        if replace_last:
            await self._mark_replaced(self.query_one(MessageList))
        await self._show_question(typed, expansion)
        self.run_plan(plan)

    async def _show_question(self, typed: str, expansion: attachments.Expansion) -> None:
        """The prompt empties (its text remembered for Up) and the question is shown."""
        prompt = self.query_one(PromptInput)
        prompt.remember(typed)
        prompt.clear()
        messages = self.query_one(MessageList)
        messages.follow()
        meta = (
            f"you · attached {attachments.describe(expansion.attached)}"
            if expansion.attached
            else "you"
        )
        await messages.add(MessageItem("user", typed, meta=meta))

    @work(exclusive=True, group="reply")
    async def run_plan(self, plan: Plan) -> None:
        gc_pause.sending()  # a due full collection runs while the request is on its way
        await self.conversation.run(plan)

    # -- actions ------------------------------------------------------------------------
    def action_cancel_reply(self) -> None:
        prompt = self.query_one(PromptInput)
        if prompt.editing_last and not self.busy:
            prompt.stop_editing()
            return
        if self.cancel_agent():
            return
        self.conversation.cancel()

    def action_regenerate(self) -> None:
        """The last reply again, on the same rung: the new answer replaces it."""
        if not self._agent_idle():
            return
        self._answer_again(self.conversation.prepare_regenerate())

    def _agent_idle(self) -> bool:
        """The agent is not working (a reply started now would stop its turn half way)."""
        if self.agent_running:
            self.notify("The agent is working: Esc stops it first.", severity="warning")
            return False
        return True

    def _answer_again(self, plan: Plan | Refusal) -> None:
        """Run an escalation or a regeneration, or say why there is none."""
        from rung.engine.conversation import Plan

        if not isinstance(plan, Plan):
            self.notify(plan.message, severity="warning", markup=False)
            return
        self.query_one(MessageList).follow()
        self.run_plan(plan)

    def action_edit_last(self) -> None:
        conversation = self.conversation
        if self.busy:
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
        if not self._agent_idle():
            return
        if self.escalate_agent():  # the last answer was the agent's: it goes one rung up
            return
        self._answer_again(self.conversation.prepare_escalation())

    async def action_new_chat(self) -> None:
        """A new conversation: the screen clears and the next message starts a new
        stored session (the old one stays in `rung sessions`); an agent at work stops."""
        self.cancel_agent()
        self.conversation.start_new()
        self.forget_agent()
        self._item = self._failed_item = None
        self.replies.clear()
        await self.query_one(MessageList).clear()
        self.app.post_message(self.NewChat())

    # -- what the slash commands call ------------------------------------------------------
    def mode_changed(self) -> None:
        """/mode changed this chat's permission mode."""
        self.agent_mode_changed()

    class NewChat(Message):
        """The conversation was started anew (the app resets its cost line)."""
