"""bench/agent_cost.py keeps working as the loop changes: one opusplan-like run (premium
plans, the mid rung does the rest) on the Anthropic-premium ladder of caching servers,
through the config keys `[agent] plan/act/digest/answer`, passing the script's checks."""

from __future__ import annotations

import importlib.util
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "agent_cost.py"


def load_bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("agent_cost", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["agent_cost"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def test_the_opusplan_like_policy_plans_on_premium_and_acts_on_the_mid_rung(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `python3` in the test command is this venv's (it has pytest).
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    bench = load_bench()
    ladder = bench.LADDERS["anthropic"]
    run = await bench.one_run(ladder, bench.OPUSPLAN, tmp_path, datetime.now(UTC))
    assert run.problems == []
    assert run.kinds["plan"] == run.steps[ladder["premium"].name] >= 1
    assert run.steps[ladder["mid"].name] == run.total_steps - run.kinds["plan"]
    assert run.cost > 0 and 0 < run.cache_share < 1
