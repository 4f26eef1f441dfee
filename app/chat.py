"""The chat screen: the conversation, the prompt, the status line, and one reply at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from tiers.base import (
    ChatRequest,
    Event,
    Failed,
    Finished,
    Message,
    Notice,
    Reply,
    TextDelta,
    Usage,
)
from tiers.turn import Turn

from .help import HelpScreen, binding_rows
from .widgets.messages import MessageItem, MessageList, last_code_block
from .widgets.prompt import PromptInput
from .widgets.status import StatusBar

if TYPE_CHECKING:
    from .app import RungApp


class ChatScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "cancel_reply", "Cancel reply", id="cancel-reply"),
        Binding("f1", "help", "Keys", id="help"),
        Binding("ctrl+o", "copy_reply", "Copy reply", id="copy-reply"),
        Binding("ctrl+t", "copy_code", "Copy code", id="copy-code"),
        Binding("ctrl+n", "new_chat", "New chat", id="new-chat"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.history: list[Message] = []
        self.replies: list[Reply] = []  # every finished reply of this session, in order
        self.turn: Turn | None = None

    @property
    def rung_app(self) -> RungApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield MessageList(id="messages")
        yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        self.refresh_status()

    # -- status -------------------------------------------------------------
    def refresh_status(self, state: str | None = None) -> None:
        status = self.query_one(StatusBar)
        tier = self.rung_app.active_tier
        status.tier = tier.name
        status.model = tier.model or "(model from server)"
        status.mode = self.rung_app.mode_label
        if state is not None:
            status.state = state

    # -- sending --------------------------------------------------------------
    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        if self.turn is not None:
            self.notify("A reply is still streaming: Esc cancels it.", severity="warning")
            return
        prompt = self.query_one(PromptInput)
        prompt.clear()
        await self.send(message.text)

    async def send(self, text: str) -> None:
        messages = self.query_one(MessageList)
        messages.follow()
        await messages.add(MessageItem("user", text, meta="you"))
        self.history.append(Message("user", text))
        tier = self.rung_app.active_tier
        item = await messages.add(MessageItem("assistant", meta=f"{tier.name} · {tier.model}"))
        request = ChatRequest(
            messages=tuple(self.history),
            system=self.rung_app.config.get("ui", "system_prompt") or None,
            max_tokens=self.rung_app.config.get("ui", "max_tokens"),
        )
        self.run_reply(tier, request, item)

    @work(exclusive=True, group="reply")
    async def run_reply(self, tier: object, request: ChatRequest, item: MessageItem) -> None:
        status = self.query_one(StatusBar)
        status.tokens_per_s = None
        status.ttft_s = None
        self.refresh_status("waiting for first token")

        async def on_event(event: Event) -> None:
            match event:
                case TextDelta(text=text):
                    if not item.text:
                        self.refresh_status("streaming")
                    await item.append(text)
                case Notice(text=text):
                    self.notify(text, title=tier.name)  # type: ignore[attr-defined]
                case Usage():
                    pass
                case Finished() | Failed():
                    pass

        self.turn = Turn(tier, request, [on_event])  # type: ignore[arg-type]
        try:
            reply = await self.turn.run()
        finally:
            self.turn = None
        self.replies.append(reply)
        note = ""
        meta = f"{tier.name} · {tier.model}"  # type: ignore[attr-defined]
        if reply.failed is not None:
            status_word, note = "failed", f"Failed: {reply.failed.message}"
            self.notify(reply.failed.message, title=f"{tier.name} failed", severity="error")  # type: ignore[attr-defined]
        elif reply.finish_reason == "cancelled":
            status_word, note = "cancelled", "Cancelled — the text above is what arrived."
        else:
            status_word = "done"
            if reply.finish_reason == "length":
                note = "Stopped at the output token limit."
        finished = reply.finished
        if finished is not None:
            status.tokens_per_s = finished.output_tokens_per_s
            status.ttft_s = finished.time_to_first_token_s
        u = reply.usage
        meta += f" · {u.input_tokens:,} in / {u.output_tokens:,} out"
        if u.cached_input_tokens:
            meta += f" ({u.cached_input_tokens:,} cached)"
        if u.estimated:
            meta += " · estimated"
        item.set_meta(meta)
        await item.finish(status_word, note)
        # A partial reply stays in the conversation, so the next question sees it.
        if reply.text:
            self.history.append(Message("assistant", reply.text))
        self.refresh_status(status_word if status_word != "done" else "ready")

    # -- actions ----------------------------------------------------------------
    def action_cancel_reply(self) -> None:
        if self.turn is not None:
            self.turn.cancel()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(binding_rows(self.app)))

    def _last_reply(self) -> str | None:
        items = self.query_one(MessageList).assistant_items()
        return items[-1].text if items and items[-1].text else None

    def action_copy_reply(self) -> None:
        text = self._last_reply()
        if text is None:
            self.notify("No reply to copy yet.", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied the last reply ({len(text):,} characters).")

    def action_copy_code(self) -> None:
        code = last_code_block(self._last_reply() or "")
        if code is None:
            self.notify("The last reply has no code block.", severity="warning")
            return
        self.app.copy_to_clipboard(code)
        self.notify(f"Copied the code block ({len(code.splitlines())} lines).")

    async def action_new_chat(self) -> None:
        if self.turn is not None:
            self.turn.cancel()
        self.history.clear()
        await self.query_one(MessageList).remove_children()
        self.refresh_status("ready")
