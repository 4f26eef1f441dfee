"""The app's engine, built after the first frame: a mixin of RungApp.

Importing and building RungApp imports none of the engine (conversation, ladder, history
store, session, tiers): the chat screen is drawn first. Once it is (ChatScreen.on_mount),
``start_engine_soon`` imports the engine's modules on a thread and builds it on the
event loop when they are in; ``_engine_ready`` then shows the status and cost lines and
the start-up problems and starts the background work. A message sent before that waits
for it (``wait_for_engine``); anything else that needs the engine earlier builds it on
the spot (the ``ladder``, ``session`` and ``conversation`` properties).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TYPE_CHECKING, Any

from textual import work

from rung.engine.prices_update import start_price_updates
from rung.engine.safe_text import for_terminal

if TYPE_CHECKING:
    from rung.engine.build_tiers import RungOverrides
    from rung.engine.config import Config
    from rung.engine.conversation import ChatOptions, Conversation
    from rung.engine.ladder import Ladder
    from rung.engine.session import Session
    from rung.tiers.base import Tier
    from rung.tui.widgets.status import StatusView

AUTO = "auto"  # rung.engine.ladder.AUTO, without importing the engine for it
# The engine starts this long after the first frame (a message sent sooner starts it at
# once and waits for it): keys typed as the screen appears are drawn first. Started with
# the first frame, its imports (a thread, but they share the interpreter) and its build
# on the event loop held those keys back ~80 ms (bench/startup.py types at the first frame).
ENGINE_AFTER_FIRST_FRAME_S = 0.15


def import_engine() -> None:
    """The engine's modules, imported on a thread after the first frame (~70-90 ms of
    the main thread's time to interactive when imported before it, bench/startup.py)."""
    import rung.engine.build_tiers
    import rung.engine.conversation
    import rung.engine.session
    import rung.tiers.local  # noqa: F401 (the ladder builds the local tier)


def chat_options(config: Config) -> ChatOptions:
    from rung.engine.conversation import ChatOptions

    return ChatOptions(
        system=config.get("ui", "system_prompt") or None,
        max_tokens=config.get("ui", "max_tokens"),
        fallback=config.get("ladder", "fallback"),
    )


