"""A scripted 20-step agent run for the prompt-cache measurements (the cache-share test
and bench/agent_cost.py): a small Python project with a failing test; the model plans,
reads, lists and searches, runs the tests (they fail), makes the fix, runs them again
(they pass) and answers. Each step checks the tool results fed back, so a run whose
fix did not land, or whose tests did not pass, shows up as problems."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.agent.scripted_model import Turn

PYTEST = "python3 -m pytest -q -p no:cacheprovider"
ALLOW = ("run:python3 -m pytest*",)

CALC = '''\
"""Arithmetic helpers used by the report."""


def add(a, b):
    """The sum of a and b."""
    return a - b


def mean(values):
    """The mean of a non-empty list."""
    return sum(values) / len(values)
'''
TEST = """\
from calc import add, mean


def test_add():
    assert add(2, 3) == 5


def test_mean():
    assert mean([1, 2, 3]) == 2
"""
REPORT = '''\
"""Prints a short report of the numbers given on the command line."""

import sys

from calc import add, mean


def main(argv):
    numbers = [float(a) for a in argv]
    total = 0
    for n in numbers:
        total = add(total, n)
    print(f"total {total}, mean {mean(numbers)}")


if __name__ == "__main__":
    main(sys.argv[1:])
'''
README = "# report\n\nSums and averages numbers: `python3 report.py 1 2 3`.\n"


def make_project(base: Path) -> Path:
    root = base / "project"
    root.mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TEST)
    (root / "report.py").write_text(REPORT)
    (root / "README.md").write_text(README)
    (root / "AGENTS.md").write_text("Run the tests with python3 -m pytest.\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=30)
    return root


QUESTION = "test_add fails: find out why and fix it; keep the other tests passing."
# A session's earlier turn, before the task (the bench's --warm, the second-turn test):
# a list, then an answer.
EARLIER_QUESTION = "What does this project do?"
EARLIER_TURN = [
    Turn(calls=[("list", {"pattern": "*"})]),
    Turn(text="A report of sums and means; calc.py does the arithmetic."),
]
PLAN = "Plan: look at the project, reproduce the failure, fix add, run the tests."


def twenty_steps() -> list[Turn]:
    """Plan -> 18 act steps -> answer. ``expect``: what the newest results must hold."""
    edit = {"path": "calc.py", "old_string": "return a - b", "new_string": "return a + b"}
    return [
        Turn(text=PLAN, calls=[("list", {"pattern": "*"})]),  # 1 plan
        Turn(calls=[("read", {"path": "README.md"})], expect=("calc.py",)),
        Turn(calls=[("read", {"path": "test_calc.py"})], expect=("python3 report.py",)),
        Turn(calls=[("run", {"command": PYTEST})], expect=("test_add",)),
        Turn(calls=[("read", {"path": "calc.py"})], expect=("1 failed",)),
        Turn(calls=[("search", {"pattern": "def add"})], expect=("return a - b",)),
        Turn(calls=[("search", {"pattern": "add(", "literal": True})], expect=("calc.py",)),
        Turn(calls=[("read", {"path": "report.py", "limit": 8})], expect=("report.py",)),
        Turn(calls=[("search", {"pattern": "mean"})], expect=("from calc import",)),
        Turn(calls=[("list", {"pattern": "*.py"})], expect=("def mean",)),
        Turn(calls=[("edit", edit)], expect=("report.py",)),  # 11 the fix
        Turn(calls=[("read", {"path": "calc.py", "limit": 7})], expect=("calc.py",)),
        Turn(calls=[("run", {"command": PYTEST})], expect=("return a + b",)),
        Turn(calls=[("search", {"pattern": "a - b"})], expect=("2 passed",)),
        Turn(calls=[("read", {"path": "report.py", "offset": 8})], expect=("No matches",)),
        Turn(calls=[("search", {"pattern": "import"})], expect=("total = add",)),
        Turn(calls=[("list", {"pattern": "test_*"})], expect=("import sys",)),
        Turn(calls=[("read", {"path": "test_calc.py", "limit": 5})], expect=("test_calc.py",)),
        Turn(calls=[("run", {"command": PYTEST})], expect=("def test_add",)),
        Turn(text="Fixed add in calc.py (it subtracted); 2 tests pass.", expect=("2 passed",)),
    ]
