"""Loading a GGUF model so that llama.cpp cannot crash on the CPU it runs on.

The one known crash: on CPUs with AMX (Sapphire Rapids and newer Xeons, common in the
cloud), a llama.cpp built natively carries its AMX backend, repacks the weights into an
"AMX" buffer at load time, and then segfaults on any prompt of two or more tokens
(llama.cpp issue 20824, unfixed). Loading with ``use_extra_bufts = false`` skips the
repacking and runs at the same speed (77.5 vs 79.7 tokens/s measured on such a CPU).

``Llama(...)`` has no argument for that field, so ``model_params_without_repacking``
swaps llama-cpp-python's ``llama_model_default_params`` for the length of one
constructor call. This is the only place Rung changes how llama.cpp loads a model.
On a CPU without AMX nothing is changed, so nothing costs more there.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# CPU flags (as /proc/cpuinfo spells them) that mean the AMX backend would be used.
AMX_FLAGS = frozenset({"amx_int8", "amx_tile", "amx_bf16"})
# "auto": protect only where needed; "off": never repack weights; "on": llama.cpp's default.
REPACK_MODES = ("auto", "off", "on")

# Set to 1 (tests only) to make this machine behave like an AMX CPU with a native build:
# detection says "needs the safe load", and any load with repacking dies from SIGILL, as
# it does there. A test that assumes the unsafe load works then fails on every machine,
# not only on CI's AMX one (tests/test_amx_simulated.py runs the model tests this way).
SIMULATE_AMX_ENV = "RUNG_SIMULATE_AMX"
_SIMULATED_FLAGS = " amx_bf16 amx_tile amx_int8"

_patch_lock = threading.Lock()


def simulating_amx() -> bool:
    return os.environ.get(SIMULATE_AMX_ENV, "").strip() == "1"


def cpu_flags(cpuinfo: str) -> set[str]:
    """The feature flags of the first CPU listed in a /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def read_cpuinfo() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # not Linux: macOS and Windows CPUs are not affected
        text = ""
    if simulating_amx():  # the first flags line is the one read: put AMX's there
        text = f"flags\t: {' '.join(sorted(cpu_flags(text)))}{_SIMULATED_FLAGS}\n{text}"
    return text


def build_has_amx(system_info: str) -> bool:
    """Whether this llama.cpp build carries the AMX code (``AMX_INT8 = 1`` in its
    system info: set when it was compiled natively on an AMX CPU or with GGML_AMX)."""
    return "AMX_INT8 = 1" in system_info


def llama_system_info() -> str:
    """llama.cpp's own feature list for this build (imports llama_cpp)."""
    try:
        import llama_cpp

        info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    except Exception:  # an exotic build without it: decide by the CPU alone
        info = ""
    if simulating_amx() and not build_has_amx(info):
        info += " AMX_INT8 = 1 |"
    return info


def needs_safe_load(cpuinfo: str | None = None, system_info: str | None = None) -> bool:
    """True when the CPU has AMX and the build may use it: load without repacking.

    An unreadable build description counts as "may use it": on an AMX CPU the safe load
    costs nothing measurable, while the unsafe one can crash the whole process.
    """
    flags = cpu_flags(read_cpuinfo() if cpuinfo is None else cpuinfo)
    if not flags & AMX_FLAGS:
        return False
    info = llama_system_info() if system_info is None else system_info
    return build_has_amx(info) or not info.strip()


def decide_safe(mode: str, cpuinfo: str | None = None, system_info: str | None = None) -> bool:
    """Whether to load without weight repacking, for a ``[local] weight_repacking`` mode."""
    if mode == "off":
        return True
    if mode == "on":
        return False
    env = os.environ.get("RUNG_WEIGHT_REPACKING", "").strip().lower()
    if env in ("off", "on"):
        return env == "off"
    return needs_safe_load(cpuinfo, system_info)


@contextlib.contextmanager
def model_params_without_repacking() -> Iterator[None]:
    """While active, models load with ``use_extra_bufts = false`` (no AMX buffer).

    Held under a lock: two models loading at once in one process must not undo each
    other's swap. Outside the ``with`` block llama-cpp-python is as it was.
    """
    import llama_cpp.llama_cpp as low

    with _patch_lock:
        original = low.llama_model_default_params
        low.llama_model_default_params = _without_repacking(original)  # type: ignore[assignment]
        try:
            yield
        finally:
            low.llama_model_default_params = original  # type: ignore[assignment]


def _without_repacking(default_params: Any) -> Any:
    def params() -> Any:
        value = default_params()
        value.use_extra_bufts = False
        return value

    return params


class _KeepStreams:
    """Stands in for llama-cpp-python's ``suppress_stdout_stderr``, which points the
    whole process's stdout and stderr (file descriptors 1 and 2) at /dev/null while a
    model loads. The chat screen draws on those from another thread meanwhile: its
    frames would vanish and the screen stay half drawn, and `rung ask` could lose
    output. With ``verbose=False`` llama.cpp's logging already goes through
    llama-cpp-python's log callback, which drops it, so nothing needs silencing."""

    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> _KeepStreams:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@contextlib.contextmanager
def _loading(safe: bool) -> Iterator[None]:
    """While active: models load without touching stdout/stderr, and without weight
    repacking when ``safe``. One lock for both swaps, so two loads in one process do
    not undo each other's."""
    import llama_cpp._internals as internals
    import llama_cpp.llama as high
    import llama_cpp.llama_cpp as low

    with _patch_lock:
        saved = (
            internals.suppress_stdout_stderr,
            high.suppress_stdout_stderr,
            low.llama_model_default_params,
        )
        internals.suppress_stdout_stderr = _KeepStreams  # type: ignore[assignment,misc]
        high.suppress_stdout_stderr = _KeepStreams  # type: ignore[assignment,misc]
        if safe:
            low.llama_model_default_params = _without_repacking(saved[2])  # type: ignore[assignment]
        try:
            yield
        finally:
            (
                internals.suppress_stdout_stderr,
                high.suppress_stdout_stderr,
                low.llama_model_default_params,
            ) = saved  # type: ignore[assignment]


def load_llama(model_path: str, *, safe: bool, **kwargs: Any) -> Any:
    """``Llama(model_path, **kwargs)``, without weight repacking when ``safe``, and without
    touching the process's stdout/stderr (see ``_KeepStreams``)."""
    from llama_cpp import Llama

    kwargs.setdefault("verbose", False)
    with _loading(safe):
        return Llama(model_path=model_path, **kwargs)


def disable_repacking_for_process() -> None:
    """For a process that only serves models (the AMX-safe ``llama_server`` launcher):
    every later load in this process skips weight repacking."""
    import llama_cpp.llama_cpp as low

    low.llama_model_default_params = _without_repacking(low.llama_model_default_params)  # type: ignore[assignment]


def _crash_like_amx(load_from_file: Any) -> Any:
    def load(path: Any, params: Any) -> Any:
        if params.use_extra_bufts:
            import signal

            os.write(2, b"RUNG_SIMULATE_AMX: a model was loaded with weight repacking\n")
            os.kill(os.getpid(), signal.SIGILL)
        return load_from_file(path, params)

    return load


def _install_simulated_amx() -> None:
    """Under ``RUNG_SIMULATE_AMX=1``: every model load in this process with repacking on
    dies from SIGILL, whoever makes it (``Llama(...)``, the server, a probe child)."""
    import llama_cpp.llama_cpp as low

    low.llama_model_load_from_file = _crash_like_amx(low.llama_model_load_from_file)


if simulating_amx():
    _install_simulated_amx()
