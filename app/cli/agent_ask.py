"""`rung ask --agent`: the agent headless. The model's answer streams to stdout; each tool
call is one compact line on stderr (`read src/calc.py 1-120`, `run pytest -q → exit 1,
1 failed`); `--json` prints one object at the end, `--stream-json` one JSON event per
line as it happens.

Nobody can be asked on a non-TTY: a call that needs permission is denied, said on stderr
and told to the model (``--mode``, ``--allow``/``--deny`` decide beforehand). Exit
status: 0 answered, 1 failed (a step failed, the step limit or the budget stopped it,
no rung could start), 2 usage, 130 interrupted. Everything from outside Rung passes the
terminal sanitizer on its way out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import select
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from rung.cli import pipes
from rung.engine.agent.commit import before_turn, commit_turn
from rung.engine.agent.dispatcher import Answer, PermissionRequest
from rung.engine.agent.events import (
    AgentDone,
    StepPriced,
    StepStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from rung.engine.agent.loop import Agent, AgentResult
from rung.engine.agent.setup import agent_session
from rung.engine.build_tiers import RungOverrides, UnknownTierError
from rung.engine.config import Config
from rung.engine.ladder import Ladder
from rung.engine.safe_text import StreamSanitizer, for_terminal, json_for_terminal, one_line
from rung.engine.session import Session
from rung.tiers.base import Failed, Finished, Notice, TextDelta, Usage
from rung.tiers.pricing import format_usd, usd_text

AGENT_MAX_TOKENS = 4096
SOURCE = "agent"  # the stored sessions' source: `--continue` picks the newest of these


def warn(message: str) -> None:
    print(f"rung: {for_terminal(message)}", file=sys.stderr, flush=True)


def usage_problem(args: argparse.Namespace) -> str | None:
    """Why these flags do not go together (exit 2), or None."""
    agent_only = [
        flag
        for flag, given in (
            ("--mode", args.mode is not None), ("--allow", bool(args.allow_rule)),
            ("--deny", bool(args.deny_rule)), ("--max-steps", args.max_steps is not None),
            ("--stream-json", args.stream_json), ("--continue", args.continue_last),
            ("--max-cost", args.max_cost is not None),
        )
        if given
    ]  # fmt: skip
    if not args.agent:
        return f"{', '.join(agent_only)}: for the agent only (add --agent)" if agent_only else None
    if args.diff or args.apply:
        return "--diff and --apply are for chat answers; the agent edits through its tools"
    if args.json and args.stream_json:
        return "--json and --stream-json do not go together"
    if args.max_steps is not None and args.max_steps < 1:
        return "--max-steps must be at least 1"
    if args.max_cost is not None and max_cost(args.max_cost) is None:
        return f"--max-cost {args.max_cost!r}: a positive amount in dollars, e.g. 0.50"
    return None


def max_cost(text: str | None) -> Decimal | None:
    """--max-cost's dollars ("0.50", "$2"), or None when absent or not a positive amount."""
    if text is None:
        return None
    try:
        value = Decimal(text.strip().removeprefix("$"))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


async def _terminal_ask(request: PermissionRequest) -> Answer:
    """Ask on the terminal (stdin and stderr are a TTY; stdout may be a pipe, so the
    question goes to stderr): y once, a always, anything else no."""
    if request.detail:
        print(f"\n{request.detail}", file=sys.stderr)
    always = " [a]lways," if request.always else ""
    print(f"rung: allow {request.summary}? ({request.reason}) [y]es,{always} [n]o: ",
          end="", file=sys.stderr, flush=True)  # fmt: skip
    try:
        reply = await _read_line()
    except (EOFError, OSError):
        return Answer.DENY
    choice = reply.strip().lower()[:1]
    if choice == "y":
        return Answer.ONCE
    if choice == "a" and request.always:
        return Answer.ALWAYS
    return Answer.DENY


