"""What starting Rung imports (issue 24: time to interactive within 1.3x a bare Textual app).

Each check runs in a fresh interpreter, so what other tests imported does not count.
The modules named here cost the chat screen's first frame tens of milliseconds each
(bench/startup.py, docs/PERFORMANCE.md) and are needed only later: the router, its
signals, competence and the task kinds with the first Auto decision (warmed on a thread
after the first frame), the agent and the edits library with their first use, httpx
with a remote rung, llama.cpp when the local model loads in the background,
importlib.metadata for --version only."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import subprocess_env

# Needed later, never for the first frame, `rung --help`, `rung ask` or `rung route`.
AFTER_START = (
    "rung.tiers.router",
    "rung.tiers.router_features",
    "rung.tiers.competence",
    "rung.tiers.task_kind",
    "rung.engine.agent.loop",
    "rung.engine.edits",
    "httpx",
    "llama_cpp",
    "importlib.metadata",
    "markdown_it",
    "keyring",
    "genai_prices",
)


def imported_after(tmp_path: Path, code: str, watch: tuple[str, ...]) -> list[str]:
    """Which of ``watch`` are in sys.modules once ``code`` ran in a fresh interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        print(json.dumps(sorted(m for m in {list(watch)!r} if m in sys.modules)))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(tmp_path),
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_chat_app_is_built_without_the_router_the_agent_or_network_libraries(
    tmp_path: Path,
) -> None:
    # What `rung` does before its first frame: parse the command line, read the
    # config, import the app and build it (ladder, lessons, tiers, history, engine).
    found = imported_after(
        tmp_path,
        """
        from rung.cli.main import build_parser
        build_parser().parse_args([])
        from rung.engine.config import load_config
        from rung.tui.app import RungApp
        app = RungApp(load_config(None))
        assert app.ladder.names == ["local"] and app.conversation is not None
        """,
        AFTER_START,
    )
    assert found == []


def test_rung_help_imports_no_engine_and_no_package_metadata(tmp_path: Path) -> None:
    found = imported_after(
        tmp_path,
        """
        import contextlib, io
        from rung.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
            main(["--help"])
        assert "usage: rung" in out.getvalue()
        """,
        ("importlib.metadata", "textual", "rung.engine.config", "rung.tiers.base"),
    )
    assert found == []