class EngineHost:
    """Mixed into RungApp (before App): the engine's life from the first frame on."""

    config: Config
    overrides: RungOverrides | None
    startup_warnings: list[str]
    active_name: str
    price_updater: Any
    theme_problems: list[str]

    def init_engine(self, overrides: RungOverrides | None, tiers: dict[str, Tier] | None) -> None:
        self.overrides = overrides
        self._reuse = tiers
        self._ladder: Ladder | None = None
        self._session: Session | None = None
        self._conversation: Conversation | None = None
        self._engine_imported: asyncio.Event | None = None  # set when start_engine's are in
        self._engine_shown = False  # _engine_ready ran
        self._first_status: StatusView | None = None  # the first frame's, before the engine
        self.startup_warnings = []  # the ladder's, a crash's (cli/main.py)

    @property
    def engine_built(self) -> bool:
        return self._conversation is not None

    @property
    def ladder(self) -> Ladder:
        if self._ladder is None:
            self._build_engine()
        return self._ladder  # type: ignore[return-value]

    @ladder.setter
    def ladder(self, ladder: Ladder) -> None:
        self._ladder = ladder

    @property
    def session(self) -> Session:
        if self._session is None:
            self._build_engine()
        return self._session  # type: ignore[return-value]

    @property
    def conversation(self) -> Conversation:
        if self._conversation is None:
            self._build_engine()
        return self._conversation  # type: ignore[return-value]

    @property
    def rung_names(self) -> list[str]:
        """The ladder's rungs; before the engine is built, the config's (what the key bar
        names the pin keys after in the first frame: the same unless a rung is unknown)."""
        if self._ladder is not None:
            return self._ladder.names
        from rung.tiers.providers import PROVIDERS

        tier = self.overrides.tier if self.overrides is not None else None
        if tier:
            return [tier]
        names = list(dict.fromkeys(self.config.get("ladder", "rungs"))) or ["local"]
        return [n for n in names if n in PROVIDERS] or ["local"]

    def _build_engine(self) -> None:
        """Ladder, history, conversation (~25 ms once the modules are imported)."""
        from rung.engine.build_tiers import RungOverrides
        from rung.engine.conversation import Conversation
        from rung.engine.ladder import Ladder
        from rung.engine.session import Session

        self.overrides = self.overrides or RungOverrides()
        ladder = Ladder(self.config, self.overrides, reuse=self._reuse)
        self.startup_warnings[:0] = [*ladder.problems, *ladder.build_all()]
        self._ladder = ladder
        self._session = Session(self.config, "tui")
        conversation = Conversation(ladder, self._session, chat_options(self.config))
        conversation.add_listener(self._on_engine_event)
        self._conversation = conversation
        self.active_name = ladder.mode if ladder.mode != AUTO else ladder.names[0]
        try:
            chat = self.get_screen("chat")
        except KeyError:
            return
        chat.conversation  # type: ignore[attr-defined]  # noqa: B018 (it listens from now)

    def start_engine_soon(self) -> None:
        """The chat screen is drawn: start the engine ENGINE_AFTER_FIRST_FRAME_S later
        (at once headless: tests and scripts read the state right after the start)."""
        if self.is_headless:
            self.start_engine()
        else:
            self.set_timer(ENGINE_AFTER_FIRST_FRAME_S, self.start_engine)

    def start_engine(self) -> None:
        """Import the engine on a thread (it yields the interpreter to key handling every
        few milliseconds), then build it on the event loop. A daemon thread: a quick
        Ctrl+Q does not wait for the imports."""
        if self._engine_imported is not None:
            return  # under way
        if self._conversation is not None:  # built on first use already
            self._engine_ready()
            return
        loop = asyncio.get_running_loop()
        imported = self._engine_imported = asyncio.Event()

        def run() -> None:
            try:
                import_engine()
            finally:
                with contextlib.suppress(RuntimeError):  # the app has ended meanwhile
                    loop.call_soon_threadsafe(imported.set)

        threading.Thread(target=run, name="rung-engine-import", daemon=True).start()
        self.engine_when_imported()

    @work(group="engine")
    async def engine_when_imported(self) -> None:
        await self.wait_for_engine()
        if self.is_running:  # not while quitting
            self._engine_ready()

    async def wait_for_engine(self) -> None:
        """The engine is built (after start_engine's imports, started now if the first
        frame has not started them yet)."""
        if self._conversation is None:
            self.start_engine()
            if self._engine_imported is not None:
                await self._engine_imported.wait()
        self.conversation  # noqa: B018 (builds it)

    def _engine_ready(self) -> None:
        """The engine is built: the status and cost lines, the start-up problems, and
        the background work that needs it (the local model's load among it)."""
        if self._engine_shown:
            return
        self._engine_shown = True
        self.session.note_pin(None if self.ladder.mode == AUTO else self.ladder.mode)
        if self._first_status is None or self.status is self._first_status:
            # Unless something said more meanwhile (a pin, a reply on its way).
            self.show_status(None if self.conversation.busy else self.idle_state())
        self.show_cost()
        with contextlib.suppress(KeyError):  # no chat screen: embedded differently
            if self.chat.is_mounted:  # else its on_mount calls it
                self.chat.engine_ready()
        self.refresh_bindings()
        for problem in self.session.problems():
            self.notify(for_terminal(problem), severity="warning", markup=False)
        for warning in self.startup_warnings:
            self.notify(for_terminal(warning), title="Rung", severity="warning", timeout=30,
                        markup=False)  # fmt: skip
        for problem in self.config.problems:
            self.notify(problem, title="Config", severity="warning", timeout=15, markup=False)
        if self.theme_problems:
            # One notification for all broken themes, not one per file.
            self.notify("\n".join(self.theme_problems), title="Theme", severity="warning",
                        timeout=15, markup=False)  # fmt: skip
        # llama.cpp and the model load on a worker thread; the rest is quick.
        self.load_local_models()
        self.check_health()
        self.call_after_refresh(self.warm_up)
        self.call_after_refresh(self.confirm_hosts)
        self.price_updater = start_price_updates(self.config)
        if self.price_updater is not None:
            self.watch_price_updates()
