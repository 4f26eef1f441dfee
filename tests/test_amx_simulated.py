"""The model tests, run as on a CPU with AMX, on any CPU.

On an AMX CPU with a natively built llama.cpp, loading with weight repacking kills the
process (SIGSEGV or SIGILL). A test that assumes that load works is green on a developer's
machine without AMX and red on CI's with it. ``RUNG_SIMULATE_AMX=1`` makes any machine
behave like the AMX one (detection says "safe load needed"; a load with repacking dies
from SIGILL, in-process or in a child), so these runs catch such a test everywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rung.tiers import llama_safety
from rung.tiers.local import embedded_model_path
from rung.tiers.local_probe import run_probe

# Every test module that loads the model, probes a load mode or starts the model server.
MODEL_TESTS = (
    "tests/test_amx.py",
    "tests/test_local.py",
    "tests/test_remote.py::test_selfhosted_discovers_the_model_and_streams",
    "tests/test_competence_calibrate_screen.py",  # Settings → Calibrate loads the model
)
ROOT = Path(__file__).resolve().parent.parent


def simulated_env() -> dict[str, str]:
    return {**os.environ, llama_safety.SIMULATE_AMX_ENV: "1"}


def test_the_simulation_behaves_like_an_amx_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Detection says "safe load" and the unsafe load really dies, as on Sapphire Rapids;
    the safe one decodes."""
    monkeypatch.setenv(llama_safety.SIMULATE_AMX_ENV, "1")
    assert "amx_int8" in llama_safety.cpu_flags(llama_safety.read_cpuinfo())
    assert llama_safety.decide_safe("auto") is True
    model = embedded_model_path()
    assert model is not None
    crashed = run_probe(model, False)  # the child inherits the simulation
    assert crashed.crashed and crashed.signal_name == "SIGILL", crashed
    assert run_probe(model, True).ok


def test_the_model_tests_hold_where_only_the_safe_load_works(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        f"--basetemp={tmp_path / 'run'}", *MODEL_TESTS,
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, env=simulated_env(), capture_output=True, text=True, timeout=900
    )
    tail = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, tail
    assert " passed" in done.stdout and "failed" not in done.stdout, tail
