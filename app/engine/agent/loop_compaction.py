"""Compaction inside the agent loop: when to condense before a step (the request nears
the window of the rung the step would go to, unless the last compaction could not help:
compact_policy.py), and condensing now — the summary written by a digest step routed
like any step, priced and recorded aside (compaction.py builds the new transcript).

Functions over an ``Agent`` (loop.py), through its public parts, as calls.py runs its
tool calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rung.engine.agent.compaction import compact
from rung.engine.agent.events import Compacted
from rung.engine.agent.step_router import StepChoice
from rung.tiers.base import ChatRequest, Notice
from rung.tiers.route_cost import prompt_tokens

if TYPE_CHECKING:
    from rung.engine.agent.loop import Agent
    from rung.engine.agent.result import AgentResult


def steps_held(agent: Agent) -> int:
    return sum(1 for m in agent.transcript if m.role == "assistant")


async def maybe_compact(agent: Agent, step: int, kind: str, result: AgentResult) -> None:
    """Condense older steps when the next request nears the window of the rung the
    step would go to (every rung the step could go to is at least that roomy), unless
    the last compaction could not help (``compact_policy.py``)."""
    request = agent.request()
    tokens = agent.router.tokens(request)
    policy = agent.compaction
    # Under the threshold of the smallest window on the ladder no rung needs it: the
    # usual step is not routed a second time just to learn its rung's window.
    windows = agent.router.windows()
    if windows and not policy.over(tokens, min(windows.values())):
        return
    if policy.waiting(steps_held(agent)):
        return
    probe = agent.router.choose(kind, request, tokens=tokens)
    if not isinstance(probe, StepChoice):
        return
    window = windows.get(probe.rung)
    if not window or not policy.over(tokens, window):
        return
    done = await compact_steps(agent, step, result, window)
    if done is None or not policy.over(done.after_tokens, window):
        return
    fixed = prompt_tokens(ChatRequest((), agent.system, 1, tools=agent.specs))
    said = policy.still_over(steps_held(agent), done.after_tokens, window, fixed)
    if said is not None:
        await agent.emit(Notice(said))


async def compact_steps(
    agent: Agent, step: int = 0, result: AgentResult | None = None, window: int = 0
) -> Compacted | None:
    """Condense the older steps now (``/compact`` in agent mode, or near the window)."""
    before = agent.router.tokens(agent.request())
    used: dict[str, Any] = {}

    async def summarise(request: ChatRequest) -> str | None:
        chosen = agent.route("digest", "compaction", request)
        if isinstance(chosen, str):
            return None
        tier, reason = chosen
        reply, _, _, priced = await agent.run_step(
            tier, reason, step, "digest", result, digest=request
        )
        used["rung"], used["cost"] = tier.name, priced.cost
        if reply.failed is not None:
            return None
        return reply.text

    done = await compact(agent.transcript, summarise, agent.keep_last)
    if done is None:
        return None
    agent.transcript = done.messages
    agent.compaction.compacted()
    agent.router.forget_caches()
    event = Compacted(step, before, agent.router.tokens(agent.request()), window,
                      "" if done.mechanical else used.get("rung", ""),
                      used.get("cost"), done.dropped)  # fmt: skip
    await agent.emit(event)
    return event
