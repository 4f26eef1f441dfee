"""Launch to interactive: the real `rung` in a pseudo-terminal against the floor for
any Textual app here (one TextArea, launched the same way), alternating, N times each.

For each launch the clock starts just before the process is spawned. The screen's
output stream is read as the terminal would get it, escape sequences removed:

- first frame: the prompt's placeholder is drawn (the screen is up, the prompt focused);
- interactive: at that moment three keys are typed, and the time they are drawn in
  the prompt is taken (the app reads and handles input, it is not busy elsewhere).

Then Ctrl+Q quits (the local model may still be loading: that is the point, it loads
in the background), timed to the process gone (the shell prompt back); both the time to
interactive and the time to exit are printed as ratios to the floor's (target <= 1.3x).
Every run uses the same isolated XDG directories (a first, unmeasured launch per side
warms the disk cache, the local model's probe cache and Python's bytecode cache, as a
user's second launch would find them: PYTHONDONTWRITEBYTECODE is dropped for the
launches, since an installed package has its bytecode and Textual's is there already).

Also printed: the CPU time the main thread had used when it was interactive (from
/proc), and its ratio: the work on the way to the first keys drawn. On a box other
work keeps busy the wall times stretch with the load, this much less (it leaves out
the background threads: the local model's load, the warm-up imports).

Also printed: `python -X importtime` top offenders for what is imported before the
app is constructed (`rung.cli.main` and `rung.tui.app`).

    python bench/startup.py [-n 10] [--ladder local,openai] [--no-importtime]
    python bench/startup.py --resume-messages 200   # also: a 200-message --resume
                                                    # (first frame = its last answer drawn)
    git archive HEAD~3 | tar -x -C /tmp/before
    python bench/startup.py --tree /tmp/before      # also: that source tree, alternating
                                                    # in the same run (an A/B on one load)
"""

from __future__ import annotations

import argparse
import fcntl
import os
import platform
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ROWS, COLS = 40, 120
# CSI, OSC, DCS and two-byte escapes: what remains is the text drawn on screen.
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP[^\x1b]*\x1b\\|\x1b[@-Z\\-_=>]"
)
RUNG_PLACEHOLDER = "Ask anything"
REF_PLACEHOLDER = "Ask anything"
TYPED = "zqj"

REFERENCE_APP = textwrap.dedent(
    '''
    from textual.app import App
    from textual.widgets import TextArea


    class Floor(App):
        """The least a Textual chat prompt costs: one focused TextArea."""

        def compose(self):
            area = TextArea()
            area.placeholder = "Ask anything (reference)"
            yield area


    Floor().run()
    '''
)


@dataclass
class Launch:
    first_frame: float | None  # s from spawn to the placeholder drawn
    interactive: float | None  # s from spawn to the typed keys drawn
    quit_s: float | None  # s from Ctrl+Q to the process gone
    error: str = ""
    cpu_s: float | None = None  # main thread's CPU time by the time it was interactive


