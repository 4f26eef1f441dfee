"""The parser on replies as models write them: prose, fences, several files, diffs with
wrong line numbers, CRLF, malformed blocks, and every prefix of a streaming reply."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from rung.engine.edits.parse import Edit, StreamParser, parse_partial, parse_reply
from rung.engine.edits.prompt import EDIT_INSTRUCTIONS, edit_instructions

F = "```"

# A chat model's answer: prose, a named fence, a second block whose name is inside the
# fence, and a new file; prose after the last block.
PROSE_REPLY = f"""\
I'll make two changes: validate the input in `parse_args` and add a test.

Here's the change to the CLI:

app/cli.py
{F}python
<<<<<<< SEARCH
def parse_args(argv):
    return parser.parse_args(argv)
=======
def parse_args(argv):
    if not argv:
        raise SystemExit("usage: tool FILE")
    return parser.parse_args(argv)
>>>>>>> REPLACE
{F}

And the import at the top:

{F}python
app/cli.py
<<<<<<< SEARCH
import argparse
=======
import argparse
import sys
>>>>>>> REPLACE
{F}

Finally, a new test file:

tests/test_cli.py
{F}python
<<<<<<< SEARCH
=======
from app.cli import parse_args


def test_empty_args_exit():
    with pytest.raises(SystemExit):
        parse_args([])
>>>>>>> REPLACE
{F}

Let me know if you'd like me to also update the README.
"""

# aider's own style: no fences at all, a file name before every block.
AIDER_REPLY = """\
To add an email to users:

src/models.py
<<<<<<< SEARCH
class User:
    name: str
=======
class User:
    name: str
    email: str | None = None
>>>>>>> REPLACE

src/views.py
<<<<<<< SEARCH
    return {"name": user.name}
=======
    return {"name": user.name, "email": user.email}
>>>>>>> REPLACE
"""

# Two blocks in one fence: the name is in the fence's info string, the second block has
# no name of its own. Marker lines carry trailing whitespace.
ONE_FENCE_REPLY = f"""\
Both helpers need the same fix.

{F}python src/util.py
<<<<<<< SEARCH   \n\
def first(items):
    return items[0]
=======  \n\
def first(items):
    return items[0] if items else None
>>>>>>> REPLACE \n\

<<<<<<< SEARCH
def last(items):
    return items[-1]
=======
def last(items):
    return items[-1] if items else None
>>>>>>> REPLACE
{F}
"""

# A unified diff from a model: line numbers wrong, a blank context line without its
# leading space, a header with a function name, and a new file.
DIFF_REPLY = f"""\
Here's a patch that fixes the sign error and adds a test:

{F}diff
--- a/calc.py
+++ b/calc.py
@@ -40,7 +40,7 @@ def add(a, b):
 def add(a, b):
-    return a - b
+    return a + b

 def sub(a, b):
@@ -90,3 +90,4 @@
 def mul(a, b):
     return a * b
+
--- /dev/null
+++ b/test_calc.py
@@ -0,0 +1,4 @@
+from calc import add
+
+def test_add():
+    assert add(2, 2) == 4
{F}

