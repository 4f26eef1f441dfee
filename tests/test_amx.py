"""The local rung on CPUs where llama.cpp's AMX backend crashes (issue 20824).

This machine may or may not have AMX, so the detection is tested on /proc/cpuinfo texts
of both kinds, and the AMX-safe load (no weight repacking) is forced on the real model
to show that it decodes multi-token prompts with exact counts on any CPU.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from rung.tiers import llama_safety
from rung.tiers.base import ChatRequest, Message
from rung.tiers.local import LocalTier, embedded_model_path
from rung.tiers.local_probe import probe_key, probe_model, run_probe
from rung.tiers.turn import collect
from tests.test_cli import rung

SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8

processor\t: 1
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
"""
ICE_LAKE = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512_vnni
"""
GRAVITON = """processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid
"""
NATIVE_AMX_BUILD = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 | "
PORTABLE_BUILD = "CPU : SSE3 = 1 | AVX2 = 1 | REPACK = 1 | "


@pytest.mark.parametrize(
    ("cpuinfo", "system_info", "safe"),
    [
        (SAPPHIRE_RAPIDS, NATIVE_AMX_BUILD, True),  # the crash: protect
        (SAPPHIRE_RAPIDS, PORTABLE_BUILD, False),  # a build without AMX code cannot crash so
        (SAPPHIRE_RAPIDS, "", True),  # build unknown on an AMX CPU: the safe side
        (ICE_LAKE, NATIVE_AMX_BUILD, False),  # no AMX on the CPU: nothing changes
        (GRAVITON, "", False),
        ("", NATIVE_AMX_BUILD, False),  # no /proc/cpuinfo (macOS, Windows)
    ],
)
def test_amx_detection(cpuinfo: str, system_info: str, safe: bool) -> None:
    assert llama_safety.needs_safe_load(cpuinfo, system_info) is safe
    assert llama_safety.decide_safe("auto", cpuinfo, system_info) is safe


def test_the_config_and_the_environment_can_force_either_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert llama_safety.decide_safe("off", ICE_LAKE, PORTABLE_BUILD) is True
    assert llama_safety.decide_safe("on", SAPPHIRE_RAPIDS, NATIVE_AMX_BUILD) is False
    monkeypatch.setenv("RUNG_WEIGHT_REPACKING", "off")
    assert llama_safety.decide_safe("auto", ICE_LAKE, PORTABLE_BUILD) is True


def test_the_safe_load_changes_one_field_for_one_call_only() -> None:
    import llama_cpp.llama_cpp as low  # the module whose function Llama() calls

    default = low.llama_model_default_params()
    assert default.use_extra_bufts is True
    with llama_safety.model_params_without_repacking():
        params = low.llama_model_default_params()
        assert params.use_extra_bufts is False
        assert params.n_gpu_layers == default.n_gpu_layers
    assert low.llama_model_default_params().use_extra_bufts is True


def ask(text: str, max_tokens: int = 24) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),), max_tokens=max_tokens, temperature=0)


async def test_the_amx_safe_load_decodes_with_exact_counts() -> None:
    """Forced on, as on an AMX CPU: a multi-token prompt decodes and the counts are
    llama.cpp's own."""
    tier = LocalTier(n_ctx=1024, weight_repacking="off")
    try:
        await tier.load()
        assert tier.safe_load is True
        # The model really was loaded without weight repacking.
        assert tier._llm.model_params.use_extra_bufts is False
        question = "What is the capital of France? Answer in one sentence."
        reply = await collect(tier, ask(question, 30))
        reference = tier._llm.create_chat_completion(
            messages=[{"role": "user", "content": question}], max_tokens=30, temperature=0
        )
        assert reply.failed is None and reply.text
        assert reply.text == reference["choices"][0]["message"]["content"]
        assert reply.usage.input_tokens == reference["usage"]["prompt_tokens"] > 2
        assert reply.usage.output_tokens == reference["usage"]["completion_tokens"]
        assert reply.usage.estimated is False
    finally:
        tier.close()


def test_the_probe_passes_a_working_model_and_remembers(tmp_path: Path) -> None:
    model = embedded_model_path()
    assert model is not None
    cache = tmp_path / "probe.json"
    # The load mode this CPU needs: with repacking on an AMX CPU the child really dies.
    safe = llama_safety.decide_safe("auto")
    result = probe_model(model, safe, cache_file=cache)
    assert result.ok and not result.crashed, result
    assert '"verdict": "ok"' in cache.read_text()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    # Remembered: a second call does not start a child (the cache says so already).
    cache.write_text(cache.read_text().replace('"ok"', '"SIGSEGV"'))
    assert probe_model(model, safe, cache_file=cache).crashed


