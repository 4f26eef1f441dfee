"""What a newcomer hit in the first hour in the chat screen (issue 24 §3), each as a
regression test: the real app driven by Pilot at the sizes people use (80x24 most of
all), with scripted tiers, a real SQLite history and real files."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

from rung.engine.config import load_config
from rung.tiers.base import ChatRequest, Event, Finished, TextDelta, Usage
from rung.tui.app import RungApp
from rung.tui.compare_screen import CompareScreen
from rung.tui.help import HelpScreen
from rung.tui.sessions_screen import SessionsScreen
from rung.tui.widgets.messages import MessageList
from rung.tui.widgets.prompt import PromptInput
from rung.tui.widgets.status import StatusBar
from tests.competence_helpers import trust_local_model
from tests.conftest import wait_for
from tests.scripted import Script, ScriptedTier, anthropic, local
from tests.test_first_contact import app_with, ask


def screen_lines(app: RungApp) -> list[str]:
    """The terminal's text as a user sees it, line by line (from Textual's own SVG
    screenshot: every cell it would draw, styles dropped)."""
    svg = app.export_screenshot()
    cells: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in re.findall(
        r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg
    ):
        cells.setdefault(float(y), []).append((float(x), html.unescape(text)))
    return [
        "".join(t for _, t in sorted(row)).replace("\xa0", " ") for _, row in sorted(cells.items())
    ]


def screen_text(app: RungApp) -> str:
    return "\n".join(screen_lines(app))


def timed(name: str = "local", *, tokens_per_s: float = 42.0, ttft_s: float = 0.25) -> ScriptedTier:
    """A scripted rung whose replies report a speed, as real tiers do."""

    class Timed(ScriptedTier):
        async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
            self.requests.append(request)
            yield TextDelta("fast answer")
            yield Usage(10, 5)
            yield Finished(
                "stop",
                model=self.model,
                duration_s=0.5,
                output_tokens_per_s=tokens_per_s,
                time_to_first_token_s=ttft_s,
            )

    return Timed(name, "local", "local", "SmolLM2-135M-Instruct")


# -- 80x24: the key bar, F1, Ctrl+S, notifications ----------------------------------------
async def test_the_key_bar_shows_every_chat_key_at_80x24() -> None:
    app = app_with(local(), anthropic())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bottom = "\n".join(screen_lines(app)[-2:])
        for key in ("f1 Keys", "f2 local", "f8 Auto", "f9 Escalate", "f10 Review",
                    "esc Cancel", "f7 Costs", "f6 Settings", "^q Quit", "palette"):  # fmt: skip
            assert key in bottom, (key, bottom)


async def test_f1_scrolls_as_one_list_to_the_last_key_with_its_id_at_80x24() -> None:
    app = app_with(local(), anthropic())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await wait_for(lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        first = screen_text(app)
        assert "id" in first and "help" in first
        await pilot.press("pagedown", "pagedown", "pagedown")
        await pilot.pause()
        shown = screen_lines(app)
        # The last keys and their ids, each on one line with its key: readable and
        # remappable without Tab into an inner table.
        for key, ident in (("^q", "quit"), ("f12", "compare"), ("^s", "sessions"),
                           ("^b", "chat-options")):  # fmt: skip
            assert any(key in line and ident in line for line in shown), (key, shown)


async def test_ctrl_s_keeps_rung_cost_and_saved_in_view_at_80x24() -> None:
    app = app_with(local(), anthropic())
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(app, pilot, "a rather long first question about the many ways of "
                  "routing messages between rungs of a ladder", 1)  # fmt: skip
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, SessionsScreen))
        await pilot.pause()
        lines = screen_lines(app)
        header = next(line for line in lines if "title" in line and "msgs" in line)
        for column in ("#", "when", "title", "rungs", "msgs", "cost", "saved"):
            assert column in header, header
        row = next(line for line in lines if "a rather long" in line)
        # The rung that answered, the cost and the saving, on the row itself.
        assert app.chat.replies and re.search(r"(local|anthropic) +\d+ +\S*\$\S+ +\S*\$", row), row


async def test_notifications_leave_the_status_and_cost_lines_visible() -> None:
    app = app_with(local(), anthropic())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        before = screen_lines(app)
        status = next(line for line in before if "ready" in line)
        cost = next(line for line in before if "spent" in line)
        app.notify("Something worth a notification, long enough to be wide on screen.")
        await pilot.pause(0.3)
        after = screen_lines(app)
        assert any("Something" in line for line in after), after
        # The status and cost lines read the same with the notification up.
        assert status in after and cost in after, after


# -- sessions: search every question, Enter opens, the pin comes back ----------------------
async def test_session_search_finds_a_later_question_and_the_first_enter_opens_it() -> None:
    app = app_with(local(), anthropic())
    async with app.run_test(size=(120, 30)) as pilot:
        await ask(app, pilot, "how do I boil an egg", 1)
        await ask(app, pilot, "and what about 100%_rye bread", 2)
        wanted = app.session.session_id
        await pilot.press("ctrl+n")
        await ask(app, pilot, "something else entirely", 1)
        assert app.session.session_id != wanted
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, SessionsScreen))
        sessions = app.screen
        await pilot.press(*"rye")  # only in the second question of the first session
        await pilot.pause()
        assert [r.id for r in sessions.rows] == [wanted]
        await pilot.press("backspace", "backspace", "backspace", *"0%_")  # LIKE wildcards
        await pilot.pause()
        assert [r.id for r in sessions.rows] == [wanted]
        await pilot.press("enter")  # the first Enter opens the match
        await wait_for(lambda: app.session.session_id == wanted)
        assert not isinstance(app.screen, SessionsScreen)


async def test_a_resumed_conversation_keeps_its_pinned_rung() -> None:
    trust_local_model()  # see tests/competence_helpers.py
    first = app_with(local(), anthropic())
    async with first.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")  # pin anthropic
        await ask(first, pilot, "pinned question", 1)
        assert first.session.session_id is not None
        session_id = first.session.session_id
    config = first.config
    app = RungApp(config, resume=session_id, tiers={"local": local(), "anthropic": anthropic()})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.ladder.mode == "anthropic")
        bar = app.chat.query_one(StatusBar)
        await wait_for(lambda: bar.tier == "anthropic")
        assert "Pinned" in str(bar.render())
        await ask(app, pilot, "and again", 1)
        assert app.conversation.last_tier == "anthropic"


# -- the status line's speed belongs to the rung it names -----------------------------------
async def test_pinning_another_rung_drops_the_previous_rungs_speed() -> None:
    app = app_with(timed("local"), anthropic(), mode="local")
    async with app.run_test(size=(120, 30)) as pilot:
        await ask(app, pilot, "quick one", 1)
        bar = app.chat.query_one(StatusBar)
        assert "42.0 tok/s" in str(bar.render())
        await pilot.press("f3")
        await pilot.pause()
        line = str(bar.render())
        assert "anthropic" in line and "tok/s" not in line and "TTFT" not in line
        await pilot.press("f2")  # back on local: its own last figures again
        await pilot.pause()
        assert "42.0 tok/s" in str(bar.render())


# -- @path completion: a directory goes on, a file ends like in a shell --------------------
async def test_tab_on_a_directory_adds_no_space_and_offers_its_files(tmp_path, monkeypatch) -> None:
    (tmp_path / "src" / "rung").mkdir(parents=True)
    (tmp_path / "src" / "rung" / "ladder.py").write_text("x = 1\n")
    (tmp_path / "src" / "rung" / "router.py").write_text("y = 2\n")
    (tmp_path / "setup.cfg").write_text("[x]\n")
    monkeypatch.chdir(tmp_path)
    app = app_with(local())
    async with app.run_test(size=(100, 30)) as pilot:
        prompt = app.chat.query_one(PromptInput)
        await pilot.press(*"look at @s")
        await pilot.pause()
        assert prompt.completing
        await pilot.press("tab")  # the first choice: the directory
        await pilot.pause()
        assert prompt.text == "look at @src/"
        await pilot.press(*"rung/la")
        await pilot.pause()
        await pilot.press("tab")
        assert prompt.text == "look at @src/rung/ladder.py "  # a file: a space, as a shell


# -- PageUp while typing ---------------------------------------------------------------------
async def test_page_up_and_down_while_typing_scroll_the_messages() -> None:
    long = "\n\n".join(f"Paragraph {i} of a long answer." for i in range(60))
    app = app_with(local(Script(pieces=[long])))
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(app, pilot, "tell me a lot", 1)
        messages = app.chat.query_one(MessageList)
        prompt = app.chat.query_one(PromptInput)
        await wait_for(lambda: messages.max_scroll_y > 20 and messages.scroll_y > 0)
        await pilot.pause()
        await pilot.press(*"half typed")
        bottom = messages.scroll_y
        await pilot.press("pageup")
        await pilot.pause()
        assert messages.scroll_y < bottom
        assert app.focused is prompt and prompt.text == "half typed"
        up = messages.scroll_y
        await pilot.press("pagedown")
        await pilot.pause()
        assert messages.scroll_y > up and app.focused is prompt


# -- time to first token: measured for a regenerate and an escalation as for a send ---------
async def test_regenerate_and_escalate_show_a_measured_time_to_first_token() -> None:
    class SaysZero(ScriptedTier):
        """Its own clock says 0.00 s, as a tier's did for an all-cached prompt."""

        async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
            await asyncio.sleep(0.2)  # the first token takes this long to come
            yield TextDelta("answer")
            yield Usage(10, 5)
            yield Finished("stop", model=self.model, duration_s=0.3, time_to_first_token_s=0.0)

    app = app_with(
        SaysZero("local", "local", "local", "SmolLM2"),
        SaysZero("anthropic", "api", "anthropic", "claude-sonnet-4-5"),
        mode="local",
    )
    async with app.run_test(size=(120, 30)) as pilot:
        bar = app.chat.query_one(StatusBar)
        for key in ("enter", "ctrl+g", "f9"):  # send, regenerate, escalate
            done = len(app.chat.replies)
            if key == "enter":
                await pilot.press(*"question")
            await pilot.press(key)
            await wait_for(lambda n=done: len(app.chat.replies) > n and not app.chat.busy)
            await pilot.pause()
            ttft = bar.ttft_s
            assert ttft is not None and 0.15 <= ttft < 5, (key, ttft, str(bar.render()))