def main_thread_cpu(pid: int) -> float | None:
    """CPU seconds a process's main thread has run (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def isolated_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEXTUAL", "RUNG_"))}
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        path = root / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = str(path)
    env.update(TERM="xterm-256color", COLORTERM="truecolor", LINES=str(ROWS), COLUMNS=str(COLS))
    # No provider keys from the caller's environment leak into the measured runs.
    for key in list(env):
        if key.endswith("_API_KEY"):
            del env[key]
    # A user's installed Rung has its bytecode (pip compiles it, as it did Textual's): a
    # sandbox's PYTHONDONTWRITEBYTECODE=1 made every launch compile Rung's ~70 modules
    # again (~120 ms) while the floor's Textual loaded from its cache.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# Runs `python -m rung` from another source tree (``--tree``): the editable install's
# finder maps the rung packages to this checkout; the shim points it at the tree.
TREE_SHIM = textwrap.dedent(
    """
    import runpy, sys
    root, tree = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    for finder in sys.meta_path:
        mapping = getattr(sys.modules.get(getattr(finder, "__module__", "")), "MAPPING", None)
        if isinstance(mapping, dict) and "rung" in mapping:
            for name, path in mapping.items():
                mapping[name] = path.replace(root, tree, 1)
    runpy.run_module("rung", run_name="__main__", alter_sys=True)
    """
)


def launch(argv: list[str], env: dict[str, str], placeholder: str, timeout: float = 20.0) -> Launch:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=env.get("BENCH_CWD"),
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    raw = b""
    first = interactive = quit_s = cpu_s = None
    quit_at = 0.0
    error = ""
    try:
        while True:
            now = time.perf_counter()
            if now - started > timeout:
                error = "timed out"
                break
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            at = time.perf_counter()
            raw += chunk
            if first is None:
                text = ANSI.sub("", raw.decode("utf-8", "replace"))
                if placeholder in text:
                    first = at - started
                    os.write(master, TYPED.encode())
                    raw = b""
            elif interactive is None:
                text = ANSI.sub("", raw.decode("utf-8", "replace"))
                if TYPED in text:
                    interactive = at - started
                    cpu_s = main_thread_cpu(proc.pid)
                    os.write(master, b"\x11")  # Ctrl+Q
                    quit_at = at
            elif proc.poll() is not None:
                break
        if quit_at:
            try:
                proc.wait(timeout=30)
                quit_s = time.perf_counter() - quit_at
            except subprocess.TimeoutExpired:
                error = error or "did not quit"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    if first is None and not error:
        error = "no prompt drawn: " + ANSI.sub("", raw.decode("utf-8", "replace"))[-300:]
    return Launch(first, interactive, quit_s, error, cpu_s)


def summary(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def fmt_ms(values: list[float]) -> str:
    lo, mid, hi = summary(values)
    return f"{lo * 1000:7.0f} {mid * 1000:7.0f} {hi * 1000:7.0f}"


def importtime(env: dict[str, str], top: int = 15) -> None:
    code = "import rung.cli.main, rung.tui.app"
    run = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True
    )
    rows = []
    for line in run.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2, m.group(4)))
    total = sum(r[0] for r in rows)
    print(f"\n== python -X importtime -c {code!r}: {total / 1000:.0f} ms in {len(rows)} modules")
    print("largest self times (ms):")
    for own, cum, _, name in sorted(rows, reverse=True)[:top]:
        print(f"  {own / 1000:6.1f}  (cumulative {cum / 1000:6.1f})  {name}")
    print("rung modules by cumulative time (ms):")
    ours = sorted((r for r in rows if r[3].startswith("rung")), key=lambda r: -r[1])
    for own, cum, _, name in ours[:top]:
        print(f"  {cum / 1000:6.1f}  (self {own / 1000:5.1f})  {name}")
    heavy = (
        "textual",
        "httpx",
        "keyring",
        "genai_prices",
        "llama_cpp",
        "numpy",
        "markdown_it",
        "sqlite3",
        "tomli_w",
        "pydantic",
        "platformdirs",
        "decimal",
        "rich",
    )
    print("third-party packages imported (cumulative ms, top level):")
    seen = {}
    for _own, cum, _, name in rows:
        head = name.split(".")[0]
        if head in heavy and name == head:
            seen[head] = cum
    for head in heavy:
        print(
            f"  {head:14s} {seen[head] / 1000:6.1f}"
            if head in seen
            else f"  {head:14s}   not imported"
        )


def seed_long_session(env: dict[str, str], messages: int) -> int:
    """A stored conversation of ``messages`` messages (questions and Markdown answers)."""
    code = textwrap.dedent(
        f"""
        from decimal import Decimal
        from rung.engine.config import data_dir
        from rung.engine.store import open_store
        from rung.tiers.base import Usage
        from rung.tiers.meter import MessageCost
        from rung.tiers.pricing import Cost
        from datetime import datetime, UTC
        store = open_store(data_dir())
        sid = store.start_session("tui")
        answer = ("Here is **how** it works:\\n\\n- first point with `code`\\n- second point\\n\\n"
                  "```python\\ndef f(x):\\n    return x * 2\\n```\\n\\nAnd a closing paragraph "
                  "that runs on for a while so the text wraps over a couple of lines. ") * 2
        for i in range({messages} // 2):
            store.add_user_message(sid, f"Question number {{i}}: how does item {{i}} work?")
            row = store.begin_reply(sid, "local", "local", "local", "SmolLM2", "quick")
            usage = Usage(input_tokens=100, output_tokens=120)
            record = MessageCost(tier="local", kind="local", provider="local", model="SmolLM2",
                usage=usage, cost=Cost(Decimal(0), True, "local"),
                reference=Cost(Decimal("0.001"), True, "genai-prices"),
                when=datetime.now(UTC), busy_s=1.0, finish_reason="stop")
            store.update_reply(row, f"Answer {{i}}. " + answer, record, final=True)
        print(sid)
        """
    )
    run = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(run.stderr)
    return int(run.stdout.strip().splitlines()[-1])


def run_side(
    name: str,
    argv: list[str],
    env: dict[str, str],
    placeholder: str,
    results: dict[str, list[Launch]],
) -> None:
    got = launch(argv, env, placeholder)
    results.setdefault(name, []).append(got)
    if got.error:
        print(f"  {name}: {got.error}", file=sys.stderr)


TARGET_RATIO = 1.3  # time to interactive and Ctrl+Q to exit, against the floor's


def report(results: dict[str, list[Launch]], reference: str) -> None:
    print(f"\n{'':36s}{'min':>7s} {'median':>7s} {'max':>7s}  (ms)")
    medians: dict[str, tuple[float, float, float | None, float | None]] = {}
    for name, runs in results.items():
        ok = [r for r in runs if r.first_frame is not None and r.interactive is not None]
        if not ok:
            print(f"{name}: no successful run")
            continue
        firsts = [r.first_frame for r in ok]
        inter = [r.interactive for r in ok]
        quits = [r.quit_s for r in ok if r.quit_s is not None]
        cpus = [r.cpu_s for r in ok if r.cpu_s is not None]
        print(f"{name + ' first frame':36s}{fmt_ms(firsts)}   ({len(ok)}/{len(runs)} runs)")
        print(f"{name + ' interactive':36s}{fmt_ms(inter)}")
        if cpus:
            print(f"{name + ' CPU, main thread':36s}{fmt_ms(cpus)}")
        if quits:
            print(f"{name + ' Ctrl+Q to exit':36s}{fmt_ms(quits)}")
        quit_median = statistics.median(quits) if quits else None
        cpu_median = statistics.median(cpus) if cpus else None
        medians[name] = (
            statistics.median(firsts),
            statistics.median(inter),
            quit_median,
            cpu_median,
        )
    ref = medians.get(reference)
    if ref is None:
        return
    for name, (first, inter, quit_s, cpu_s) in medians.items():
        if name == reference:
            continue
        ratios = [f"first frame {first / ref[0]:.2f}x", f"interactive {inter / ref[1]:.2f}x"]
        if cpu_s is not None and ref[3]:
            ratios.append(f"main-thread CPU {cpu_s / ref[3]:.2f}x")
        met = [inter / ref[1] <= TARGET_RATIO]
        if quit_s is not None and ref[2]:
            ratios.append(f"Ctrl+Q to exit {quit_s / ref[2]:.2f}x")
            met.append(quit_s / ref[2] <= TARGET_RATIO)
        print(
            f"ratio {name}/{reference}: {', '.join(ratios)} "
            f"(target interactive and exit <= {TARGET_RATIO}x: {'met' if all(met) else 'NOT met'});"
            f" {name} median interactive {inter * 1000:.0f} ms"
            + (f", exit {quit_s * 1000:.0f} ms" if quit_s is not None else "")
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10, help="launches per side (default 10)")
    parser.add_argument("--ladder", help="rungs for the isolated config, e.g. local,openai")
    parser.add_argument("--no-importtime", action="store_true")
    parser.add_argument("--tree", type=Path, help="also launch Rung from this source tree")
    parser.add_argument(
        "--resume-messages",
        type=int,
        default=0,
        help="also launch `rung --resume ID` on a session of this many messages",
    )
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}; "
        f"terminal {COLS}x{ROWS}; {args.n} launches per side, alternating"
    )
    with tempfile.TemporaryDirectory(prefix="rung-startup-") as tmp:
        env = isolated_env(Path(tmp))
        cwd = Path(tmp) / "work"
        cwd.mkdir()
        env["BENCH_CWD"] = str(cwd)
        if args.ladder:
            config = Path(env["XDG_CONFIG_HOME"]) / "rung" / "config.toml"
            config.parent.mkdir(parents=True, exist_ok=True)
            rungs = ", ".join(f'"{r}"' for r in args.ladder.split(","))
            config.write_text(f"[ladder]\nrungs = [{rungs}]\n")
        ref_script = Path(tmp) / "floor.py"
        ref_script.write_text(REFERENCE_APP)
        sides = {
            "textual floor": ([PYTHON, str(ref_script)], REF_PLACEHOLDER),
            "rung": ([PYTHON, "-m", "rung"], RUNG_PLACEHOLDER),
        }
        if args.tree:
            shim = Path(tmp) / "tree_shim.py"
            shim.write_text(TREE_SHIM)
            tree = str(args.tree.resolve())
            sides[f"rung ({args.tree.name})"] = (
                [PYTHON, str(shim), str(ROOT), tree], RUNG_PLACEHOLDER,
            )  # fmt: skip
        if args.resume_messages:
            sid = seed_long_session(env, args.resume_messages)
            # Its "first frame" is the last stored answer drawn: the whole conversation
            # is on screen (the view follows the end), not just the empty prompt.
            sides[f"rung --resume ({args.resume_messages} msgs)"] = (
                [PYTHON, "-m", "rung", "--resume", str(sid)],
                f"Answer {args.resume_messages // 2 - 1}.",
            )
            if args.tree:
                sides[f"rung ({args.tree.name}) --resume"] = (
                    [PYTHON, str(shim), str(ROOT), tree, "--resume", str(sid)],
                    f"Answer {args.resume_messages // 2 - 1}.",
                )
        for name, (argv, placeholder) in sides.items():  # warm-up, not counted
            run_side(name, argv, env, placeholder, {})
        results: dict[str, list[Launch]] = {}
        for _ in range(args.n):
            for name, (argv, placeholder) in sides.items():
                run_side(name, argv, env, placeholder, results)
        report(results, "textual floor")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        if not args.no_importtime:
            importtime(env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
