"""The chat screen's key bindings and the order the key bar shows them in (each with an
id: a [keymap] line remaps it, F1 lists it)."""

from __future__ import annotations

from textual.binding import Binding

# The footer's order, most useful first: at 80 columns the tail is cut off.
FOOTER_ORDER = {
    ident: i
    for i, ident in enumerate(
        ["help", "pin-rung-1", "pin-rung-2", "pin-rung-3", "pin-rung-4", "toggle-auto",
         "escalate", "review-edits", "cancel-reply", "new-chat", "regenerate",
         "cost-detail", "toggle-agent", "settings", "quit"]
    )
}  # fmt: skip

CHAT_BINDINGS = [
    Binding(
        "escape",
        "cancel_reply",
        "Cancel",
        id="cancel-reply",
        tooltip="Cancel the reply (text stays)",
    ),
    Binding(
        "f7",
        "cost_detail",
        "Costs",
        id="cost-detail",
        priority=True,
        tooltip="Every reply's tokens and cost",
    ),
    # In F1 and the palette; the footer keeps its room for the ladder's keys.
    Binding(
        "ctrl+o",
        "copy_reply",
        "Copy reply",
        id="copy-reply",
        show=False,
        tooltip="Copy the last reply",
    ),
    Binding(
        "ctrl+t",
        "copy_code",
        "Copy code",
        id="copy-code",
        show=False,
        tooltip="Copy the last code block",
    ),
    Binding(
        "ctrl+n",
        "new_chat",
        "New chat",
        id="new-chat",
        tooltip="New conversation (old one kept)",
    ),
    Binding(
        "ctrl+g",
        "regenerate",
        "Again",
        id="regenerate",
        tooltip="The last reply again, same rung",
    ),
    Binding(
        "ctrl+l",
        "edit_last",
        "Edit",
        id="edit-last",
        show=False,
        tooltip="Edit the last question, send again",
    ),
    Binding(
        "ctrl+b",
        "chat_options",
        "Options",
        id="chat-options",
        show=False,
        tooltip="This chat's prompt, limits, model",
    ),
    Binding(
        "f10,ctrl+f",
        "review_edits",
        "Review edits",
        id="review-edits",
        priority=True,
        tooltip="Review the last reply's edits, hunk by hunk",
    ),
    Binding(
        "ctrl+s",
        "sessions",
        "Sessions",
        id="sessions",
        show=False,
        tooltip="Every conversation: open, rename, delete, export",
    ),
    Binding(
        "f12",
        "compare",
        "Compare",
        id="compare",
        priority=True,
        show=False,
        tooltip="Ask one question on several rungs, side by side",
    ),
    Binding(
        "f11",
        "toggle_agent",
        "Agent",
        id="toggle-agent",
        priority=True,
        tooltip="Agent on/off: tools (read, search, edit, run) or chat only",
    ),
    Binding(
        "f9,ctrl+r",
        "escalate",
        "Escalate",
        id="escalate",
        priority=True,
        tooltip="Ask again one rung up (an agent's answer too)",
    ),
]
