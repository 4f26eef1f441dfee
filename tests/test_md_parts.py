"""A long reply is shown in several Markdown views; it must read exactly as one."""

from __future__ import annotations

import random

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from rung.tui.widgets import md_parts
from rung.tui.widgets.md_parts import PartCutter
from rung.tui.widgets.messages import MessageItem


def reply_text(sections: int) -> str:
    """A reply as models write them: headings, paragraphs, lists, a table, code."""
    out = []
    for n in range(sections):
        out.append(
            f"{'#' * (n % 4 + 1)} Part {n}\n\n"
            "The module keeps its state in a table and writes it back "
            f"on every change, which costs a round trip each time ({n}).\n\n"
            "- first point\n- second point\n  continued\n\n"
            "1. one\n2. two\n\n"
            "| name | size |\n|---|---|\n| a | 1 |\n| b | 2 |\n\n"
            f"```python\ndef f{n}(x):\n\n    return x + {n}\n```\n\n"
            "> a quote\n\n"
        )
    return "".join(out)


def stream_parts(text: str, seed: int, size: int = 300) -> list[str]:
    """Feed ``text`` in random pieces; the parts the views would hold."""
    cutter, rng, parts, i = PartCutter(size), random.Random(seed), [""], 0
    while i < len(text):
        n = rng.randint(1, 120)
        first, *more = cutter.feed(text[i : i + n])
        parts[-1] += first
        parts.extend(more)
        i += n
    parts[-1] += cutter.end()
    return parts


def test_parts_join_back_to_the_reply_however_it_arrives() -> None:
    text = reply_text(12)
    whole = PartCutter(300).split(text)
    assert len(whole) > 5
    for seed in range(30):
        parts = stream_parts(text, seed)
        assert "".join(parts) == text
        # Where the tokens fall does not move the cuts.
        assert parts == whole


def test_no_cut_inside_a_code_block_a_list_or_a_paragraph() -> None:
    code = "```python\n" + "x = 1\n\n" * 200 + "```\n"
    items = "".join(f"{n}. item {n}\n\n" for n in range(1, 100))
    paragraph = "word " * 400 + "\n"
    text = f"Intro.\n\n{code}\n{items}\n{paragraph}\nThe end.\n"
    parts = PartCutter(100).split(text)
    assert "".join(parts) == text
    # The code block (blank lines inside it) and the list (a cut would restart its
    # numbering) stay in the first view; cuts come before the paragraph after them.
    assert len(parts) == 3
    assert parts[0].startswith("Intro.") and code in parts[0] and items in parts[0]
    assert parts[1] == paragraph + "\n"
    assert parts[2] == "The end.\n"


def test_a_cut_waits_for_a_lines_first_characters() -> None:
    cutter = PartCutter(10)
    assert cutter.feed("a paragraph long enough\n\n1") == ["a paragraph long enough\n\n"]
    # "1" could start "1. item" (no cut) or "1999 was" (a cut): held until known.
    assert cutter.feed("999 was a year\n") == ["", "1999 was a year\n"]
    assert cutter.feed("\n-") == ["\n-"]  # never a paragraph: nothing to wait for
    assert cutter.feed(" item\n") == [" item\n"]
    assert cutter.end() == ""


def test_tilde_fences_and_longer_fences_are_respected() -> None:
    text = "a\n\n~~~~\n```\n\nnot a cut\n~~~\n\nstill code\n~~~~\n\nafter\n"
    parts = PartCutter(1).split(text)
    assert parts == ["a\n\n~~~~\n```\n\nnot a cut\n~~~\n\nstill code\n~~~~\n\n", "after\n"]


def test_parts_start_with_a_paragraph_only() -> None:
    """A heading, code block or quote has a top margin that one view collapses with the
    block above; at the top of a view it would add a blank row."""
    blocks = [
        "# Title", "### Sub", "```\ncode\n```", "> quote", "| a | b |\n|---|---|\n| 1 | 2 |",
        "---", "***", "<div>html</div>", "- item", "2. item", "    indented code",
        "**bold** start", "Plain words", "2024 was a year",
    ]  # fmt: skip
    text = "".join(f"{block}\n\n" for block in blocks)
    parts = PartCutter(1).split(text)
    assert "".join(parts) == text
    assert [part.split("\n")[0] for part in parts[1:]] == ["Plain words", "2024 was a year"]


class Views(App[None]):
    def __init__(self, item: MessageItem) -> None:
        super().__init__()
        self.item = item

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield self.item


@pytest.mark.parametrize("size", [100, 250, 300])
async def test_a_streamed_reply_in_parts_looks_like_the_reply_in_one_view(
    monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """Cuts land before paragraphs after headings of each level, tables, code blocks
    and quotes (depending on the size); the screen is the same as with one view."""
    text = reply_text(8)
    monkeypatch.setattr(md_parts, "PART_CHARS", 10**9)
    one = Views(MessageItem("assistant", text))
    async with one.run_test(size=(100, 300)) as pilot:
        await pilot.pause()
        assert len(one.item.query("Markdown")) == 1
        expected = one.export_screenshot()
    monkeypatch.setattr(md_parts, "PART_CHARS", size)
    for streamed in (True, False):  # as it streams in, and as a stored reply shows
        app = Views(MessageItem("assistant", "" if streamed else text))
        async with app.run_test(size=(100, 300)) as pilot:
            rng = random.Random(size)
            i = 0
            while streamed and i < len(text):
                n = rng.randint(1, 40)
                await app.item.append(text[i : i + n])
                i += n
            await app.item.finish("done")
            await pilot.pause()
            assert len(app.item.query("Markdown")) >= 4
            assert app.item.shown_source == text
            same = app.export_screenshot() == expected  # not compared in the assert: huge
            assert same, f"{size}-character parts, streamed={streamed}: the screen differs"