def fake_python_that_segfaults(tmp_path: Path) -> str:
    """A stand-in interpreter whose child dies from a real SIGSEGV."""
    script = tmp_path / "python-crashes"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -c "import ctypes; ctypes.string_at(0)"\n')
    script.chmod(0o700)
    return str(script)


def test_a_native_crash_in_the_probe_is_reported_not_fatal(tmp_path: Path) -> None:
    model = embedded_model_path()
    assert model is not None
    result = run_probe(model, False, python=fake_python_that_segfaults(tmp_path))
    assert result.crashed and result.signal_name == "SIGSEGV"


def remember(cache: Path, model: Path, verdicts: dict[bool, str]) -> None:
    """Write probe verdicts as the probe would have, for this machine's CPU and build."""
    import json

    cpuinfo = llama_safety.read_cpuinfo()
    flags = " ".join(sorted(llama_safety.cpu_flags(cpuinfo)))
    info = llama_safety.llama_system_info()
    data = {probe_key(model, safe, flags, info): {"verdict": v} for safe, v in verdicts.items()}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(data))


async def test_a_crash_with_repacking_falls_back_to_the_safe_load(tmp_path: Path) -> None:
    model = embedded_model_path()
    assert model is not None
    cache = tmp_path / "probe.json"
    # As on an AMX CPU whose build llama_safety did not recognise: the default load
    # crashed the probe, the safe one did not.
    remember(cache, model, {False: "SIGSEGV", True: "ok"})
    tier = LocalTier(n_ctx=512, probe_cache=cache, weight_repacking="auto")
    if llama_safety.decide_safe("auto"):
        pytest.skip("this CPU is protected by detection already")
    try:
        await tier.load()
        assert tier.safe_load is True
        reply = await collect(tier, ask("Say hello to Ada.", 12))
        assert reply.text and reply.failed is None
        assert any("crashed (SIGSEGV)" in n and "without repacking" in n for n in reply.notices)
    finally:
        tier.close()


def test_rung_ask_explains_a_model_that_crashes_llama_cpp(tmp_path: Path) -> None:
    """No bare exit 139: the crash happened in the probe, and Rung says what to try."""
    model = embedded_model_path()
    assert model is not None
    cache_home = tmp_path / "cache"
    remember(cache_home / "rung" / "llama-probe.json", model, {False: "SIGSEGV", True: "SIGSEGV"})
    result = rung(tmp_path, "ask", "What is 2+2?", XDG_CACHE_HOME=str(cache_home))
    assert result.returncode == 1, result.stderr
    assert "crashed (SIGSEGV)" in result.stderr and "SmolLM2-135M-Instruct" in result.stderr
    assert "weight_repacking" in result.stderr and "Traceback" not in result.stderr


def test_a_crash_last_time_is_reported_at_the_next_start(tmp_path: Path) -> None:
    data = tmp_path / "data" / "rung"
    data.mkdir(parents=True)
    (data / "crash.log").write_text("Fatal Python error: Segmentation fault\n")
    result = rung(tmp_path, "ask", "--max-tokens", "4", "hi")
    assert result.returncode == 0, result.stderr
    assert "stopped unexpectedly last time" in result.stderr
    assert "Fatal Python error" not in result.stderr  # the log is named, not dumped
    again = rung(tmp_path, "ask", "--max-tokens", "4", "hi")
    assert "stopped unexpectedly" not in again.stderr  # said once
    log = data / "crash.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_without_amx_the_model_loads_as_llama_cpp_would(local_tier: LocalTier) -> None:
    """No cost where there is no crash to avoid: repacking stays on unless needed."""
    expected_safe = llama_safety.decide_safe("auto")
    assert local_tier.safe_load is expected_safe
    assert local_tier._llm.model_params.use_extra_bufts is (not expected_safe)


TICKER = """
import os, sys, threading, time
from rung.tiers.llama_safety import decide_safe, load_llama
from rung.tiers.local import embedded_model_path
stop, count = threading.Event(), 0
def tick():
    global count
    while not stop.is_set():
        os.write(2, f"tick {count}\\n".encode())
        count += 1
        time.sleep(0.0005)
thread = threading.Thread(target=tick)
thread.start()
llm = load_llama(str(embedded_model_path()), safe=decide_safe("auto"), n_ctx=256)
time.sleep(0.05)
stop.set()
thread.join()
os.write(1, f"{count}\\n".encode())
"""


def test_loading_a_model_does_not_silence_the_terminal(tmp_path: Path) -> None:
    """llama-cpp-python points stdout and stderr at /dev/null while a model loads; the
    chat screen draws there from another thread meanwhile, and its frames were lost
    (half-drawn status lines). Everything written during the load must arrive."""
    import subprocess

    result = subprocess.run([sys.executable, "-c", TICKER], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    written = int(result.stdout.strip())
    seen = result.stderr.count("tick ")
    assert written > 20 and seen == written, (written, seen)
