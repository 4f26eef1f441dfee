"""What the model is told when files are attached: how to propose changes so Rung can
show them hunk by hunk and apply only what the user accepts.

The format is aider's SEARCH/REPLACE block, which models already know well; a unified
diff in a ```diff fence is accepted too. Kept short: small local models follow a short
instruction with one example better than a long one.
"""

from __future__ import annotations

from collections.abc import Sequence

EDIT_INSTRUCTIONS = """\
When the user asks you to change the attached files, propose every change as a \
SEARCH/REPLACE block. Rung shows each block to the user, who accepts or rejects it; \
nothing is changed until then.

Each block is: the file's path alone on a line, then the block, inside a code fence:

path/to/file.py
```python
<<<<<<< SEARCH
    def total(self):
        return sum(self.items)
=======
    def total(self):
        return sum(item.price for item in self.items)
>>>>>>> REPLACE
```

Rules:
- Use the path exactly as in <file path="..."> of the attached file.
- SEARCH must copy existing lines of the file exactly, with the same indentation and \
comments, and enough lines to match in one place only.
- Use several small blocks for changes in different places, in the order they appear \
in the file; put nothing but the new lines in REPLACE.
- To create a new file, use an empty SEARCH part and put the whole file in REPLACE.
- To delete lines, leave REPLACE empty. Do not delete or rename files.
- Explain the change briefly outside the blocks.

A unified diff in a ```diff fence (--- a/path, +++ b/path, @@ hunks with context \
lines) is accepted too."""


def edit_instructions(paths: Sequence[str] = ()) -> str:
    """The text added to the system prompt; ``paths``: the attached files, as attached."""
    if not paths:
        return EDIT_INSTRUCTIONS
    listed = "\n".join(f"- {path}" for path in paths)
    return f"{EDIT_INSTRUCTIONS}\n\nThe attached files are:\n{listed}"
