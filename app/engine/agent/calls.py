"""An agent step's tool calls, run in order through the dispatcher: each result is
appended to the transcript and saved on the step's row as soon as it is known, so a
killed process leaves a resumable transcript; a cancel answers the calls not run."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rung.engine.agent.events import ToolCallFinished, ToolCallStarted
from rung.engine.agent.record import StepRecord, save_step, tool_message
from rung.engine.agent.result import AgentResult
from rung.engine.agent.steps import ToolOutcome
from rung.engine.recorder import Handle
from rung.engine.safe_text import one_line
from rung.tiers.base import Reply, ToolCall

if TYPE_CHECKING:  # the loop imports this module
    from rung.engine.agent.loop import Agent

CANCELLED = "Cancelled by the user; it may have been stopped part way."


async def run_calls(
    agent: Agent, reply: Reply, handle: Handle, result: AgentResult
) -> list[ToolOutcome]:
    """Each of ``reply``'s calls in order; what each did, for the next step's kind."""
    calls = list(reply.tool_calls)
    record = StepRecord(calls, tuple(reply.private))
    outcomes: list[ToolOutcome] = []
    for index, call in enumerate(calls):
        await agent.emit(ToolCallStarted(call.id, call.name, _asked(call)))
        try:
            outcome = await agent.tools.dispatcher.call(call.name, call.arguments)
        except asyncio.CancelledError:
            # The transcript stays well formed: this call and the ones not run answered.
            for skipped in calls[index:]:
                agent.transcript.append(tool_message(skipped, CANCELLED, True))
                record.results[skipped.id] = {"text": CANCELLED, "is_error": True,
                                              "summary": "cancelled"}  # fmt: skip
            save_step(agent.session, handle, record)
            raise
        agent.transcript.append(tool_message(call, outcome.text, outcome.is_error))
        record.results[call.id] = {
            "text": outcome.text, "is_error": outcome.is_error, "summary": outcome.summary,
        }  # fmt: skip
        save_step(agent.session, handle, record)
        done = ToolCallFinished(call.id, call.name, outcome.summary, outcome.is_error, outcome.text)
        result.tools.append(done)
        outcomes.append(ToolOutcome(call.name, outcome.is_error, outcome.exit_code,
                                    bool(outcome.files_changed)))  # fmt: skip
        await agent.emit(done)
    return outcomes


def _asked(call: ToolCall) -> str:
    return one_line(f"{call.name} {call.arguments}", 120)
