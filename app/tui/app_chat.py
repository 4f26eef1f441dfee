"""What the chat screen asks of the app, a mixin of RungApp: the conversation's options,
another stored conversation (the sessions list), and the status and cost lines again
after a new chat, a comparison or a resumed session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rung.tui.app_engine import AUTO
from rung.tui.chat import ChatScreen

if TYPE_CHECKING:
    from rung.engine.config import Config
    from rung.tui.chat_options import ChatChoice
    from rung.tui.sessions_screen import OpenSession


class ChatHost:
    """Mixed into RungApp (before App): the chat screen's messages up to the app."""

    config: Config

    @property
    def chat(self) -> ChatScreen:
        return self.get_screen("chat")  # type: ignore[return-value]

    def on_chat_screen_options_wanted(self) -> None:
        from rung.tui.chat_options import ChatOptionsScreen

        self.push_screen(
            ChatOptionsScreen(self.conversation.options, self.active_tier), self._options_chosen
        )

    def _options_chosen(self, choice: ChatChoice | None) -> None:
        if choice is None:
            return
        self.conversation.options = choice.options
        if choice.model:
            self.ladder.use_model(self.active_name, choice.model)
            self.show_status()
        self.notify("Options set for this conversation.")

    def on_chat_screen_compared(self) -> None:
        self.show_cost()

    def on_chat_screen_new_chat(self) -> None:
        self.show_cost()
        self.show_status(self.idle_state(), tokens_per_s=None, ttft_s=None)

    def on_chat_screen_resumed(self, message: ChatScreen.Resumed) -> None:
        self.show_cost()
        pin = self.session.stored_pin(message.session_id)
        # The conversation's own pin comes back with it, unless this run's --tier chose.
        if pin in self.ladder.names and self.overrides.tier is None and pin != self.ladder.mode:
            self.ladder.mode = self.active_name = pin
            self.show_status(self.idle_state(), **self.speed_of(pin))
            self.check_health()
            pinned = f"; pinned to {pin} as before (F8: Auto)"
        else:
            pinned = ""
        self.session.note_pin(None if self.ladder.mode == AUTO else self.ladder.mode)
        self.notify(
            f"Continuing session #{message.session_id} ({message.count} messages){pinned}.",
            markup=False,
        )

    def on_chat_screen_sessions_wanted(self) -> None:
        if self.session.store is None:
            self.notify(self.session.store_error or "History is off.", severity="warning",
                        markup=False)  # fmt: skip
            return
        from rung.tui.sessions_screen import SessionsScreen

        self.push_screen(
            SessionsScreen(self.session.store, self.config, self.session.session_id),
            self._session_chosen,
        )

    async def _session_chosen(self, choice: OpenSession | None) -> None:
        if choice is None or choice.session_id == self.session.session_id:
            return
        if self.conversation.busy:
            self.notify("A reply is still streaming: Esc cancels it.", severity="warning")
            return
        # A fresh chat screen for the chosen conversation; the old one stops listening.
        old = self.chat
        old.detach()
        self.conversation.start_new()
        fresh = ChatScreen(self.conversation, choice.session_id, config=self.config)
        await self.switch_screen(fresh)
        self.uninstall_screen("chat")
        self.install_screen(fresh, "chat")