Run `pytest` afterwards.
"""

REPLIES = [PROSE_REPLY, AIDER_REPLY, ONE_FENCE_REPLY, DIFF_REPLY]


def test_prose_reply_gives_three_edits_to_two_files() -> None:
    result = parse_reply(PROSE_REPLY)
    assert result.problems == ()
    assert [e.path for e in result.edits] == ["app/cli.py", "app/cli.py", "tests/test_cli.py"]
    first = result.edits[0]
    assert first.search == "def parse_args(argv):\n    return parser.parse_args(argv)\n"
    assert first.replace.startswith("def parse_args(argv):\n    if not argv:\n")
    assert first.origin == "search-replace"
    assert first.line == 7  # the <<<<<<< SEARCH line, for messages
    assert result.edits[2].search == ""  # a new file
    assert "def test_empty_args_exit():" in result.edits[2].replace
    assert result.summary() == "3 edits to 2 files"


def test_aider_style_blocks_without_fences() -> None:
    result = parse_reply(AIDER_REPLY)
    assert result.problems == ()
    assert result.files == ("src/models.py", "src/views.py")
    assert result.edits[1] == Edit(
        "src/views.py",
        '    return {"name": user.name}\n',
        '    return {"name": user.name, "email": user.email}\n',
        "search-replace",
        14,
    )


def test_second_block_in_a_fence_belongs_to_the_file_named_in_the_fence() -> None:
    result = parse_reply(ONE_FENCE_REPLY)
    assert result.problems == ()
    assert [e.path for e in result.edits] == ["src/util.py", "src/util.py"]
    assert result.edits[1].search == "def last(items):\n    return items[-1]\n"


def test_unified_diff_hunks_become_edits_and_line_numbers_are_ignored() -> None:
    result = parse_reply(DIFF_REPLY)
    assert result.problems == ()
    assert [(e.path, e.origin) for e in result.edits] == [
        ("calc.py", "unified-diff"),
        ("calc.py", "unified-diff"),
        ("test_calc.py", "unified-diff"),
    ]
    fix = result.edits[0]
    # the empty line in the hunk was a blank context line whose space the model dropped
    assert fix.search == "def add(a, b):\n    return a - b\n\ndef sub(a, b):\n"
    assert fix.replace == "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n"
    assert result.edits[1].replace == "def mul(a, b):\n    return a * b\n\n"
    new_file = result.edits[2]
    assert new_file.search == ""
    assert (
        new_file.replace == "from calc import add\n\ndef test_add():\n    assert add(2, 2) == 4\n"
    )


def test_crlf_reply_parses_like_the_lf_one() -> None:
    for reply in REPLIES:
        crlf = reply.replace("\n", "\r\n")
        assert parse_reply(crlf) == parse_reply(reply)


def test_filename_spellings_models_use() -> None:
    body = "<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n"
    spellings = {
        "**app/x.py**\n": "app/x.py",
        "`app/x.py`:\n": "app/x.py",
        "### File: app/x.py\n": "app/x.py",
        "In `app/x.py`, change:\n\n": "app/x.py",
        "Filename: Makefile\n": "Makefile",
        "app/x.py (new file)\n": "app/x.py",
    }
    for before, expected in spellings.items():
        for fence in (f"{F}python\n", ""):
            reply = before + fence + body + (F + "\n" if fence else "")
            result = parse_reply(reply)
            assert [e.path for e in result.edits] == [expected], reply
    in_fence = parse_reply(f"{F}app/x.py\n{body}{F}\n")
    assert [e.path for e in in_fence.edits] == ["app/x.py"]
    fences = [(f"{F}python title=app/x.py", F), (f"{F}python:app/x.py", F), ("~~~app/x.py", "~~~")]
    for opening, closing in fences:
        result = parse_reply(f"{opening}\n{body}{closing}\n")
        assert [e.path for e in result.edits] == ["app/x.py"], opening
    for comment in ("# app/x.py", "// app/x.py"):
        result = parse_reply(f"{F}\n{comment}\n{body}{F}\n")
        assert [e.path for e in result.edits] == ["app/x.py"], comment


def test_older_original_updated_markers_are_understood() -> None:
    reply = "a.py\n<<<<<<< ORIGINAL\nold\n=======\nnew\n>>>>>>> UPDATED\n"
    assert parse_reply(reply).edits == (Edit("a.py", "old\n", "new\n", "search-replace", 2),)


def test_prose_and_markdown_rules_are_not_diffs_or_blocks() -> None:
    reply = (
        "Some notes\n\n---\n\n+++ emphasis is not a diff\n\n"
        "<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> branch\n"
        "A git conflict above, not an edit.\n"
    )
    result = parse_reply(reply)
    assert result.edits == ()
    assert result.problems == ()


def test_missing_divider_is_a_problem_and_the_next_block_still_counts() -> None:
    reply = (
        "a.py\n<<<<<<< SEARCH\nold\n>>>>>>> REPLACE\n\n"
        "b.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    )
    result = parse_reply(reply)
    assert [e.path for e in result.edits] == ["b.py"]
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert problem.line == 2
    assert "a.py" in problem.message and "=======" in problem.message


def test_block_cut_off_at_the_end_is_a_problem_only_when_the_reply_is_finished() -> None:
    reply = "a.py\n<<<<<<< SEARCH\nold\n=======\nnew\n"
    assert parse_partial(reply).problems == ()
    final = parse_reply(reply)
    assert final.edits == ()
    assert ">>>>>>> REPLACE" in final.problems[0].message


def test_new_block_before_replace_marker_is_reported() -> None:
    reply = (
        "a.py\n<<<<<<< SEARCH\nold\n=======\nnew\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n"
    )
    result = parse_reply(reply)
    assert "no >>>>>>> REPLACE" in result.problems[0].message
    assert [(e.path, e.search) for e in result.edits] == [("a.py", "x\n")]


def test_block_without_a_file_name_is_a_problem() -> None:
    result = parse_reply("Change this:\n<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n")
    assert result.edits == ()
    assert "does not say which file" in result.problems[0].message


def test_diff_that_deletes_or_renames_a_file_is_refused_with_a_reason() -> None:
    deleting = f"{F}diff\n--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n{F}\n"
    result = parse_reply(deleting)
    assert result.edits == ()
    assert "deletes old.py" in result.problems[0].message
    renaming = f"{F}diff\n--- a/old.py\n+++ b/new.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n{F}\n"
    assert "renames old.py to new.py" in parse_reply(renaming).problems[0].message


def test_diff_hunk_with_a_stray_line_is_not_half_used() -> None:
    reply = (
        f"{F}diff\n--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n"
        "here the model started talking\n+y = 3\n"
        "@@ -9 +9 @@\n-z = 1\n+z = 2\n"
        f"{F}\n"
    )
    result = parse_reply(reply)
    assert [(e.search, e.replace) for e in result.edits] == [("z = 1\n", "z = 2\n")]
    assert "not part of a hunk" in result.problems[0].message


def test_unfenced_diff_ends_at_prose() -> None:
    reply = "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\nThat's all.\n"
    result = parse_reply(reply)
    assert [(e.path, e.search, e.replace) for e in result.edits] == [("a.py", "x = 1\n", "x = 2\n")]


def _check_prefixes(reply: str) -> None:
    final = parse_reply(reply)
    seen = 0
    for cut in range(len(reply) + 1):
        partial = parse_partial(reply[:cut])
        assert partial.problems == (), (cut, partial.problems)
        assert partial.edits == final.edits[: len(partial.edits)], cut
        assert len(partial.edits) >= seen, cut  # the count never goes back while streaming
        seen = len(partial.edits)
    assert parse_partial(reply + "\n").edits == final.edits


def test_every_prefix_of_every_reply_gives_only_complete_edits() -> None:
    for reply in [*REPLIES, PROSE_REPLY.replace("\n", "\r\n")]:
        _check_prefixes(reply)


def test_streaming_count_rises_when_a_block_closes() -> None:
    closing = PROSE_REPLY.index(">>>>>>> REPLACE")
    end_of_line = PROSE_REPLY.index("\n", closing)
    assert parse_partial(PROSE_REPLY[:end_of_line]).summary() == "0 edits to 0 files"
    assert parse_partial(PROSE_REPLY[: end_of_line + 1]).summary() == "1 edit to 1 file"


def test_stream_parser_fed_one_character_at_a_time_matches_parse_partial() -> None:
    for reply in REPLIES:
        stream = StreamParser()
        for cut in range(1, len(reply) + 1):
            assert stream.feed(reply[cut - 1]) == parse_partial(reply[:cut])
        assert stream.finish() == parse_reply(reply)


@given(st.sampled_from(REPLIES), st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
@settings(max_examples=60, deadline=None)
def test_stream_parser_with_any_chunking_matches_the_whole_reply(
    reply: str, cuts: list[int]
) -> None:
    stream = StreamParser()
    points = sorted({min(c, len(reply)) for c in cuts} | {0, len(reply)})
    for start, stop in itertools.pairwise(points):
        stream.feed(reply[start:stop])
    assert stream.result() == parse_partial(reply)
    assert stream.finish() == parse_reply(reply)


PIECES = [
    "<<<<<<< SEARCH\n", "=======\n", ">>>>>>> REPLACE\n", "```\n", "```python\n", "a.py\n",
    "--- a/a.py\n", "+++ b/a.py\n", "@@ -1 +1 @@\n", "-x\n", "+y\n", " z\n", "\n", "\r\n",
    "prose\n", "--- /dev/null\n", "+++ /dev/null\n", "\\ No newline at end of file\n",
]  # fmt: skip


@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=40))
@settings(max_examples=300, deadline=None)
def test_parser_never_raises_on_any_text(pieces: list[str]) -> None:
    text = "".join(pieces)
    final = parse_reply(text)
    partial = parse_partial(text)
    assert all(isinstance(p.message, str) and p.line >= 1 for p in final.problems)
    assert partial.edits == final.edits[: len(partial.edits)]


def test_instructions_example_is_itself_a_valid_block() -> None:
    result = parse_reply(EDIT_INSTRUCTIONS)
    assert result.problems == ()
    assert [e.path for e in result.edits] == ["path/to/file.py"]
    listed = edit_instructions(["app/x.py", "README.md"])
    assert listed.startswith(EDIT_INSTRUCTIONS)
    assert "- app/x.py\n- README.md" in listed
    assert "SEARCH" in edit_instructions() and "```diff" in edit_instructions()