# -- an answer cut at the output limit says so, and what to do -------------------------------
async def test_a_reply_cut_at_the_token_limit_says_so_under_it() -> None:
    app = app_with(local(Script(pieces=["The cat was"], usage=Usage(20, 2048), finish="length")))
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(app, pilot, "a long story please", 1)
        item = app.chat.query_one(MessageList).assistant_items()[-1]
        await pilot.pause()
        note = item.shelved().note
        assert "2,048-token limit" in note and "Ctrl+B" in note, note
        assert "2,048-token limit" in screen_text(app)  # drawn under the reply


# -- one label for GPU-time prices: header, F7 and the cost line ------------------------------
async def test_a_gpu_time_price_is_an_estimate_in_the_header_f7_and_the_meter(
    tmp_path: Path,
) -> None:
    from textual.widgets import DataTable

    from rung.tui.cost_screen import CostScreen
    from rung.tui.widgets.meter import CostBar

    config = load_config()
    config.set("ladder", "rungs", ["selfhosted"])
    config.set("selfhosted", "gpu_usd_per_hour", "36")  # a cent a second of GPU
    tier = ScriptedTier("selfhosted", "selfhosted", "selfhosted", "qwen", [Script(["ok"])])
    app = RungApp(config, tiers={"selfhosted": tier})
    async with app.run_test(size=(160, 30)) as pilot:
        await ask(app, pilot, "hi", 1)
        await pilot.pause()
        item = app.chat.query_one(MessageList).assistant_items()[-1]
        header = str(item.query_one(".meta").render())
        assert "~$" in header and "estimated from GPU time" in header, header
        assert str(app.chat.query_one(CostBar).render()).startswith("spent ~$")
        await pilot.press("f7")
        await wait_for(lambda: isinstance(app.screen, CostScreen))
        table = app.screen.query_one(DataTable)
        row = [str(cell) for cell in table.get_row_at(0)]
        assert any(cell.startswith("~$") for cell in row), row
        assert any(cell.startswith("estimated from GPU time") for cell in row), row
        assert not any(cell.startswith("exact") for cell in row), row
    # The same label in `rung cost` and an export, once the chat is closed.
    from tests.test_cli import rung

    cost = rung(tmp_path, "cost")
    assert cost.returncode == 0 and "1 estimated" in cost.stdout, cost.stdout
    export = rung(tmp_path, "export")
    assert export.returncode == 0, export.stderr
    assert "~$" in export.stdout and "estimated from GPU time" in export.stdout, export.stdout


