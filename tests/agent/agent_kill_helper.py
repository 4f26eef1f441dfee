"""Run as a program by test_agent_kill.py: an agent turn of two edits in a project; the
second pauses just before its file is renamed into place and waits to be killed.

    python agent_kill_helper.py ROOT
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from rung.engine.agent import Dispatcher, Mode, Permissions, ToolContext
from rung.engine.workspace import edits_journal


async def main(root: Path) -> None:
    context = ToolContext(root, journal=edits_journal(root), turn="turn-killed")
    agent = Dispatcher(context, Permissions(Mode.ACCEPT_EDITS))
    first = await agent.call(
        "edit", {"path": "src/calc.py", "old_string": "a - b", "new_string": "a + b"}
    )
    assert not first.is_error, first.text
    real_replace = os.replace

    def watched(src: str, dst: str) -> None:
        if Path(dst).name == "README.md":
            print("paused", flush=True)
            sys.stdin.readline()  # never answered: killed here
            os._exit(3)
        real_replace(src, dst)

    os.replace = watched  # type: ignore[assignment]
    await agent.call(
        "write", {"path": "README.md", "content": "# rewritten\n" * 1000, "overwrite": True}
    )


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
