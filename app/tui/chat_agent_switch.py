"""The agent in the chat screen, on or off: who answers the next question (the agent or
the plain chat), by ``[agent] in_chat`` ("auto": the agent on a remote rung that
declares tool calling, the local model stays a chat; "on"; "off"), F11 for the session,
and what the status line says about it. A mixin of ChatScreen, under AgentGlue."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rung.engine.agent.loop import Agent
    from rung.engine.conversation import Conversation

SETTINGS = ("auto", "on", "off")


def tool_rung(tier: Any) -> bool:
    """The rung declares it can call tools (natively or by the text protocol)."""
    return bool(getattr(tier, "can_call_tools", False)) and (
        getattr(tier, "tool_protocol", "none") != "none"
    )


def remote_tool_rung(tier: Any) -> bool:
    """A remote rung that declares tool calling: where "auto" runs the agent (the local
    model stays a chat). Declared, never probed at message time."""
    return getattr(tier, "kind", "local") != "local" and tool_rung(tier)


def in_chat_setting(value: object) -> str:
    """[agent] in_chat as "auto", "on" or "off" (true/false, its first form: on/off)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value if isinstance(value, str) and value in SETTINGS else "auto"


class AgentSwitch:
    """Mixed into ChatScreen (through AgentGlue)."""

    conversation: Conversation
    agent_mode: str | None
    agent: Agent | None
    agent_running: bool
    agent_setting: str
    _config_setting: str
    _toggled: bool
    _status_key: tuple[str, str, str] | None

    # -- on or off ----------------------------------------------------------------------
    @property
    def agent_on(self) -> bool:
        """The agent answers on the rung the status line shows (in Auto: would answer
        on a remote rung that can call tools, when the ladder has one)."""
        if self.agent_setting == "off":
            return False
        tier = self._shown_tier()
        if tier is not None:
            return tool_rung(tier) if self.agent_setting == "on" else remote_tool_rung(tier)
        if self.agent_setting == "auto":
            return self._any_remote_tool_rung()
        screen: Any = self
        return any(tool_rung(screen.app.ladder.tier(name)) for name in screen.app.ladder.names)

    def _shown_tier(self) -> Any:
        """The pinned rung, or None in Auto (the router chooses per message)."""
        from rung.engine.ladder import AUTO

        screen: Any = self
        ladder = screen.app.ladder
        return None if ladder.mode == AUTO else ladder.tier(ladder.mode)

    def agent_answers(self, question: str | None = None) -> bool:
        """The next question goes to the agent: "on" on any rung that can call tools;
        "auto" when the rung that will answer (the pinned one, or Auto's choice for
        ``question`` as a chat message) is remote and declares tool calling."""
        if self.agent_setting == "off":
            return False
        check = tool_rung if self.agent_setting == "on" else remote_tool_rung
        tier = self._shown_tier()
        if tier is None:
            tier = self._auto_tier(question)
        return tier is not None and check(tier)

    def _auto_tier(self, question: str | None) -> Any:
        """The rung Auto would choose for ``question`` sent as a chat message."""
        from rung.tiers.base import Message

        screen: Any = self
        conversation = self.conversation
        ladder = screen.app.ladder
        if question is None:
            return screen.app.active_tier
        request = conversation.request([*conversation.history, Message("user", question)])
        allows_paid = not conversation.session.budget_state().blocks_paid
        try:
            decision = ladder.decide(request, allows_paid, conversation.route_context())
        except Exception:  # the router's trouble is the chat's to say (prepare says it)
            return None
        return ladder.tier(decision.tier)

    def action_toggle_agent(self) -> None:
        screen: Any = self
        if self.agent_running:
            screen.notify("The agent is working: Esc stops it first.", severity="warning")
            return
        if self.agent_on:
            self.agent_setting = "off"
        else:
            # Back to "auto" when the config says so and it answers here (in Auto: on
            # remote rungs only, the local model staying a chat); else "on".
            self.agent_setting = "auto"
            if self._config_setting != "auto" or not self.agent_on:
                self.agent_setting = "on"
        self._toggled = True
        tier = self._shown_tier()
        if self.agent_setting == "on" and tier is not None and not tool_rung(tier):
            screen.notify(
                f"Agent on, but {tier.name} cannot call tools: questions stay chat until a "
                "rung that can is pinned.", severity="warning", markup=False,
            )  # fmt: skip
        else:
            screen.notify("Agent on: the model reads, searches, edits and runs commands, "
                          "asking first." if self.agent_setting != "off"
                          else "Chat only: no tools.", markup=False)  # fmt: skip
        self.show_agent_status()

    def agent_status_text(self) -> str:
        if not self.agent_on:
            # Chat only by the config ("off", or "auto" on a ladder without a remote rung
            # that calls tools): a chat as it always was, nothing to say; said once F11
            # or a pin made it so.
            by_config = self.agent_setting == "off" or not self._any_remote_tool_rung()
            return "" if by_config and not self._toggled else "chat only"
        mode = self.agent_mode or self._config_mode()
        text = f"agent {mode}"
        if self._shown_tier() is None and self.agent_setting == "auto":
            text += " on remote rungs"
        agent = self.agent
        sandboxed = agent.tools.probe.sandbox is not None if agent else self._sandboxed()
        if sandboxed is False:  # None: not known yet (the probe runs on a thread)
            text += " · commands not sandboxed"
        return text

    def _any_remote_tool_rung(self) -> bool:
        screen: Any = self
        ladder = screen.app.ladder
        return any(remote_tool_rung(ladder.tier(name)) for name in ladder.names)

    def show_agent_status(self) -> None:
        screen: Any = self
        self._status_key = (screen.app.ladder.mode, screen.app.status.tier, self.agent_setting)
        # Only the agent's part changes: the rung, model and state on the line stay as
        # they are (a pin, a health check or a reply in flight set them).
        screen.app.status = dataclasses.replace(screen.app.status, agent=self.agent_status_text())

    def follow_rung(self, _view: object = None) -> None:
        """The status line changed: a pin (or Auto) changed who answers, say it."""
        screen: Any = self
        key = (screen.app.ladder.mode, screen.app.status.tier, self.agent_setting)
        if key != self._status_key and self._status_key is not None:
            self.show_agent_status()

    def _config_mode(self) -> str:
        screen: Any = self
        return str(screen.app.config.get("permissions", "mode"))

    def _sandboxed(self) -> bool | None:
        """Whether commands run sandboxed, or None until the probe has said. The probe
        (the agent's modules: 150-400 ms to import, then a bwrap run) goes on a thread:
        with the agent on by default it ran on the event loop right after the first
        frame, and the first keys typed waited for it."""
        known: bool | None = getattr(self, "_sandbox_known", None)
        if known is not None or getattr(self, "_probing", False):
            return known
        self._probing = True
        screen: Any = self

        def probe_now() -> None:
            from rung.engine.agent.sandbox import probe

            self._sandbox_known = probe().sandbox is not None
            screen.app.call_from_thread(self.show_agent_status)

        screen.run_worker(probe_now, thread=True, group="sandbox-probe", exit_on_error=False)
        return None

    def agent_mode_changed(self) -> None:
        """/mode: the running chat's agent asks (or not) by the new mode from its next call."""
        if self.agent is not None and self.agent_mode:
            from rung.engine.agent.permissions import Mode

            self.agent.tools.dispatcher.permissions.mode = Mode(self.agent_mode)
        self.show_agent_status()