async def _read_line() -> str:
    """One line from the terminal without a thread (Ctrl-C must not wait for Enter)."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()
    fd = sys.stdin.fileno()

    def ready() -> None:
        if not line.done():
            line.set_result(sys.stdin.readline())  # a TTY: a whole line is there

    loop.add_reader(fd, ready)
    try:
        text = await line
    finally:
        loop.remove_reader(fd)
    if not text:
        raise EOFError
    return text


class View:
    """Prints the agent's events: text to stdout, tool lines to stderr, or JSON lines."""

    def __init__(self, stream_json: bool, show_text: bool) -> None:
        self.stream_json = stream_json
        self.show_text = show_text and not stream_json
        self.sanitizer = StreamSanitizer()
        self.at_line_start = True
        self.closed = False
        self.on_closed: Any = None  # stdout's reader left mid-write: stop now
        self.on_gone: Any = None  # ... found between steps: stop before the next one
        self.done: AgentDone | None = None  # the turn's end, as the loop said it
        self.priced = 0  # steps priced with the provider's figures or a full estimate
        self.estimated = False

    def _out(self, text: str) -> None:
        if self.closed or not text:
            return
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError as exc:
            if not pipes.is_closed_pipe(exc):
                raise
            self.closed = True  # the reader left (`| head`): stop the turn, quietly
            pipes.silence_stdout()
            if self.on_closed is not None:
                self.on_closed()
            return
        self.at_line_start = text.endswith("\n")

    def _json(self, data: dict[str, Any]) -> None:
        self._out(json_for_terminal(json.dumps(data, ensure_ascii=False)) + "\n")

    def _check_reader(self) -> None:
        """Between steps: a reader that left (`| head -1`) stops the run before its
        next paid step, though nothing was written since it left."""
        if self.closed or not stdout_gone():
            return
        self.closed = True
        pipes.silence_stdout()
        if self.on_gone is not None:
            self.on_gone()

    def __call__(self, event: object) -> None:
        if isinstance(event, AgentDone):
            self.done = event
        elif isinstance(event, StepPriced):
            self.priced += 1
            self.estimated = self.estimated or event.estimated
        if isinstance(event, StepPriced | ToolCallFinished):
            self._check_reader()
        if self.stream_json:
            data = stream_event(event)
            if data is not None:
                self._json(data)
            if isinstance(event, Notice):
                warn(event.text)
            return
        match event:
            case TextDelta(text=text) if self.show_text:
                self._out(self.sanitizer.feed(text))
            case Finished() | Failed() if self.show_text:
                self._out(self.sanitizer.end())
                if not self.at_line_start:
                    self._out("\n")
            case ToolCallFinished():
                mark = "✗" if event.is_error else "→"
                print(f"  {mark} {one_line(event.summary, 160)}", file=sys.stderr, flush=True)
            case Notice(text=text):
                warn(text)


