"""The chat screen's prompt glue: @path completion above the prompt, PageUp/PageDown
for the messages, and the preview of what attached files will cost. A mixin of
ChatScreen (it reads the screen's widgets and conversation)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual.timer import Timer
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from rung.engine import attachments
from rung.engine.safe_text import for_terminal, one_line
from rung.tiers.pricing import format_usd
from rung.tui import gc_pause, slash
from rung.tui.widgets.messages import MessageList
from rung.tui.widgets.prompt import PromptInput

if TYPE_CHECKING:
    from types import ModuleType

    from rung.engine.conversation import Conversation
    from rung.tui.widgets.messages import MessageItem

PREVIEW_DELAY_S = 0.3
FILE_LIST_TTL_S = 10.0


def workspace() -> ModuleType:
    """The coding assistant's files and edits, loaded on first use: importing them at
    start cost ~35 ms before the first frame (bench/startup.py)."""
    from rung.engine import workspace as module

    return module


def path_choices(partial: str, files: list[str], limit: int = 8) -> list[str]:
    """What Tab can complete ``@partial`` to: the directories one level further down
    (ending in "/", so a Tab on one goes on into it, as in a shell), then the files."""
    needle = partial.casefold()
    directories: dict[str, None] = {}
    for path in files:
        if path.casefold().startswith(needle):
            slash = path.find("/", len(partial))
            if slash != -1:
                directories[path[: slash + 1]] = None
    found = workspace().complete_path(partial, files, limit)
    if len(found) + len(directories) <= 1:
        return found  # one file, or one directory's single file: straight to it
    return (sorted(directories)[: limit // 2] + found)[:limit]


class PromptGlue:
    """Completion and the attachment preview; mixed into ChatScreen."""

    conversation: Conversation
    _item: MessageItem | None
    _preview_timer: Timer | None
    _files: tuple[float, list[str]] | None

    async def on_text_area_changed(self, event: TextArea.Changed) -> None:
        prompt = self.query_one(PromptInput)
        if event.text_area is not prompt:
            return
        gc_pause.activity()  # a due full collection waits for a pause in typing
        if self._item is not None:
            self._item.user_typed()  # the streaming reply gives way to typing
        await self._suggest(prompt)
        if self._preview_timer is not None:
            self._preview_timer.stop()
        # Reading the files and routing waits until typing pauses.
        self._preview_timer = self.set_timer(PREVIEW_DELAY_S, self._preview_attachments)

    async def _completions(self) -> OptionList:
        """The completion list, mounted above the prompt the first time it is needed."""
        found = self.query("#completions")
        if found:
            return found.first(OptionList)
        choices = OptionList(id="completions")
        await self.mount(choices, before=self.query_one(PromptInput))
        return choices

    async def _suggest(self, prompt: PromptInput) -> None:
        partial = prompt.mention_at_cursor()
        # A slash command being typed: its name, then its argument (ids start with "/",
        # which no project-relative path does).
        # The rung names without the engine: typing must not build it (app.py).
        commands = slash.choices(prompt.text, self.app.rung_names)  # type: ignore[attr-defined]
        if commands and partial is None:
            options = [Option(label, id=replacement) for replacement, label in commands]
        else:
            found = []
            if partial is not None:
                found = path_choices(partial, self.project_files())
            if not found or (len(found) == 1 and found[0] == partial):
                self.hide_completions()
                return
            options = [Option(for_terminal(path), id=path) for path in found]
        choices = await self._completions()
        choices.clear_options()
        choices.add_options(options)
        choices.highlighted = 0
        choices.add_class("shown")
        prompt.completing = True

    def project_files(self) -> list[str]:
        now = time.monotonic()
        if self._files is None or now - self._files[0] > FILE_LIST_TTL_S:
            self._files = (now, workspace().project_files(Path.cwd()))
        return self._files[1]

    async def on_prompt_input_completion_key(self, message: PromptInput.CompletionKey) -> None:
        prompt = self.query_one(PromptInput)
        choices = await self._completions()
        if message.key == "escape":
            self.hide_completions()
        elif message.key in ("up", "down"):
            step = -1 if message.key == "up" else 1
            count = choices.option_count
            choices.highlighted = ((choices.highlighted or 0) + step) % max(1, count)
        elif message.key == "tab" and choices.highlighted is not None:
            chosen = choices.get_option_at_index(choices.highlighted).id or ""
            self.hide_completions()
            if chosen.startswith("/"):
                prompt.load_text(chosen)
                prompt.move_cursor(prompt.document.end)
                await self._suggest(prompt)  # "/model " goes on to offer the rungs
            else:
                prompt.complete_mention(chosen)

    def hide_completions(self) -> None:
        self.query("#completions").remove_class("shown")
        self.query_one(PromptInput).completing = False

    def on_prompt_input_page_key(self, message: PromptInput.PageKey) -> None:
        """PageUp/PageDown while typing turn the messages' pages; the prompt keeps focus."""
        messages = self.query_one(MessageList)
        if message.key == "pageup":
            messages.scroll_page_up(animate=False)
        else:
            messages.scroll_page_down(animate=False)

    def _preview_attachments(self) -> None:
        """Under the prompt: what the attached files add, in tokens and money, on the
        rung that would answer this message now."""
        prompt = self.query_one(PromptInput)
        text = prompt.text.strip()
        if not attachments.mentions(text):
            prompt.border_subtitle = None
            return
        expansion = attachments.expand(text, Path.cwd())
        if not expansion.attached:
            problem = expansion.problems[0] if expansion.problems else ""
            prompt.border_subtitle = one_line(problem, 70) or None
            return
        added = (len(expansion.text) - len(text) + 3) // 4
        if not self.app.engine_built:  # type: ignore[attr-defined]  # a moment after start
            prompt.border_subtitle = f"+~{added:,} tokens attached"
            return
        from rung.tiers.base import Message as ChatMessage
        from rung.tiers.base import Usage

        conversation = self.conversation
        asked = ChatMessage("user", expansion.text)
        request = conversation.request([*conversation.history, asked])
        try:
            decision = conversation.ladder.decide(request)
            tier = conversation.ladder.tier(decision.tier)
        except ValueError:
            prompt.border_subtitle = f"+~{added:,} tokens attached"
            return
        cost = conversation.session.meter.book.cost(
            kind=tier.kind, provider=tier.provider or tier.name, model=tier.model,
            usage=Usage(input_tokens=added, estimated=True), when=datetime.now(UTC),
        )  # fmt: skip
        money = format_usd(cost.usd, estimated=True) if cost.usd is not None else "price unknown"
        prompt.border_subtitle = f"+~{added:,} tokens attached · {money} on {tier.name}"
