"""The file tools on a real git project: what the model reads back, and the one-line
summary the screen shows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rung.engine.agent import Answer, Mode
from rung.engine.agent.registry import TOOLS
from rung.engine.agent.tools.search import search_python
from tests.agent.helpers import Asker, dispatcher, git_project


async def test_read_numbers_lines_and_pages_through_a_long_file(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    (root / "long.txt").write_text("".join(f"line {n}\n" for n in range(1, 1001)))
    agent = dispatcher(root)
    first = await agent.call("read", {"path": "long.txt", "limit": 120})
    assert first.summary == "read long.txt 1-120"
    assert first.text.splitlines()[0] == "     1\tline 1"
    assert "880 more lines; read from offset 121" in first.text
    later = await agent.call("read", json.dumps({"path": "long.txt", "offset": 999}))
    assert later.text.splitlines() == ["   999\tline 999", "  1000\tline 1000"]


async def test_list_respects_gitignore_and_globs(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    agent = dispatcher(root)
    listed = await agent.call("list", {"pattern": "*.py"})
    assert listed.text.splitlines() == ["src/calc.py"]  # build/ is ignored
    assert listed.summary == 'list "*.py" → 1 file'


@pytest.mark.parametrize("ripgrep", [True, False])
async def test_search_finds_hits_with_and_without_ripgrep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ripgrep: bool
) -> None:
    if ripgrep and shutil.which("rg") is None:
        pytest.skip("ripgrep is not installed here")
    root = git_project(tmp_path)
    (root / "src" / "more.py").write_text("x = 1\ndef add_more():\n    pass\n")
    (root / "blob.bin").write_bytes(b"\0def add\0")
    if not ripgrep:
        monkeypatch.setattr(shutil, "which", lambda name: None)
    found = await dispatcher(root).call("search", {"pattern": "def add"})
    assert sorted(found.text.splitlines()) == ["src/calc.py:1:def add(a, b):",
                                                "src/more.py:2:def add_more():"]  # fmt: skip
    assert found.summary == 'search "def add" → 2 hits'


async def test_search_stops_at_its_bound(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    (root / "many.txt").write_text("hit\n" * 5000)
    found = await dispatcher(root).call("search", {"pattern": "hit"})
    assert found.summary == 'search "hit" → 200+ hits'
    python = search_python(root, ".", {"pattern": "hit"})
    assert python.summary == found.summary


async def test_a_bad_regex_is_an_error_for_the_model(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    result = await dispatcher(root).call("search", {"pattern": "(unclosed"})
    assert result.is_error
    assert "search failed" in result.text or "not a valid" in result.text


async def test_edit_needs_a_unique_match_and_keeps_crlf(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    (root / "win.py").write_bytes(b"a = 1\r\nb = 1\r\nb = 1\r\n")
    agent = dispatcher(root, mode=Mode.ACCEPT_EDITS)
    twice = await agent.call("edit", {"path": "win.py", "old_string": "b = 1",
                                      "new_string": "b = 2"})  # fmt: skip
    assert twice.is_error and "matches 2 places" in twice.text and "lines 2, 3" in twice.text
    done = await agent.call("edit", {"path": "win.py", "old_string": "a = 1\nb = 1",
                                     "new_string": "a = 2\nb = 1\nc = 3"})  # fmt: skip
    assert not done.is_error, done.text
    assert done.files_changed == ("win.py",)
    assert done.text.startswith("Edited win.py:\n--- a/win.py")
    assert done.summary == "edit win.py (+2 −1)"
    assert (root / "win.py").read_bytes() == b"a = 2\r\nb = 1\r\nc = 3\r\nb = 1\r\n"


async def test_edit_with_no_match_shows_the_closest_lines(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    agent = dispatcher(root, mode=Mode.ACCEPT_EDITS)
    missing = await agent.call("edit", {"path": "src/calc.py", "old_string": "return a * b",
                                        "new_string": "return a + b"})  # fmt: skip
    assert missing.is_error
    assert "does not match src/calc.py" in missing.text and "return a - b" in missing.text


async def test_write_creates_but_does_not_overwrite_unasked(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    agent = dispatcher(root, mode=Mode.ACCEPT_EDITS)
    made = await agent.call("write", {"path": "pkg/new.py", "content": "x = 1\n"})
    assert made.summary == "write pkg/new.py (1 line)"
    assert (root / "pkg" / "new.py").read_text() == "x = 1\n"
    again = await agent.call("write", {"path": "pkg/new.py", "content": "y\n"})
    assert again.is_error and "exists" in again.text
    assert (root / "pkg" / "new.py").read_text() == "x = 1\n"


async def test_an_edit_in_ask_mode_shows_the_diff_and_a_denial_changes_nothing(
    tmp_path: Path,
) -> None:
    root = git_project(tmp_path)
    asker = Asker(Answer.DENY)
    agent = dispatcher(root, ask=asker)
    result = await agent.call("edit", {"path": "src/calc.py", "old_string": "a - b",
                                       "new_string": "a + b"})  # fmt: skip
    assert result.is_error and "denied" in result.text
    assert asker.asked[0].always == ("edit:src/calc.py",)
    assert "-    return a - b\n+    return a + b" in asker.asked[0].detail
    assert (root / "src" / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"


def test_the_tools_are_declared_in_a_fixed_order_with_schemas() -> None:
    assert [t.name for t in TOOLS] == ["read", "list", "search", "edit", "write", "run"]
    for tool in TOOLS:
        assert tool.parameters["type"] == "object" and tool.description
        json.dumps(tool.parameters)  # plain JSON for every wire format


def test_the_python_fallback_is_not_slowed_by_a_huge_minified_line(tmp_path: Path) -> None:
    import time

    root = git_project(tmp_path)
    (root / "bundle.min.js").write_text("var a=1;" * 400_000 + "\n")  # one 3.2 MB line
    started = time.monotonic()
    found = search_python(root, ".", {"pattern": "a.*b.*c.*zzz"})
    assert time.monotonic() - started < 5
    assert found.summary == 'search "a.*b.*c.*zzz" → 0 hits'


def test_the_wire_specs_are_the_tools_in_order_and_cannot_change_the_registry() -> None:
    from rung.engine.agent import Dispatcher, Mode, Permissions, ToolContext

    specs = Dispatcher(ToolContext(Path.cwd()), Permissions(Mode.ASK)).tool_specs()
    assert [s.name for s in specs] == [t.name for t in TOOLS]
    specs[0].parameters["properties"].clear()  # a renderer that edits its copy
    assert TOOLS[0].parameters["properties"]  # the registry (and the cached prefix) keep theirs


async def test_a_pathological_pattern_in_the_python_fallback_is_stopped_by_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from rung.engine.agent.tools import search

    root = git_project(tmp_path)
    (root / "evil.txt").write_text("a" * 40 + "b\n")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(search, "SEARCH_TIMEOUT", 2.0)
    started = time.monotonic()
    found = await dispatcher(root).call("search", {"pattern": "(a+)+$"})
    assert time.monotonic() - started < 8
    assert "stopped after 2 s" in found.text
