"""The chat screen's slash commands: each one a call on the screen, the app or the
engine; nothing typed as a command reaches a model. A mixin of ChatScreen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work

from rung.tui.chat_agent_switch import tool_rung
from rung.tui.chat_summary import (
    AGENTS_FILE,
    agents_proposal,
    compact_plan,
    init_question,
    with_summary,
)
from rung.tui.slash import MODES, Parsed, unknown_message
from rung.tui.widgets.messages import MessageItem, MessageList

if TYPE_CHECKING:
    from rung.engine.conversation import Conversation, Plan


class SlashCommands:
    """Mixed into ChatScreen, which provides the actions called here."""

    conversation: Conversation
    agent_mode: str | None

    async def run_slash(self, parsed: Parsed) -> None:
        """Run a command (``parsed.kind`` "command" or "unknown")."""
        screen: Any = self
        if parsed.kind == "unknown":
            screen.notify(unknown_message(parsed.name), severity="warning", markup=False)
            return
        name, argument = parsed.name, parsed.argument
        if name == "help":
            screen.app.action_help()
        elif name == "cost":
            screen.action_cost_detail()
        elif name == "undo":
            screen.action_undo_edit()
        elif name in ("clear", "compact", "init") and self._idle():
            if name == "clear":
                await screen.action_new_chat()
            elif name == "compact":
                screen.compact()
            else:
                screen.propose_agents_md()
        elif name == "model":
            self._pin_by_name(argument)
        elif name == "mode":
            self._set_mode(argument)

    def _idle(self) -> bool:
        screen: Any = self
        if screen.busy:
            screen.notify("Wait for the reply to finish, or Esc to cancel it.",
                          severity="warning")  # fmt: skip
            return False
        return True

    def _pin_by_name(self, name: str) -> None:
        screen: Any = self
        app = screen.app
        names: list[str] = app.names
        if not name:
            app.notify(f"Rungs: {', '.join(names)}, or auto. Now: {app.mode_label} on "
                       f"{app.active_name}. /model <rung> pins one.", markup=False)  # fmt: skip
            return
        if name.casefold() == "auto":
            if app.mode_label != "Auto":
                app.action_toggle_auto()
            else:
                app.notify("Auto is already on.", markup=False)
            return
        folded = [n.casefold() for n in names]
        if name.casefold() not in folded:
            app.notify(f"No rung named {name!r}; the rungs: {', '.join(names)}.",
                       severity="warning", markup=False)  # fmt: skip
            return
        app.action_pin(folded.index(name.casefold()))

    def _set_mode(self, mode: str) -> None:
        screen: Any = self
        if not mode:
            now = self.agent_mode or "from the config"
            screen.notify(f"Agent mode: {now}. /mode {'|'.join(MODES)} changes it for this "
                          "chat.", markup=False)  # fmt: skip
            return
        if mode not in MODES:
            screen.notify(f"No mode {mode!r}: one of {', '.join(MODES)}.", severity="warning",
                          markup=False)  # fmt: skip
            return
        self.agent_mode = mode
        screen.mode_changed()
        screen.notify(f"Agent mode for this chat: {mode}.", markup=False)

    # -- /compact -------------------------------------------------------------------------
    def compact(self) -> None:
        screen: Any = self
        if screen.compact_agent():  # an agent chat: its older steps condensed in place
            return
        from rung.tiers.base import Message

        agent = screen.agent
        extra = []
        if agent is not None:  # what the agent said in this chat, without the tool traffic
            extra = [Message(m.role, m.content) for m in agent.transcript
                     if m.role in ("user", "assistant") and m.content]  # fmt: skip
        plan = compact_plan(self.conversation, extra)
        if self._sendable(plan, "Not compacted"):
            self.run_compact(plan)  # type: ignore[arg-type]

    def _sendable(self, plan: object, title: str) -> bool:
        """A Plan can run; a Refusal is said (one warning) and nothing is sent."""
        from rung.engine.conversation import Plan  # the engine: after the first frame

        if isinstance(plan, Plan):
            return True
        screen: Any = self
        screen.notify(plan.message, title=title, severity="warning", markup=False)  # type: ignore[attr-defined]
        return False

    @work(exclusive=True, group="reply")
    async def run_compact(self, plan: Plan) -> None:
        screen: Any = self
        messages = screen.query_one(MessageList)
        messages.follow()
        await messages.add(MessageItem("user", "/compact", meta="you · summarise so far"))
        reply = (await self.conversation.run(plan)).final.reply
        if reply.failed is not None or reply.finish_reason == "cancelled" or not reply.text:
            screen.notify("Not compacted: the summary did not arrive whole (see above); the "
                          "conversation goes on as it was.", severity="warning")  # fmt: skip
            return
        conversation = self.conversation
        conversation.start_new()
        screen.forget_agent()
        conversation.options = with_summary(conversation.options, reply.text)
        screen.post_message(screen.NewChat())
        screen.notify("Compacted: a new conversation goes on from the summary above (it is "
                      "in this chat's system prompt, Ctrl+B).", markup=False)  # fmt: skip

    # -- /init ----------------------------------------------------------------------------
    def propose_agents_md(self) -> None:
        screen: Any = self
        root = Path.cwd()
        if (root / AGENTS_FILE).exists():
            screen.notify(
                f"{AGENTS_FILE} exists already: /init never replaces it. Edit it, or delete "
                "it and /init again.", severity="warning", markup=False,
            )  # fmt: skip
            return
        question = init_question(root, screen.project_files())
        if tool_rung(screen.app.active_tier):
            self.run_init_agent(question)  # it may read the files it needs, nothing more
            return
        plan = self.conversation.prepare(question)
        if self._sendable(plan, "Not sent"):
            self.run_init(plan)  # type: ignore[arg-type]

    @work(exclusive=True, group="reply")
    async def run_init_agent(self, question: str) -> None:
        screen: Any = self
        messages = screen.query_one(MessageList)
        messages.follow()
        await messages.add(MessageItem("user", "/init", meta="you · read-only agent"))
        agent = screen.build_agent(mode="plan")
        try:
            result = await screen.drive_agent(agent, question)
        finally:
            await agent.tools.aclose()  # its MCP servers stop with it
        if result is not None and result.reason == "answered":
            self._propose(result.text)

    @work(exclusive=True, group="reply")
    async def run_init(self, plan: Plan) -> None:
        screen: Any = self
        messages = screen.query_one(MessageList)
        messages.follow()
        await messages.add(MessageItem("user", "/init", meta="you · the file list and README"))
        reply = (await self.conversation.run(plan)).final.reply
        if reply.failed is not None or reply.finish_reason == "cancelled":
            return  # the reply on screen says why
        self._propose(reply.text)

    def _propose(self, reply: str) -> None:
        screen: Any = self
        found = agents_proposal(reply)
        if found is None:
            screen.notify(
                f"The reply holds no {AGENTS_FILE} to propose: /init again, or on a "
                "stronger rung (/model).", severity="warning", markup=False,
            )  # fmt: skip
            return
        self.conversation.last_edits = found
        screen.action_review_edits()
