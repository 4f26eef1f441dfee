"""The chat screen's actions on files and on the last reply: review and apply edits,
save a code block, undo/redo, compare rungs, export, copy, the cost detail. A mixin of
ChatScreen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rung.engine.safe_text import for_terminal
from rung.tui.chat_prompt import workspace
from rung.tui.chat_text import reply_meta
from rung.tui.confirm import AskScreen
from rung.tui.widgets.messages import MessageItem, MessageList
from rung.tui.widgets.messages_item import last_code_block
from rung.tui.widgets.prompt import PromptInput

if TYPE_CHECKING:
    from rung.engine.conversation import Conversation
    from rung.engine.edits import Outcome as EditOutcome
    from rung.engine.side_by_side import SideBySide
    from rung.tiers.base import Reply


class ReplyActions:
    """Mixed into ChatScreen: it provides conversation, replies, busy and Compared."""

    conversation: Conversation
    replies: list[Reply]

    def action_review_edits(self) -> None:
        result = self.conversation.last_edits
        if result is None or not (result.edits or result.problems):
            self.notify("The last reply proposes no edits. Attach files with @path and "
                        "ask for a change.", severity="warning")  # fmt: skip
            return
        from rung.tui.review_screen import ReviewScreen

        root, files = Path.cwd(), workspace()
        self.app.push_screen(
            ReviewScreen(files.proposal_for(result, root), files.edits_journal(root)), self._applied
        )

    def _applied(self, outcome: EditOutcome | None) -> None:
        if outcome is not None:
            self.notify(for_terminal(outcome.message) + " Undo from the palette or with "
                        "`rung undo`.", title="Applied", markup=False)  # fmt: skip

    def action_save_code(self) -> None:
        """Save the last reply's last code block as a file in the project (undoable)."""
        reply = self._last_reply() or ""
        code = last_code_block(reply)
        if code is None:
            self.notify("The last reply has no code block.", severity="warning")
            return
        self.app.push_screen(
            AskScreen("Save the code block as (a path inside the project):",
                      workspace().suggested_name(reply)),
            lambda name: self._save_code(name, code),
        )  # fmt: skip

    def _save_code(self, name: str | None, code: str) -> None:
        if not name:
            return
        files, root = workspace(), Path.cwd()
        outcome = files.save_file(root, name, code + "\n", files.edits_journal(root))
        self.notify(for_terminal(outcome.message), markup=False,
                    severity="information" if outcome.ok else "error")  # fmt: skip

    def action_undo_edit(self) -> None:
        # The project's journal as `rung undo` finds it from here (also from a subfolder).
        outcome = workspace().project_journal(Path.cwd()).undo()
        self.notify(for_terminal(outcome.message), markup=False,
                    severity="information" if outcome.ok else "warning")  # fmt: skip

    def action_redo_edit(self) -> None:
        outcome = workspace().project_journal(Path.cwd()).redo()
        self.notify(for_terminal(outcome.message), markup=False,
                    severity="information" if outcome.ok else "warning")  # fmt: skip

    def action_compare(self) -> None:
        """One question on several rungs at once; keep one answer in the conversation."""
        if self.busy:
            self.notify("Wait for the reply to finish, or Esc to cancel it.", severity="warning")
            return
        prompt = self.query_one(PromptInput)
        question, prompt_text = prompt.text.strip(), prompt.text
        if question:
            prompt.clear()
        from rung.tui.compare_screen import CompareScreen

        self.app.push_screen(
            CompareScreen(self.conversation, rungs=None, question=question),
            lambda result: self._compared(result, prompt_text),
        )

    async def _compared(self, result: SideBySide | None, typed: str) -> None:
        if result is None or not result.columns:
            if typed:
                self.query_one(PromptInput).load_text(typed)  # nothing asked: nothing lost
            return
        from rung.engine.side_by_side import adopt

        question_row = adopt(self.conversation, result)
        if question_row is not None:
            self.conversation.note_question(question_row)
        messages = self.query_one(MessageList)
        messages.follow()
        await messages.add(MessageItem("user", result.question, meta="you · compared"))
        order = [i for i in range(len(result.columns)) if i != result.kept]
        order += [result.kept] if result.kept is not None else []
        for index in order:
            column = result.columns[index]
            kept = " · kept" if index == result.kept else ""
            item = await messages.add(MessageItem(
                "assistant", column.reply.text,
                meta=f"{reply_meta(column.rung, column.reply, column.record)} — compared{kept}",
            ))  # fmt: skip
            if index != result.kept:
                item.add_class("replaced")
            self.replies.append(column.reply)
        self.app.post_message(self.Compared())

    def action_export(self) -> None:
        """Write this conversation as Markdown in the current directory."""
        session = self.conversation.session
        session_id = session.session_id
        if session.store is None or session_id is None:
            self.notify("Nothing to export yet.", severity="warning")
            return
        try:
            from rung.engine.export import export_session

            path = export_session(session.store, session_id, session.config, Path.cwd())
        except (OSError, LookupError) as exc:
            self.notify(f"Could not export: {for_terminal(str(exc))}", severity="error",
                        markup=False)  # fmt: skip
            return
        self.notify(f"Exported to {path} (API keys masked).", markup=False)

    def action_cost_detail(self) -> None:
        from rung.tui.cost_screen import CostScreen

        self.app.push_screen(CostScreen(self.conversation.session.meter))

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
