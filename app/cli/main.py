"""The `rung` command: the TUI by default, and headless subcommands for scripts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _version() -> str:
    # Here, not at the top: importlib.metadata (with email and zipfile under it) costs
    # ~20 ms, and only --version reads it.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rung")
    except PackageNotFoundError:
        return "0+unknown"


class _VersionAction(argparse.Action):
    """--version: argparse's own action takes the text when the parser is built, that
    is on every start; this one reads the installed version only when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:  # fmt: skip
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"rung {_version()}")
        parser.exit()


def _add_tier_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    # Subcommands use SUPPRESS so `rung --tier x ask` and `rung ask --tier x` both work.
    parser.add_argument(
        "--tier",
        default=default,
        metavar="NAME",
        help="rung to use: a name from your ladder or a tier kind (local, selfhosted, "
        "openai, anthropic, gemini, deepseek, mistral, openrouter, groq, together)",
    )
    parser.add_argument(
        "--model", default=default, help="model for that tier (local: a GGUF file path)"
    )
    parser.add_argument(
        "--base-url",
        default=default,
        metavar="URL",
        help="send that tier's requests to another host",
    )


def _add_agent_options(ask: argparse.ArgumentParser) -> None:
    """`rung ask --agent` (app/cli/agent_ask.py)."""
    ask.add_argument(
        "--agent", action="store_true",
        help="work on the task as an agent: read, search, edit and run commands in this "
        "directory's project, step by step (undo a whole turn with `rung undo`)",
    )  # fmt: skip
    ask.add_argument(
        "--mode", choices=("ask", "accept-edits", "plan", "auto"), default=None,
        help="with --agent: what runs without asking (default: config, else ask); with no "
        "terminal nothing can be asked, so a call that needs permission is denied",
    )  # fmt: skip
    ask.add_argument(
        "--allow", dest="allow_rule", action="append", default=[], metavar="RULE",
        help="with --agent: allow calls matching RULE (run:git status, 'run:pytest *', "
        "edit:src/**; repeatable)",
    )  # fmt: skip
    ask.add_argument(
        "--deny", dest="deny_rule", action="append", default=[], metavar="RULE",
        help="with --agent: deny calls matching RULE (beats any allow; repeatable)",
    )  # fmt: skip
    ask.add_argument(
        "--max-steps", type=int, default=None, metavar="N",
        help="with --agent: stop after N model requests (default 50); exit status 1",
    )  # fmt: skip
    ask.add_argument(
        "--max-cost", default=None, metavar="USD",
        help="with --agent: stop before a paid step that would take this run past USD "
        "dollars (e.g. 0.50); exit status 1",
    )  # fmt: skip
    ask.add_argument(
        "--stream-json", action="store_true",
        help="with --agent: one JSON event per line as it happens, the result last",
    )  # fmt: skip
    ask.add_argument(
        "--continue", dest="continue_last", action="store_true", default=argparse.SUPPRESS,
        help="with --agent: pick up the newest agent session where it stopped",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rung",
        description="Terminal chat and coding assistant that answers each message on the "
        "cheapest model that can do the job. With no command, starts the chat screen.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="show program's version number and exit"
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="config file (default: $RUNG_CONFIG or the platform config directory)",
    )
    _add_tier_options(parser)
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        "-c", "--continue", dest="continue_last", action="store_true",
        help="continue the most recent conversation",
    )  # fmt: skip
    resume.add_argument("--resume", type=int, metavar="ID", help="continue conversation ID")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = sub.add_parser("ask", help="answer one question on stdout and exit")
    ask.add_argument("question", nargs="*", help="the question (read from stdin when omitted)")
    _add_tier_options(ask, argparse.SUPPRESS)
    ask.add_argument("--max-tokens", type=int, default=None, help="output token limit")
    ask.add_argument("--system", help="system prompt for this question")
    ask.add_argument(
        "--json", action="store_true", help="print one JSON object at the end instead of text"
    )
    ask.add_argument(
        "--no-save", action="store_true", help="do not keep this question and answer in the history"
    )
    ask.add_argument(
        "--trust-base-url", action="store_true",
        help="confirm the base URL config.toml gives this tier, so its key may go there",
    )  # fmt: skip
    ask.add_argument(
        "--truncate-stdin", action="store_true",
        help="stdin over 1 MiB: send its first 1 MiB (by default such input is refused)",
    )  # fmt: skip
    edits = ask.add_mutually_exclusive_group()
    edits.add_argument(
        "--diff", action="store_true",
        help="print the edits the answer proposes to @files as a unified diff (for git apply)",
    )  # fmt: skip
    edits.add_argument(
        "--apply", action="store_true",
        help="apply the edits the answer proposes to @files (undo with `rung undo`)",
    )  # fmt: skip
    ask.add_argument(
        "--allow-new", action="store_true",
        help="with --diff/--apply: the answer may also create new files",
    )  # fmt: skip
    ask.add_argument(
        "--allow-path", action="append", default=[], metavar="GLOB",
        help="with --diff/--apply: the answer may also change files matching GLOB (relative "
        "to this directory; repeatable); a file that runs code (hooks, CI, build scripts) "
        "must be named without wildcards",
    )  # fmt: skip
    _add_agent_options(ask)
    route = sub.add_parser(
        "route", help="which rung would answer a prompt (reads JSON lines when none given)"
    )
    route.add_argument("prompt", nargs="*", help='the prompt; omit to read {"prompt": ...} lines')
    route.add_argument("--json", action="store_true", help="print one JSON object")
    route.add_argument(
        "--ladder", metavar="KINDS", help="a ladder of tier kinds, e.g. local,api (no keys needed)"
    )
    route.add_argument("--quality", type=float, help="the quality dial, 0 (cheap) to 1 (careful)")
    route.add_argument(
        "--explain", action="store_true",
        help="show the trained model's score, what you taught it and each rung's expected cost",
    )  # fmt: skip
    route.add_argument(
        "--forget", action="store_true",
        help="forget what the router learned from your escalations (then exit)",
    )  # fmt: skip
    route.add_argument(
        "--no-lessons", action="store_true", help="route with the trained model alone"
    )
    route.add_argument(
        "--no-competence", action="store_true",
        help="ignore what each rung's model can do (rung calibrate); difficulty alone",
    )  # fmt: skip

    sessions = sub.add_parser(
        "sessions", help="list recent conversations (continue one with --resume ID)"
    )
    sessions.add_argument(
        "--json", action="store_true", help="every conversation with its messages, as JSON"
    )
    sessions.add_argument("--limit", type=int, default=20, help="how many (default 20)")

    undo = sub.add_parser("undo", help="undo the last edit Rung applied in this directory")
    undo_what = undo.add_mutually_exclusive_group()
    undo_what.add_argument("--redo", action="store_true", help="apply again what was undone")
    undo_what.add_argument("--list", action="store_true", help="list the applied edits")

    export = sub.add_parser("export", help="a conversation as Markdown (keys masked)")
    export.add_argument("id", nargs="?", type=int, help="conversation id (default: newest)")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    export.add_argument("--force", action="store_true", help="replace FILE if it exists")

    trust = sub.add_parser(
        "trust-host", help="let a provider's key go to the base URL your config gives it"
    )
    trust.add_argument("provider", help="the provider, e.g. anthropic")

    cost = sub.add_parser("cost", help="what you spent today, this week and all time")
    cost.add_argument("--json", action="store_true", help="print JSON")
    cost.add_argument(
        "--what-if", action="store_true",
        help="price your history again on every rung and on the reference model",
    )  # fmt: skip
    cost.add_argument(
        "--days", type=int, metavar="N", help="with --what-if: the last N days (default 30)"
    )

    compare = sub.add_parser(
        "compare",
        help="your prompts on several rungs: cost, speed, checks, what Auto would pay",
        description="Run each prompt on each rung and compare cost, speed and answers.",
    )
    compare.add_argument(
        "file", nargs="?",
        help='prompts: one a line, or JSON lines {"prompt": ..., "checks": {...}}; '
        '"-" or omitted: stdin',
    )  # fmt: skip
    compare.add_argument("--session", type=int, metavar="ID", help="prompts from conversation ID")
    compare.add_argument(
        "--last", type=int, default=10, metavar="N", help="with --session: its last N questions"
    )
    compare.add_argument(
        "--rungs", metavar="A,B", help="rungs to compare (default: every usable rung)"
    )
    compare.add_argument(
        "--concurrency", type=int, default=4, metavar="N",
        help="requests in flight at once (default 4; the local rung takes one at a time)",
    )  # fmt: skip
    compare.add_argument(
        "--max-cost", metavar="USD",
        help="refuse to start above this estimate; stop starting cells once it is spent",
    )  # fmt: skip
    compare.add_argument("--max-tokens", type=int, metavar="N", help="output limit per answer")
    compare.add_argument("--system", help="system prompt (default: the one in your config)")
    compare.add_argument("--answers", action="store_true", help="print every answer too")
    compare.add_argument("--no-save", action="store_true", help="do not store the run")
    compare_format = compare.add_mutually_exclusive_group()
    compare_format.add_argument("--json", action="store_true", help="print the run as JSON")
    compare_format.add_argument("--csv", action="store_true", help="one CSV row per cell")
    compare_format.add_argument("--markdown", action="store_true", help="a Markdown report")
    compare_which = compare.add_mutually_exclusive_group()
    compare_which.add_argument("--show", type=int, metavar="ID", help="print stored run ID")
    compare_which.add_argument("--list", action="store_true", help="list stored runs")

    mcp = sub.add_parser("mcp", help="MCP servers: list, test one, trust .mcp.json, store a key")
    mcp.add_argument("mcp_action", choices=("list", "test", "trust", "key"), metavar="ACTION",
                     help="list | test NAME | trust | key ENTRY")  # fmt: skip
    mcp.add_argument("name", nargs="?", metavar="NAME", help="the server (test) or key entry")
    mcp.add_argument("--json", action="store_true", help="print as JSON (list, test)")

    calibrate = sub.add_parser(
        "calibrate",
        help="measure what a rung's model gets right per task kind; Auto routes by it",
    )
    calibrate.add_argument("--rung", metavar="NAME", help="the rung to measure (default: local)")
    calibrate.add_argument("--set", metavar="FILE", help="labelled JSON lines (default: shipped)")
    calibrate.add_argument("--limit", type=int, metavar="N", help="only N prompts, across kinds")
    calibrate.add_argument(
        "--kinds", metavar="K1,K2", help="only these task kinds; the others keep their numbers"
    )
    calibrate.add_argument(
        "--max-tokens", type=int, default=64, metavar="N", help="output limit per answer"
    )
    calibrate.add_argument("--json", action="store_true", help="print the profile as JSON")

    models = sub.add_parser(
        "models", help="local models that suit this machine, what is on disk; pull one"
    )
    models.add_argument("--json", action="store_true", help="print the list as JSON")
    models_sub = models.add_subparsers(dest="models_command", metavar="ACTION")
    pull = models_sub.add_parser(
        "pull", help="download a GGUF model (resumable, checked against the hub's sha256)"
    )
    pull.add_argument(
        "name", metavar="NAME", help="a name from `rung models`, or OWNER/REPO/FILE.gguf"
    )
    pull.add_argument(
        "--set-local", action="store_true", help="make it the local rung's model (no question)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` asks for; its exit status.

    A reader that closes stdout early (`rung cost | head -1`) ends any command quietly
    with status 141, whichever print found it gone (rung.cli.pipes)."""
    from rung.cli import pipes

    try:
        try:
            code = _command(argv)
        finally:
            # Inside the try: what is still buffered meets a closed pipe here, not in the
            # interpreter's last flush (which would print "Exception ignored ...").
            sys.stdout.flush()
    except BrokenPipeError:
        pipes.silence_stdout()
        return pipes.CLOSED_STDOUT_EXIT
    return pipes.CLOSED_STDOUT_EXIT if pipes.stdout_closed() else code


def _command(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from rung.engine.config import load_config

    config = load_config(args.config)
    if args.command == "route":
        from rung.cli.route import run_route

        return run_route(args, config)
    if args.command == "sessions":
        from rung.cli.history import run_sessions

        return run_sessions(args.json, args.limit)
    if args.command == "undo":
        from rung.cli.undo import run_undo

        return run_undo(redo=args.redo, listing=args.list)
    if args.command == "export":
        from rung.cli.history import run_export

        return run_export(args.id, args.output, config, args.force)
    if args.command == "trust-host":
        from rung.cli.trust import run_trust_host

        return run_trust_host(args.provider, config)
    if args.command == "cost":
        if args.what_if or args.days is not None:
            from rung.cli.whatif import run_whatif
            from rung.engine.whatif import DEFAULT_DAYS

            if not args.what_if:
                parser.error("--days goes with --what-if")
            return run_whatif(config, args.days or DEFAULT_DAYS, args.json)
        from rung.cli.history import run_cost

        return run_cost(args.json)
    if args.command == "compare":
        from rung.cli.compare import run_compare

        return run_compare(args, config)
    if args.command == "models":
        from rung.cli.models import run_models

        return run_models(args, config)
    if args.command == "mcp":
        from rung.cli.mcp import run_mcp

        return run_mcp(args, config)
    if args.command == "calibrate":
        from rung.cli.calibrate import run_calibrate

        return run_calibrate(args, config)
    from rung.engine import crashlog
    from rung.engine.config import data_dir

    crashed = crashlog.previous_crash(data_dir())
    crashlog.enable(data_dir())
    if args.command == "ask":
        from rung.cli.ask import run_ask

        if crashed:
            print(f"rung: warning: {crashed}", file=sys.stderr)
        return run_ask(args, config)

    from rung.tiers.providers import PROVIDERS

    if args.tier and args.tier not in PROVIDERS:
        print(f"rung: Unknown tier {args.tier!r}. Known tiers: {', '.join(PROVIDERS)}.",
              file=sys.stderr)  # fmt: skip
        return 2
    resume_id = args.resume
    if args.continue_last or resume_id is not None:
        from rung.cli.history import find_session

        resume_id, problem = find_session(resume_id)
        if problem:
            print(f"rung: {problem}", file=sys.stderr)
            return 1
    from rung.tui.app import RungApp

    overrides = None  # the engine (build_tiers among it) is imported after the first frame
    if args.tier or args.model or args.base_url:
        from rung.engine.build_tiers import RungOverrides

        overrides = RungOverrides(args.tier, args.model, args.base_url)
    app = RungApp(config, overrides, resume_id)
    if crashed:
        app.startup_warnings.append(crashed)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
