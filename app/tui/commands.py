"""The command palette (Ctrl+P): every action of the app, by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from rung.tui.app import RungApp


class RungCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app: RungApp = self.app  # type: ignore[assignment]
        chat = app.chat  # the palette's actions are the chat screen's and the app's
        commands: list[tuple[str, str, Callable[[], object]]] = [
            ("Settings", "providers, keys, local model, ladder, budgets, theme",
             app.action_settings),
            ("Cost detail", "every message with its tokens and cost", chat.action_cost_detail),
            ("Toggle Auto", "route each message to the cheapest rung that fits",
             app.action_toggle_auto),
            ("Escalate", "ask the last question again one rung up", chat.action_escalate),
            ("Review edits", "the last reply's proposed changes, hunk by hunk",
             chat.action_review_edits),
            ("Undo last applied edit", "restore the files exactly as they were",
             chat.action_undo_edit),
            ("Redo edit", "apply again what was undone", chat.action_redo_edit),
            ("Save code block", "the last reply's last code block to a file",
             chat.action_save_code),
            ("Sessions", "every conversation: open, rename, delete, export",
             chat.action_sessions),
            ("Compare rungs", "one question on several rungs, side by side (F12)",
             chat.action_compare),
            ("Chat options", "this chat's system prompt, limits and model",
             chat.action_chat_options),
            ("Regenerate", "the last reply again on the same rung", chat.action_regenerate),
            ("Edit last question", "and send it again in place of the last exchange",
             chat.action_edit_last),
            ("New chat", "clear the conversation", chat.action_new_chat),
            ("Export conversation", "as Markdown in the current directory, keys masked",
             chat.action_export),
            ("Copy last reply", "to the clipboard", chat.action_copy_reply),
            ("Copy last code block", "to the clipboard", chat.action_copy_code),
            ("Agent on/off", "tools (read, search, edit, run) or chat only (F11)",
             chat.action_toggle_agent),
            ("Keys", "every key binding and slash command", app.action_help),
            ("Cancel reply", "stop the reply that is streaming", chat.action_cancel_reply),
        ]  # fmt: skip
        for position, name in enumerate(app.names):
            commands.append((f"Pin rung {position + 1}: {name}", app.ladder.tier(name).model,
                             partial(app.action_pin, position)))  # fmt: skip
        for theme in sorted(app.rung_theme_names):
            commands.append((f"Theme: {theme}", "switch the colour theme",
                             partial(setattr, app, "theme", theme)))  # fmt: skip
        return commands

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
