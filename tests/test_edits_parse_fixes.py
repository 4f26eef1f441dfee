"""Edit parsing as models really write it (defect sweep, issue 24): a doubled divider, a
block closed by a divider instead of the REPLACE marker, dotfiles and names without an
extension, a bare base name for a file in a subfolder, an attached temp file whose name
has no shape at all. Real files in temporary directories."""

from __future__ import annotations

from pathlib import Path

from rung.engine.edits.parse import Edit, StreamParser, parse_reply
from rung.engine.edits.review import propose
from rung.engine.workspace import proposal_for

F = "```"


def test_a_doubled_divider_before_the_replace_marker_is_not_written(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1\ny = 2\n")
    reply = f"app.py\n{F}\n<<<<<<< SEARCH\nx = 1\n=======\nx = 10\n=======\n>>>>>>> REPLACE\n{F}\n"
    proposal = propose(tmp_path, reply)
    assert proposal.all_problems == []
    assert proposal.result_text("app.py") == "x = 10\ny = 2\n"


def test_a_block_closed_by_a_divider_instead_of_the_marker_is_used(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a = 1\n")
    (tmp_path / "b.py").write_text("b = 1\n")
    reply = (
        f"a.py\n{F}\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n=======\n{F}\n\n"
        f"b.py\n{F}\n<<<<<<< SEARCH\nb = 1\n=======\nb = 2\n=======\n{F}\n"
    )
    proposal = propose(tmp_path, reply)
    assert proposal.all_problems == []
    assert proposal.result_text("a.py") == "a = 2\n"
    assert proposal.result_text("b.py") == "b = 2\n"
    # The next block starting right after the divider ends it too; its own name is read.
    bare = "a.py\n<<<<<<< SEARCH\na = 1\n=======\na = 3\n=======\nb.py\n<<<<<<< SEARCH\nb = 1\n"
    bare += "=======\nb = 3\n>>>>>>> REPLACE\n"
    edits = parse_reply(bare).edits
    assert [(e.path, e.replace) for e in edits] == [("a.py", "a = 3\n"), ("b.py", "b = 3\n")]
    # Streamed piece by piece, the same; a divider at the end is not final yet.
    stream = StreamParser()
    for piece in bare:
        stream.feed(piece)
    assert stream.finish().edits == edits
    assert parse_reply("a.py\n<<<<<<< SEARCH\na\n=======\nb\n=======\n", final=False).edits == ()


def test_dotfiles_and_names_without_an_extension_can_be_named(tmp_path: Path) -> None:
    body = "<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n"
    for name in (".gitignore", ".env", "VERSION", "CHANGELOG", "makefile", "justfile"):
        for before in (f"{name}\n", f"**{name}**\n", f"`{name}`:\n"):
            result = parse_reply(f"{before}{F}\n{body}{F}\n")
            assert result.problems == (), (name, before)
            assert [e.path for e in result.edits] == [name]
    # Prose is still not a file name.
    assert "does not say which file" in parse_reply(f"Here\n{body}").problems[0].message


def test_an_attached_file_whose_name_has_no_shape_is_recognised(tmp_path: Path) -> None:
    body = "<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n"
    reply = f"tmpk2x9_q1v\n{F}\n{body}{F}\n"
    assert parse_reply(reply).edits == ()  # unknown: could be any word
    found = parse_reply(reply, attached=["./tmpk2x9_q1v"])
    assert found.edits == (Edit("tmpk2x9_q1v", "old\n", "new\n", "search-replace", 3),)
    (tmp_path / "tmpk2x9_q1v").write_text("old\n")
    proposal = proposal_for(found, tmp_path)
    assert proposal.result_text("tmpk2x9_q1v") == "new\n" and proposal.refused == []


def test_a_bare_base_name_means_the_one_file_of_that_name(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "file3.py").write_text("v = 3\n")
    reply = f"file3.py\n{F}\n<<<<<<< SEARCH\nv = 3\n=======\nv = 4\n>>>>>>> REPLACE\n{F}\n"
    attached = propose(tmp_path, reply, attached=["dir/file3.py"])
    assert attached.all_problems == []
    assert attached.result_text("dir/file3.py") == "v = 4\n"
    assert attached.notes == [
        "file3.py was taken to mean dir/file3.py, the only file of that name attached."
    ]
    # Not attached, but the only one in the project: found, and said so.
    (tmp_path / "main.py").write_text("pass\n")
    in_project = proposal_for(parse_reply(reply, attached=["main.py"]), tmp_path)
    assert [f.path for f in in_project.files] == ["dir/file3.py"]
    assert "the only file of that name in the project" in in_project.notes[0]
    # Two of them: no guess.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file3.py").write_text("v = 3\n")
    two = proposal_for(parse_reply(reply, attached=["main.py"]), tmp_path)
    assert two.notes == [] and "file3.py does not exist" in two.all_problems[0]
