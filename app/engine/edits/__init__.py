"""Proposed code edits: parse them from a reply, match them to files, apply and undo."""