def stdout_gone() -> bool:
    """Whether stdout is a pipe or socket whose reader has gone (poll says POLLERR or
    POLLHUP on its write end), found without writing to it."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)  # errors and hang-ups are always reported
        found = poller.poll(0)
    except (OSError, ValueError, AttributeError):  # no real stdout (embedded, tests)
        return False
    return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in found)


def interrupted_line(view: View) -> str:
    """What Ctrl-C leaves on stderr: what the turn spent, and how to go on."""
    done = view.done
    saved = "(the turn is saved: `rung ask --agent --continue`)"
    if done is None or not done.steps:
        return "interrupted before any step: nothing sent, nothing spent"
    n = done.steps
    # A step cut short is priced by an estimate (its usage never came).
    rough = view.estimated or view.priced < n
    cost = format_usd(done.cost, rough) if done.cost is not None else "price unknown"
    return f"interrupted after {n} step{'s' if n != 1 else ''} · {cost} {saved}"


def stream_event(event: object) -> dict[str, Any] | None:
    """One ``--stream-json`` line for an event (None: not sent)."""
    match event:
        case StepStarted():
            return {"type": "step_start", "step": event.step, "tier": event.rung,
                    "model": event.model, "kind": event.kind,
                    "reason": event.reason}  # fmt: skip
        case TextDelta(text=text):
            return {"type": "text", "text": text}
        case ToolCallStarted():
            return {"type": "tool_call", "id": event.call_id, "tool": event.tool}
        case ToolCallFinished():
            return {"type": "tool_result", "id": event.call_id, "tool": event.tool,
                    "summary": event.summary, "is_error": event.is_error}  # fmt: skip
        case StepPriced():
            return {"type": "step_end", **step_json(event)}
        case Failed():
            return {"type": "error", "message": event.message, "kind": event.kind}
    return None


def step_json(step: StepPriced) -> dict[str, Any]:
    u = step.usage
    return {
        "step": step.step,
        "tier": step.rung,
        "model": step.model,
        "kind": step.kind,
        "finish_reason": step.finish_reason,
        "cost_usd": None if step.cost is None else usd_text(step.cost),
        "cost_estimated": step.estimated,
        "usage": usage_json(u),
    }


def by_step_kind(result: AgentResult) -> dict[str, dict[str, Any]]:
    """Steps and cost by kind (plan, act, digest, answer); a cost is null when a step's
    price is unknown."""
    out: dict[str, dict[str, Any]] = {}
    for step in result.steps:
        kind = out.setdefault(step.kind or "step", {"steps": 0, "usd": Decimal(0)})
        kind["steps"] += 1
        if step.cost is None or kind["usd"] is None:
            kind["usd"] = None
        else:
            kind["usd"] += step.cost
    return {k: {"steps": v["steps"], "cost_usd": None if v["usd"] is None else usd_text(v["usd"])}
            for k, v in out.items()}  # fmt: skip


def usage_json(u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cached_input_tokens": u.cached_input_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "estimated": u.estimated,
    }


def result_json(
    result: AgentResult,
    session_id: int | None,
    sha: str = "",
    max_cost: Decimal | None = None,
    past_max_cost: str = "",
) -> dict[str, Any]:
    """The one object `--json` prints (and `--stream-json`'s last line). ``past_max_cost``:
    the notice said when a step's real cost took the run past --max-cost."""
    total = Usage(
        input_tokens=sum(s.usage.input_tokens for s in result.steps),
        output_tokens=sum(s.usage.output_tokens for s in result.steps),
        cached_input_tokens=sum(s.usage.cached_input_tokens for s in result.steps),
        cache_write_tokens=sum(s.usage.cache_write_tokens for s in result.steps),
        estimated=any(s.usage.estimated for s in result.steps),
    )
    cost = result.cost
    return {
        "text": result.text,
        "tier": result.tier,
        "model": result.model,
        "stop_reason": result.reason,
        "finish_reason": result.steps[-1].finish_reason if result.steps else None,
        "error": None if result.reason == "answered" else result.message,
        "usage": usage_json(total),
        "cost_usd": None if cost is None else usd_text(cost),
        "total_cost_usd": None if cost is None else usd_text(cost),
        "cost_estimated": any(s.estimated for s in result.steps),
        "max_cost_usd": None if max_cost is None else usd_text(max_cost),
        # A forecast can be low: a step's real cost may take the run past --max-cost.
        "over_max_cost": max_cost is not None and cost is not None and cost > max_cost,
        "max_cost_note": past_max_cost or None,
        "num_steps": len(result.steps),
        "steps": [step_json(s) for s in result.steps],
        "by_step_kind": by_step_kind(result),
        # The what-if: the same steps all on the ladder's premium rung.
        "all_premium_usd": None if result.premium_usd is None else usd_text(result.premium_usd),
        "premium_model": result.premium_model or None,
        "tools": [
            {"tool": t.tool, "summary": t.summary, "is_error": t.is_error} for t in result.tools
        ],
        "session_id": session_id,
        "commit": sha or None,  # [agent] commit = "turn": the turn's commit
    }


def run_agent_ask(args: argparse.Namespace, config: Config, question: str) -> int:
    root = Path.cwd()
    ask = _terminal_ask if sys.stdin.isatty() and sys.stderr.isatty() else None
    tools = agent_session(
        config, root, ask, mode=args.mode, allow=args.allow_rule, deny=args.deny_rule,
        max_steps=args.max_steps,
    )  # fmt: skip
    for problem in tools.problems:
        warn(f"warning: {problem}")
    if ask is None:
        warn(f"agent in {tools.dispatcher.permissions.mode} mode, {tools.probe.status}; not a "
             "terminal: calls that need permission are denied")  # fmt: skip
    overrides = RungOverrides(args.tier, args.model, args.base_url)
    ladder = Ladder(config, overrides, only_override=bool(args.tier))
    for problem in ladder.problems:
        warn(f"warning: {problem}")
    session = Session(config, SOURCE, history=not args.no_save)
    view = View(args.stream_json, not args.json)
    system = args.system if args.system is not None else config.get("ui", "system_prompt")
    # A step may write a whole file: more room than a chat answer's default.
    max_tokens = args.max_tokens or max(AGENT_MAX_TOKENS, config.get("ui", "max_tokens"))
    agent = Agent(ladder, session, tools, [view], system=system, max_tokens=max_tokens,
                  max_cost=max_cost(args.max_cost))  # fmt: skip
    view.on_closed = agent.cancel
    view.on_gone = lambda: agent.stop_soon("stdout's reader left: the run stopped")
    try:
        if args.continue_last:
            problem = _resume(agent, session)
            if problem:
                warn(problem)
                return 1
        if not question:  # `--continue` alone: the task goes on as it was
            question = "Continue the task where you stopped."
        try:
            commit = config.get("agent", "commit") == "turn"
            result, sha = asyncio.run(_run(agent, question, commit))
        except UnknownTierError as exc:
            warn(str(exc))
            return 2
        except KeyboardInterrupt:
            print(f"\nrung: {interrupted_line(view)}", file=sys.stderr)
            return 130
        session_id = session.session_id
    finally:
        session.close()
        for problem in session.problems():
            warn(f"warning: {problem}")
        for notice in tools.dispatcher.notices:
            warn(notice)
    if args.json or args.stream_json:
        data = result_json(result, session_id, sha, agent.money.max_cost, agent.money.overshoot)
        if args.stream_json:
            data = {"type": "result", **data}
        view._json(data)
    elif result.steps and not view.closed:
        warn(run_summary(result))
    return _status(result, view.closed)


def run_summary(result: AgentResult) -> str:
    """ "4 steps (plan 1, act 3) · $0.0042; all on claude-sonnet-4-6 ~$0.0173"."""
    kinds: dict[str, int] = {}
    for step in result.steps:
        kinds[step.kind or "step"] = kinds.get(step.kind or "step", 0) + 1
    n = len(result.steps)
    parts = ", ".join(f"{k} {v}" for k, v in kinds.items())
    cost = format_usd(result.cost) if result.cost is not None else "price unknown"
    line = f"{n} step{'s' if n != 1 else ''} ({parts}) · {cost}"
    if result.premium_usd is not None and result.premium_model:
        line += f"; all on {result.premium_model} {format_usd(result.premium_usd, True)}"
    return line


def _resume(agent: Agent, session: Session) -> str | None:
    """Load the newest agent session's transcript; the problem, or None."""
    if session.store is None:
        return session.store_error or "history is off: there is nothing to continue"
    found = session.store.sessions(limit=1, source=SOURCE)
    if not found:
        return 'no agent session to continue (run `rung ask --agent "..."` first)'
    try:
        count = agent.resume(found[0].id)
    except LookupError as exc:
        return str(exc)
    warn(f"continuing agent session #{found[0].id} ({count} messages)")
    return None


async def _run(agent: Agent, question: str, commit: bool = False) -> tuple[AgentResult, str]:
    """The turn; with ``[agent] commit = "turn"``, the files it changed committed (the
    commit's sha, or "")."""
    try:
        context = agent.tools.dispatcher.context
        before = await asyncio.to_thread(before_turn, context.root) if commit else None
        result, sha = await agent.run(question), ""
        if before is not None and result.reason == "answered":
            summaries = [t.summary for t in result.tools]
            outcome = await commit_turn(before, context.journal, context.turn, summaries,
                                        agent.ladder, agent.session)  # fmt: skip
            if outcome is not None:
                warn(outcome.message)
                sha = outcome.sha
        return result, sha
    finally:
        await agent.ladder.aclose()
        await agent.tools.aclose()  # MCP servers stop with the command


def _status(result: AgentResult, reader_left: bool) -> int:
    if result.reason == "answered" or reader_left:
        return 0
    if result.reason == "cancelled":
        return 130
    warn(f"{result.message}" + (" (raise it with --max-steps)" if result.reason == "max_steps"
                                 else ""))  # fmt: skip
    return 1
