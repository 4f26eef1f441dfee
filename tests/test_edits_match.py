"""Matching a SEARCH text to a file: exact, then whitespace-tolerant, never fuzzy."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rung.engine.edits.match import Ambiguous, NoMatch, Replaced, replace_once

SOURCE = """\
import os


class Cart:
    def __init__(self):
        self.items = []

    def total(self):
        return sum(self.items)

    def count(self):
        return len(self.items)
"""


def replaced(result: object) -> Replaced:
    assert isinstance(result, Replaced), result
    return result


def test_exact_match_replaces_only_that_place() -> None:
    result = replaced(
        replace_once(
            SOURCE,
            "    def total(self):\n        return sum(self.items)\n",
            "    def total(self):\n        return sum(i.price for i in self.items)\n",
        )
    )
    assert result.how == "exact"
    assert result.line == 8
    assert result.text == SOURCE.replace("sum(self.items)", "sum(i.price for i in self.items)")


def test_crlf_file_stays_crlf_for_an_lf_reply() -> None:
    crlf = SOURCE.replace("\n", "\r\n")
    result = replaced(replace_once(crlf, "    def count(self):\n", "    def size(self):\n"))
    assert result.text == crlf.replace("def count", "def size")
    assert "\n" not in result.text.replace("\r\n", "")


def test_trailing_whitespace_in_the_search_or_the_file_is_tolerated() -> None:
    with_spaces = SOURCE.replace("def total(self):", "def total(self):   ")
    result = replaced(
        replace_once(
            with_spaces, "    def total(self):\n        return sum(self.items)\n", "    pass\n"
        )
    )
    assert result.how == "whitespace"
    assert "def total" not in result.text and "    pass\n" in result.text
    result = replaced(replace_once(SOURCE, "import os  \t\n", "import sys\n"))
    assert result.text.startswith("import sys\n\n\nclass Cart:")


def test_indentation_shift_is_matched_and_the_replacement_reindented() -> None:
    # The model quoted the method without the class indentation.
    search = "def total(self):\n    return sum(self.items)\n"
    replace = (
        "def total(self):\n    if not self.items:\n        return 0\n    return sum(self.items)\n"
    )
    result = replaced(replace_once(SOURCE, search, replace))
    assert result.how == "whitespace"
    assert result.line == 8
    assert (
        "    def total(self):\n"
        "        if not self.items:\n"
        "            return 0\n"
        "        return sum(self.items)\n"
    ) in result.text
    assert result.text.endswith("    def count(self):\n        return len(self.items)\n")


def test_search_indented_more_than_the_file_is_shifted_back() -> None:
    text = "def f():\n    return 1\n"
    result = replaced(
        replace_once(text, "    def f():\n        return 1\n", "    def f():\n        return 2\n")
    )
    assert result.text == "def f():\n    return 2\n"


def test_blank_line_differences_are_tolerated_without_adding_blank_lines() -> None:
    search = "import os\n\nclass Cart:\n"  # the file has two blank lines between them
    result = replaced(replace_once(SOURCE, search, "import os\n\nclass Basket:\n"))
    assert result.how == "whitespace"
    assert result.text.startswith("import os\n\nclass Basket:\n    def __init__")
    around = "\n    def count(self):\n        return len(self.items)\n\n"
    result = replaced(
        replace_once(SOURCE + "\n", around, "\n    def count(self):\n        return 0\n\n")
    )
    assert result.text.endswith("\n\n    def count(self):\n        return 0\n\n")


def test_tabs_against_spaces_are_not_a_uniform_shift() -> None:
    text = "if x:\n\ty = 1\n\tz = 2\n"
    assert isinstance(replace_once(text, "    y = 1\n    z = 2\n", "    y = 3\n"), NoMatch)


def test_several_exact_matches_are_refused_with_their_lines() -> None:
    text = "a = 1\nb = 2\na = 1\nc = 3\na = 1\n"
    result = replace_once(text, "a = 1\n", "a = 9\n")
    assert result == Ambiguous((1, 3, 5), "exact")
    message = result.describe("conf.py")
    assert "3 places in conf.py (lines 1, 3, 5)" in message
    assert "nothing was changed" in message


def test_several_whitespace_matches_are_refused_too() -> None:
    text = "def a():\n    x = 1\n\ndef b():\n        x = 1\n"
    result = replace_once(text, "x = 1\n", "x = 2\n")
    assert result == Ambiguous((2, 5), "whitespace")


def test_an_exact_match_wins_over_whitespace_candidates() -> None:
    text = "run()\nif x:\n    run()\n"
    result = replaced(replace_once(text, "    run()\n", "    stop()\n"))
    assert result.how == "exact"
    assert result.text == "run()\nif x:\n    stop()\n"


def test_a_near_miss_is_never_applied() -> None:
    result = replace_once(SOURCE, "    def total(self):\n        return sum(self.item)\n", "x\n")
    assert isinstance(result, NoMatch)
    result = replace_once(SOURCE, "        return sum( self.items )\n", "x\n")
    assert isinstance(result, NoMatch)


def test_no_match_reports_the_most_similar_lines_with_numbers() -> None:
    search = "    def total(self):\n        return sum(self.itemz)\n"
    result = replace_once(SOURCE, search, "x\n")
    assert isinstance(result, NoMatch)
    assert result.closest_line == 8
    assert result.closest == ("    def total(self):", "        return sum(self.items)")
    assert 0.9 < result.similarity < 1
    message = result.describe("cart.py")
    assert "does not match cart.py; nothing was changed" in message
    assert "lines 8–9" in message
    assert "   8 |     def total(self):" in message or "  8 |     def total(self):" in message


def test_no_match_with_no_shared_line_still_finds_the_closest_one() -> None:
    big = "".join(f"value_{i} = compute({i})\n" for i in range(3000))
    result = replace_once(big, "value_1234 = compute(1234, cache=True)\n", "x\n")
    assert isinstance(result, NoMatch)
    assert result.closest_line == 1235
    assert "1235 | value_1234 = compute(1234)" in result.describe("big.py")


def test_missing_final_newline_stays_missing() -> None:
    text = "a = 1\nb = 2"
    result = replaced(replace_once(text, "b = 2\n", "b = 3\nc = 4\n"))
    assert result.text == "a = 1\nb = 3\nc = 4"


def test_deleting_lines_with_an_empty_replace() -> None:
    result = replaced(
        replace_once(SOURCE, "    def count(self):\n        return len(self.items)\n", "")
    )
    assert result.text == SOURCE[: SOURCE.index("    def count")]


lines = st.text(alphabet="abcxyz =()", min_size=1, max_size=12).map(lambda s: s.strip() or "q")


@given(
    st.lists(lines, min_size=1, max_size=30, unique=True),
    st.data(),
    st.lists(lines, max_size=5),
    st.sampled_from(["\n", "\r\n"]),
)
@settings(max_examples=200, deadline=None)
def test_replacing_a_unique_window_splices_exactly_there(
    body: list[str], data: st.DataObject, new: list[str], eol: str
) -> None:
    start = data.draw(st.integers(0, len(body) - 1))
    stop = data.draw(st.integers(start + 1, len(body)))
    text = "".join(line + eol for line in body)
    search = "".join(line + "\n" for line in body[start:stop])
    result = replaced(replace_once(text, search, "".join(line + "\n" for line in new)))
    assert result.how == "exact"
    assert result.text == "".join(line + eol for line in body[:start] + new + body[stop:])
