"""The chat screen's replies: what the conversation engine says, drawn as it streams
(a reply per attempt, its header, how it ended, a fallback's note), and an earlier
session shown again. A mixin of ChatScreen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from rung.engine import attachments
from rung.engine.safe_text import for_terminal
from rung.tui.agent_view import stored_lines
from rung.tui.chat_text import closing_note, reply_meta, step_numbers, stored_meta
from rung.tui.widgets.messages import MessageItem, MessageList, Shelved

if TYPE_CHECKING:
    from rung.engine.conversation import Conversation, EngineEvent
    from rung.tiers.base import Reply


class ReplyView:
    """Mixed into ChatScreen: it provides conversation, replies and Resumed."""

    conversation: Conversation
    replies: list[Reply]
    _item: MessageItem | None
    _failed_item: tuple[MessageItem, Reply] | None

    # -- resuming --------------------------------------------------------------------------
    @work(group="resume")
    async def resume(self, session_id: int) -> None:
        """Show an earlier session and continue it: the model sees it all again."""
        await self.app.wait_for_engine()  # type: ignore[attr-defined]
        try:
            stored = self.conversation.resume(session_id)
        except LookupError as exc:
            self.notify(for_terminal(str(exc)), title="Resume", severity="error", markup=False)
            return
        messages = self.query_one(MessageList)
        store = self.conversation.session.store  # an agent step's tool lines come back too
        steps = store.agent_steps(session_id) if store is not None else {}
        items: list[Shelved] = []
        numbers = step_numbers(stored)  # an agent step's number in its turn, as said live
        for m in stored:
            if m.role == "user":
                typed, files = attachments.split_attached(m.content)
                meta = "you" + (f" · attached {', '.join(files)}" if files else "")
                items.append(Shelved("user", typed, meta=meta))
                continue
            status, note = "done", ""
            if m.error and m.finish_reason != "interrupted":
                status, note = "failed", f"Failed: {m.error}"
            elif m.finish_reason in ("cancelled", "interrupted"):
                status = "cancelled"
                note = f"{m.finish_reason.capitalize()} — the text above is what arrived."
            elif m.finish_reason == "length":
                note = "Cut at the output token limit: Ctrl+B raises it for this chat."
            lines = stored_lines(steps[m.row_id]) if m.row_id in steps else ()
            meta = stored_meta(m, numbers.get(m.row_id, 0), bool(lines))
            items.append(Shelved("assistant", m.content, meta, status=status, note=note,
                                 after=lines))  # fmt: skip
        await messages.show_history(items)
        self.resumed_session = session_id  # the agent goes on from it (chat_agent.py)
        messages.follow()
        self.app.post_message(self.Resumed(session_id, len(stored)))

    # -- what the engine says -----------------------------------------------------------------
    async def _on_engine_event(self, event: EngineEvent) -> None:
        from rung.tiers.base import TextDelta  # the tiers' types: after the first frame

        if isinstance(event, TextDelta):
            if self._item is not None:
                await self._item.append(event.text)
            return
        # Imported here: the chat screen is drawn before the engine is (app.py).
        from rung.engine.conversation import EditsProposed, FallingBack, Recorded, Routed

        match event:
            case Routed(tier=tier, model=model, reason=reason):
                messages = self.query_one(MessageList)
                self._item = await messages.add(
                    MessageItem(
                        "assistant", meta=f"{tier} · {model or '(model from server)'} — {reason}"
                    )
                )
            case Recorded(tier=tier, reply=reply, record=record, reason=reason, last=last):
                item, self._item = self._item, None
                if item is None:
                    return
                self.replies.append(reply)
                item.set_meta(f"{reply_meta(tier, reply, record)} — {reason}")
                if last:
                    status, note = closing_note(reply, limit=self.conversation.options.max_tokens)
                    await item.finish(status, note)
                else:
                    self._failed_item = (item, reply)
            case EditsProposed(result=result):
                items = self.query_one(MessageList).assistant_items()
                if items and result.edits:
                    last = items[-1]
                    last.set_meta(f"{last.meta_text} · {result.summary()} — F10 to review")
                self.notify(
                    f"The reply proposes {result.summary()}"
                    + (f" ({len(result.problems)} block(s) unusable)" if result.problems else "")
                    + ". F10 reviews them hunk by hunk; nothing is written until you apply.",
                    title="Edits",
                    markup=False,
                )
            case FallingBack(to_tier=target, down=down):
                if self._failed_item is not None:
                    item, reply = self._failed_item
                    self._failed_item = None
                    status, note = closing_note(reply, target, down=down)
                    await item.finish(status, note)

    async def _mark_replaced(self, messages: MessageList) -> None:
        """The last exchange on screen was edited and sent again: it stays, dimmed."""
        items = list(messages.query(MessageItem))
        users = [i for i, item in enumerate(items) if item.role == "user"]
        for item in items[users[-1] :] if users else []:
            item.add_class("replaced")
            item.set_meta(f"{item.meta_text} (replaced by the edit below)")