# -- the compare screen's hint says what happens -------------------------------------------
async def test_the_compare_hint_does_not_ask_for_enter_when_it_asks_by_itself() -> None:
    hold = asyncio.Event()
    app = app_with(
        local(Script(pieces=["a"], hold=hold)), anthropic(Script(pieces=["b"], hold=hold))
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press(*"what is two and two", "f12")
        await wait_for(lambda: isinstance(app.screen, CompareScreen))
        await pilot.pause()
        hint = str(app.screen.query_one("#compare-hint").render())
        assert "Enter asks" not in hint and "Asking" in hint, hint
        hold.set()


# -- quitting: nothing waits for a model still loading ------------------------------------------
def test_awaiting_a_model_load_does_not_hold_back_the_end_of_the_event_loop() -> None:
    """The app awaits the local model's load; quitting ends its event loop, and the end of
    asyncio.run joins the executor's threads. A thread blocked on the load held a quick
    Ctrl+Q back until the model had loaded (bench/startup.py: 3x the floor's exit)."""
    from rung.tiers.local import LocalTier

    tier = LocalTier(n_ctx=512)  # the product's own AMX-safe load decision

    async def start_then_quit() -> None:
        waiting = asyncio.ensure_future(tier.load())
        await asyncio.sleep(0.01)
        waiting.cancel()

    try:
        asyncio.run(start_then_quit())
        assert not tier.ready  # the loop ended while llama.cpp was still loading
    finally:
        tier.close()  # joined: this process goes on
    assert tier.ready, tier.load_error


def test_ctrl_q_right_after_start_leaves_cleanly_while_the_model_loads(tmp_path) -> None:
    """The real `rung` in a pseudo-terminal, quit at its first frame (the local model
    still loading): the process ends at once, status 0, the terminal given back (the
    alternate screen left), no traceback and no crash log."""
    import fcntl
    import os
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time

    from tests.conftest import subprocess_env

    env = subprocess_env(tmp_path, TERM="xterm-256color")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rung"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    os.close(slave)
    out, quit_at = b"", None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
            if quit_at is None and b"Ask anything" in out:
                os.write(master, b"\x11")  # Ctrl+Q
                quit_at = time.monotonic()
        assert quit_at is not None, out[-500:]
        assert proc.wait(timeout=30) == 0
        took = time.monotonic() - quit_at
        while select.select([master], [], [], 0.2)[0]:  # what it wrote last
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"\x1b[?1049l" in out  # the alternate screen was left: the terminal is back
    assert b"Traceback" not in out and b"Segmentation" not in out
    crash = tmp_path / "data" / "rung" / "crash.log"
    assert not crash.exists() or crash.stat().st_size == 0
    assert took < 10, took
