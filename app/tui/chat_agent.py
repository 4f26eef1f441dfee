"""The agent in the chat screen: a question goes to the agent loop (engine/agent/loop.py)
instead of the plain conversation when the agent is on and the rung can call tools.
Each step is a reply on screen with its rung, tokens and cost; each tool call one
compact line that expands; Esc stops the loop; the approval dialog is the dispatcher's
ask callback. A mixin of ChatScreen: messages up (the app's status and cost lines are
asked to redraw), calls down (Agent.run, Agent.cancel).

The agent's modules are imported on first use: importing them with the chat screen
added 150-400 ms before the first frame (python -X importtime).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work

from rung.engine.safe_text import for_terminal
from rung.tui.agent_view import ToolCallLine
from rung.tui.chat_agent_steps import AgentSteps, context_meter, step_header
from rung.tui.chat_agent_switch import AgentSwitch, in_chat_setting
from rung.tui.chat_text import budget_words
from rung.tui.widgets.messages import MessageItem, MessageList

__all__ = ["AgentGlue", "context_meter", "step_header"]  # the step view's, kept importable here

if TYPE_CHECKING:
    from rung.engine.agent.commit import Before, CommitOutcome
    from rung.engine.agent.loop import Agent, AgentResult
    from rung.engine.conversation import Conversation
    from rung.tiers.base import Message


class AgentGlue(AgentSteps, AgentSwitch):
    """Mixed into ChatScreen."""

    conversation: Conversation
    agent_mode: str | None

    def init_agent(self, setting: object = "auto") -> None:
        # Who answers: "auto" (the agent on remote rungs that call tools), "on", "off";
        # [agent] in_chat, and F11 sets on/off for this chat.
        self.agent_setting = self._config_setting = in_chat_setting(setting)
        self._toggled = False  # F11 was pressed in this chat
        self.agent: Agent | None = None  # built on the first agent question; per chat
        self.agent_running = False
        self._driving: Agent | None = None  # the agent whose turn runs now
        self._step_item: MessageItem | None = None
        self._tool_lines: dict[str, ToolCallLine] = {}
        self.last_commit: CommitOutcome | None = None  # [agent] commit = "turn"
        self.resumed_session: int | None = None  # a stored session on screen (resume)
        self._step_why = ""  # why the step on screen went to its rung (per-step routing)
        self._answer_item: MessageItem | None = None  # the agent's last answer on screen
        self._last_step: MessageItem | None = None  # the agent's last step on screen
        self._status_key: tuple[str, str, str] | None = None  # (mode, rung, setting) shown
        # The chat's history as the agent last saw it: a chat-only turn since (F11) makes
        # it differ, and the agent's transcript is read again from the store first.
        self._agent_saw: list[Message] = []
        # A turn still winding down when Ctrl+N cleared the meter: (its agent, how many
        # records the new chat had then); what it prices later is the old chat's.
        self._orphan: tuple[Agent, int] | None = None

    def forget_agent(self) -> None:
        """A new conversation: the next agent question starts a new transcript."""
        if self.agent is not None:  # its MCP servers stop, in the background
            screen: Any = self
            screen.run_worker(self.agent.tools.aclose(), group="mcp-stop", exit_on_error=False)
        if self.agent_running and self._driving is not None:
            # Esc was asked of it; its step in flight is priced when it stops, after the
            # meter was cleared for the new chat (the store puts it in the old session).
            self._orphan = (self._driving, len(self.conversation.session.meter.records))
        self.resumed_session = None
        self.agent = None
        self._agent_saw = []
        self._step_item = None
        self._tool_lines.clear()

    # -- a turn ---------------------------------------------------------------------------
    def build_agent(self, mode: str | None = None) -> Agent:
        """An agent over the project in the working directory; ``mode`` overrides this
        chat's (``/init`` runs one in plan mode: read-only tools)."""
        from rung.engine.agent.loop import Agent
        from rung.engine.agent.setup import agent_session
        from rung.tui.approval import asker

        screen: Any = self
        app = screen.app
        tools = agent_session(app.config, Path.cwd(), asker(app), mode=mode or self.agent_mode)
        for problem in tools.problems:
            screen.notify(for_terminal(problem), title="Agent rules", severity="warning",
                          markup=False)  # fmt: skip
        options = self.conversation.options
        agent = Agent(
            app.ladder, self.conversation.session, tools, [self._on_agent_event],
            system=options.system, max_tokens=options.max_tokens,
        )  # fmt: skip
        agent.listeners.append(lambda event: self._turn_ended(agent, event))
        return agent

    def _turn_ended(self, agent: Agent, event: object) -> None:
        """A turn of ``agent`` ended (a question's, or F9's redo of its answer): the chat's
        history takes it in, unless Ctrl+N started a new chat while it wound down."""
        from rung.engine.agent.events import AgentDone

        orphan = self._orphan
        if isinstance(event, AgentDone) and (orphan is None or orphan[0] is not agent):
            self._chat_sees_agent(agent)

    def _carry_on(self, agent: Agent) -> None:
        """The agent goes on from the stored conversation, tool calls and results as the
        model saw them: a resumed session (Ctrl+S, ``rung --continue``), or chat-only
        turns (F11) since the agent last answered. The store is the one record of the
        conversation, so live and resumed turns see the same thing."""
        self.resumed_session = None
        conversation = self.conversation
        session = conversation.session
        if not conversation.history or session.store is None:
            return  # nothing said yet in this chat (and nothing to resume)
        from rung.engine.agent.record import rebuild

        if session.recorder is not None:
            session.recorder.flush(0.5)  # the latest replies are in the file
        try:
            session_id = session.session_id
            if session_id is None:
                return
            stored = [m for m in session.store.transcript(session_id) if not m.superseded]
            agent.transcript = rebuild(stored, session.store.agent_steps(session_id))
        except Exception as exc:  # a damaged history: the turn starts afresh, said
            screen: Any = self
            screen.notify(f"The earlier steps could not be read: {for_terminal(str(exc))}",
                          severity="warning", markup=False)  # fmt: skip

    def _chat_sees_agent(self, agent: Agent) -> None:
        """After an agent turn: the chat's history read again from the store, so a
        chat-only question next (F11) is asked with the agent's questions and final
        answers in it (tool calls and results stay the agent's). Another agent's turn
        (/init's) is read by this chat's agent too, before its next turn."""
        try:
            self.conversation.reload()
        except Exception as exc:  # a damaged history: the chat goes on with what it had
            screen: Any = self
            screen.notify(f"The agent's turn could not be read back for the chat: "
                          f"{for_terminal(str(exc))}", severity="warning",
                          markup=False)  # fmt: skip
        if agent is self.agent:
            self._agent_saw = list(self.conversation.history)

    @work(exclusive=True, group="reply")
    async def run_agent(self, question: str) -> None:
        if self.agent is None:
            self.agent = self.build_agent()
            self._carry_on(self.agent)
            self.show_agent_status()
        elif self.conversation.history != self._agent_saw:
            self._carry_on(self.agent)  # chat-only turns came between (F11)
        await self.drive_agent(self.agent, question)

    async def drive_agent(self, agent: Agent, question: str) -> AgentResult | None:
        """One turn of ``agent`` on screen; its result, or None when it broke."""
        screen: Any = self
        self.agent_running, self._driving = True, agent
        try:
            before = await self._before_turn(agent)
            result = await agent.run(question)
            if before is not None and result.reason == "answered":
                await self._commit_turn(agent, before, result)
            return result
        except Exception as exc:
            screen.notify(f"The agent stopped: {for_terminal(str(exc))}", severity="error",
                          markup=False)  # fmt: skip
            await self._end_step("failed", f"Failed: {for_terminal(str(exc))}")
            return None
        finally:
            self._disown(agent)
            self.agent_running, self._driving = False, None
            screen.app.show_status(screen.app.idle_state())
            screen.app.show_cost()

    def _disown(self, agent: Agent) -> None:
        """When Ctrl+N started a new chat while the turn wound down, what it priced since
        leaves the new chat's meter (the store has it in the old session, where `rung
        cost` and the history show it)."""
        orphan, self._orphan = self._orphan, None
        if orphan is not None and orphan[0] is agent:
            del self.conversation.session.meter.records[orphan[1] :]

    async def _before_turn(self, agent: Agent) -> Before | None:
        """[agent] commit = "turn": the repository before the turn (None: off)."""
        if self.conversation.session.config.get("agent", "commit") != "turn":
            return None
        from rung.engine.agent.commit import before_turn

        return await asyncio.to_thread(before_turn, agent.tools.dispatcher.context.root)

    async def _commit_turn(self, agent: Agent, before: Before, result: AgentResult) -> None:
        """The files the turn changed, committed; the outcome said either way."""
        from rung.engine.agent.commit import commit_turn

        screen: Any = self
        context = agent.tools.dispatcher.context
        screen.app.show_status("committing the turn")
        outcome = await commit_turn(
            before, context.journal, context.turn, [t.summary for t in result.tools],
            agent.ladder, agent.session,
        )  # fmt: skip
        if outcome is not None:
            self.last_commit = outcome
            screen.notify(for_terminal(outcome.message), title="Git", markup=False,
                          severity="information" if outcome.committed else "warning")  # fmt: skip

    def cancel_agent(self) -> bool:
        """Esc: stop the loop (between steps, mid-stream or mid-command)."""
        if self.agent_running and self._driving is not None:
            self._driving.cancel()
            return True
        return False

    # -- F9 and /compact on an agent turn ---------------------------------------------------
    def escalate_agent(self) -> bool:
        """F9 when the last answer on screen is the agent's: that answer again one rung
        up, and the step router learns (engine: ``Agent.escalate``). False: not ours."""
        screen: Any = self
        agent, item = self.agent, self._answer_item
        if agent is None or self.agent_running:
            return False
        items = [m for m in screen.query_one(MessageList).query(MessageItem)
                 if m.role != "notice"]  # a line the agent left is not a reply  # fmt: skip
        last = items[-1] if items else None
        if item is None and last is not None and last is self._last_step:
            # The agent's turn is the last thing on screen, but it stopped, failed or hit
            # a limit: there is no answer to redo.
            screen.notify("The agent's last turn ended without an answer: nothing to "
                          "escalate. Ask again (F2-F5 pin a stronger rung).",
                          title="Not escalated", markup=False)  # fmt: skip
            return True
        if item is None or last is not item:
            return False  # a chat reply came after it: F9 is the chat's
        self._answer_item = None
        self.run_agent_aside(agent, "escalate")
        return True

    def compact_agent(self) -> bool:
        """/compact in an agent chat: the agent's older steps condensed now (False: no
        agent transcript to condense; the chat's own /compact applies)."""
        if self.agent is None or not self.agent.transcript or self.agent_running:
            return False
        self.run_agent_aside(self.agent, "compact")
        return True

    @work(exclusive=True, group="reply")
    async def run_agent_aside(self, agent: Agent, what: str) -> None:
        """F9 ("escalate") or /compact ("compact") on the agent, as a turn of its own:
        Esc stops it, the status and cost lines follow."""
        screen: Any = self
        self.agent_running, self._driving = True, agent
        try:
            if what == "escalate":
                outcome = await agent.escalate()
                if isinstance(outcome, str):
                    screen.notify(for_terminal(outcome), title="Not escalated", markup=False)
            elif await agent.compact_now() is None:
                # A line in the conversation, as the chat's own /compact leaves one.
                await self._say("/compact: nothing to condense yet — the agent's last "
                                f"{agent.keep_last} steps are kept whole.")  # fmt: skip
        except Exception as exc:
            screen.notify(f"The agent stopped: {for_terminal(str(exc))}", severity="error",
                          markup=False)  # fmt: skip
        finally:
            self._digest, self._digests = None, 0
            self.agent_running, self._driving = False, None
            screen.app.show_status(screen.app.idle_state())
            screen.app.show_cost()

    def agent_refuses(self) -> bool:
        """Before an agent question is sent: with the budget spent and no free rung able to
        take a step (or a paid rung pinned), nothing is sent and the prompt keeps the text
        (as a chat message's refusal does); the budget's words, once. False: it may go."""
        from rung.tiers.budget import PAID_KINDS

        session = self.conversation.session
        session.refresh_today()
        state = session.budget_state()
        if not state.blocks_paid:
            return False
        free, pinned = self.free_rung(), self._shown_tier()
        if free and (pinned is None or pinned.kind not in PAID_KINDS):
            return False  # the free rung takes the steps (the loop says it if it cannot)
        screen: Any = self
        screen.notify(budget_words(state.message, free), title="Budget reached",
                      severity="error", timeout=15, markup=False)  # fmt: skip
        return True