def test_rung_version_still_says_the_installed_version(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "rung", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(tmp_path),
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr
    from importlib.metadata import version

    assert run.stdout == f"rung {version('rung')}\n"


def test_rung_ask_imports_no_screen_and_no_edits_library(tmp_path: Path) -> None:
    # The edits library is for --diff and --apply (and replies about attached files).
    found = imported_after(
        tmp_path,
        "import rung.cli.ask",
        ("textual", "rung.tui.app", "rung.engine.edits", "rung.engine.workspace", "httpx"),
    )
    assert found == []


def test_rung_route_builds_no_tier_and_imports_no_screen(tmp_path: Path) -> None:
    # `rung route` reads files and keys only: no model load, no connection, so neither
    # the local tier (with asyncio under it) nor httpx nor the chat screen.
    found = imported_after(
        tmp_path,
        """
        import contextlib, io, json
        from rung.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(["route", "--json", "hello there"]) == 0
        assert json.loads(out.getvalue())["tier"] == "local"
        """,
        ("textual", "rung.tiers.local", "asyncio", "httpx", "llama_cpp"),
    )
    assert found == []


def test_the_router_is_warmed_after_the_first_frame_not_on_the_first_message(
    tmp_path: Path,
) -> None:
    # Deferred from the start, the router must not land on the first message instead:
    # the app imports it on a thread once the screen is up, while the user types.
    config = tmp_path / "config" / "rung" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[ladder]\nrungs = ["deepseek"]\n')  # no model to load in a test
    found = imported_after(
        tmp_path,
        """
        import asyncio, sys
        from rung.engine.config import load_config
        from rung.tui.app import RungApp

        async def main():
            app = RungApp(load_config(None))
            assert "rung.tiers.router" not in sys.modules, "imported before the first frame"
            async with app.run_test() as pilot:
                for _ in range(200):
                    if "rung.tiers.router" in sys.modules and "rung.tiers.turn" in sys.modules:
                        break
                    await pilot.pause(0.05)
                await pilot.press("h", "i")
                assert app.chat.query_one("#prompt").text == "hi"

        asyncio.run(main())
        """,
        ("rung.tiers.router", "rung.tiers.competence", "rung.tiers.task_kind", "rung.tiers.turn"),
    )
    assert found == ["rung.tiers.competence", "rung.tiers.router", "rung.tiers.task_kind",
                     "rung.tiers.turn"]  # fmt: skip


# The engine: imported on a thread after the first frame, built when it is in.
ENGINE = (
    "rung.engine.conversation",
    "rung.engine.store",
    "rung.engine.session",
    "rung.engine.ladder",
    "rung.engine.build_tiers",
    "rung.tiers.local",
    "rung.tiers.base",  # the tiers' types (14 dataclasses, ~15 ms)
    "sqlite3",
)


def test_the_chat_screen_is_drawn_before_the_engine_is_imported(tmp_path: Path) -> None:
    # What `rung` does up to its first frame: parse the command line, read the config,
    # import and build the app, draw the chat screen. The engine (conversation, ladder,
    # history, tiers) comes after, off the event loop, while the prompt takes keys.
    config = tmp_path / "config" / "rung" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[ladder]\nrungs = ["deepseek"]\n')  # no model to load in a test
    found = imported_after(
        tmp_path,
        f"""
        import asyncio, sys
        from rung.cli.main import build_parser
        build_parser().parse_args([])
        from rung.engine.config import load_config
        from rung.tui.app import RungApp

        ENGINE = {list(ENGINE)!r}
        app = RungApp(load_config(None))
        early = [m for m in ENGINE if m in sys.modules]
        assert early == [], f"imported with the app: {{early}}"

        async def main():
            async with app.run_test() as pilot:
                # The first frame: the chat screen, the prompt focused, the status line
                # on the configured rung, the key bar naming it.
                first = [m for m in ENGINE if m in sys.modules]
                chat = app.chat
                assert chat.query_one("#prompt").has_focus
                assert chat.query_one("#status").tier == "deepseek"
                assert "deepseek" in str(chat.query_one("#keys").render())
                await pilot.press("h", "i")
                assert chat.query_one("#prompt").text == "hi"
                for _ in range(200):
                    if app.status.state != "starting":
                        break
                    await pilot.pause(0.05)
                # The engine's word replaces it: here, the rung's missing key.
                assert app.status.state == "no API key", app.status
                assert app.status.model not in ("", "…"), app.status
                print("at first frame:", first, file=sys.stderr)

        asyncio.run(main())
        """,
        ENGINE,
    )
    assert set(found) == set(ENGINE)  # all in by the time the status says more


async def test_a_message_sent_before_the_engine_is_built_waits_and_is_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    import threading

    from rung.engine.config import load_config
    from rung.tui import app_engine as app_module
    from rung.tui.app import RungApp
    from rung.tui.widgets.messages import MessageList
    from tests.conftest import wait_for
    from tests.scripted import Script, anthropic, local

    # The engine's imports held back until the message is sent (on a slow disk or a busy
    # box they can take a while): it must wait for them, not fail or vanish.
    release = threading.Event()
    real_import = app_module.import_engine

    def slow_import() -> None:
        release.wait(20)
        real_import()

    monkeypatch.setattr(app_module, "import_engine", slow_import)
    config = load_config()
    config.set("ladder", "rungs", ["local", "anthropic"])
    config.set("ladder", "mode", "anthropic")
    answer = Script(pieces=["Hello", " from the engine."])
    app = RungApp(config, tiers={"local": local(), "anthropic": anthropic(answer)})  # type: ignore[arg-type]
    async with app.run_test() as pilot:
        chat = app.chat
        assert chat.query_one("#status").state == "starting"
        await pilot.press("h", "i")
        assert chat.query_one("#prompt").text == "hi"
        # Pilot's press waits for the screen to be idle: this one waits for the engine.
        enter = asyncio.create_task(pilot.press("enter"))
        await asyncio.sleep(0.5)
        assert not enter.done()
        assert not app.engine_built, "the engine was built on the event loop, not waited for"
        assert chat.query_one("#prompt").text == "hi"  # still there, not lost
        release.set()
        await asyncio.wait_for(enter, 20)
        messages = chat.query_one(MessageList)
        await wait_for(lambda: len(chat.replies) == 1 and not chat.busy)
        assert [item.text for item in messages.assistant_items()] == ["Hello from the engine."]
        assert chat.query_one("#prompt").text == ""
        assert app.status.tier == "anthropic" and app.status.state == "ready"
