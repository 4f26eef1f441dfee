"""The local rung: llama.cpp in-process, one dedicated worker thread per model.

A ``Llama`` object is not thread-safe, so every call to it happens on this tier's own
thread; requests wait in a queue. Tokens cross to the event loop with
``call_soon_threadsafe``, so the loop is never blocked by the model.

Exact usage: llama.cpp reports no usage when streaming, so the prompt is formatted
with the model's own chat template and tokenized here (exact input count), and the
output is counted once per sampled token by a stopping criterion, which is also
what makes cancellation stop generation within one token.

Out of the box (issue 12): a small model such as the embedded SmolLM2 loops on open
questions until the output limit. Three things keep a reply short and sound: sampler
settings with a repeat penalty (the GGUF's own where it states them), a repetition
guard that ends a reply that has fallen into a loop, and the local rung's own output
limit. The thread count follows how busy the CPU is (``choose_threads``): llama.cpp's
threads wait for each other at every step, so one thread too many on a busy machine
costs far more than it could gain on an idle one (numbers: docs/PERFORMANCE.md).

This module is the tier and its worker thread; the parts live beside it: loading
(local_load.py), one reply (local_generate.py), the context window (local_context.py),
threads (local_threads.py), sampler settings (local_sampling.py), the repetition guard
(repetition.py). Tools use the text protocol (tool_text.py).
"""

from __future__ import annotations

import asyncio
import math
import os
import queue
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import (
    ChatRequest,
    Event,
    Failed,
    TierBase,
)
from .embedded_model import EMBEDDED_MODEL_FILE, EMBEDDED_MODEL_NAME, embedded_model_path
from .local_context import FALLBACK_TOKEN_CHARS, MIN_OUTPUT_ROOM, ContextFitting
from .local_generate import RUNNING_COUNT_EVERY, Generation
from .local_load import LocalModelError, ModelLoading
from .local_sampling import GGUF_SAMPLING_KEYS, Sampling, sampling_for
from .local_threads import (
    BUSY_SHARE,
    MIN_WINDOW_S,
    WINDOW_REFRESH_S,
    CpuTimes,
    choose_threads,
    fallback_threads,
    others_busy,
    read_cpu_times,
)
from .repetition import (
    GUARD_MAX_PERIOD,
    GUARD_MIN_COPIES,
    GUARD_MIN_SPAN,
    RepetitionGuard,
    asked_copies,
)
from .tool_text import text_request, with_text_tools

# The split-out parts, re-exported: tests and callers import them from here.
__all__ = [
    "BUSY_SHARE",
    "DEFAULT_MAX_TOKENS",
    "FALLBACK_TOKEN_CHARS",
    "GGUF_SAMPLING_KEYS",
    "GUARD_MAX_PERIOD",
    "GUARD_MIN_COPIES",
    "GUARD_MIN_SPAN",
    "MIN_OUTPUT_ROOM",
    "MIN_WINDOW_S",
    "RUNNING_COUNT_EVERY",
    "WINDOW_REFRESH_S",
    "CpuTimes",
    "LocalModelError",
    "LocalTier",
    "RepetitionGuard",
    "Sampling",
    "asked_copies",
    "choose_threads",
    "embedded_model_path",
    "fallback_threads",
    "model_display_name",
    "others_busy",
    "physical_cores",
    "read_cpu_times",
    "sampling_for",
    "usable_cores",
]

LOAD_POLL_S = 0.05  # how often an awaited load looks whether the model is ready
# The local rung's own output limit (``[local] max_tokens``); a reply gets
# min(request.max_tokens, this). 512 tokens hold a full chat answer: with the repeat
# penalty, 18 of 24 open questions to the embedded model ended by themselves after
# 213-494 tokens (the rest were long stories and an essay). It bounds the worst case to
# a few seconds for the embedded model and about a minute for a 7B model on a CPU,
# where the app's 2,048 tokens took minutes of looping.
DEFAULT_MAX_TOKENS = 512


def physical_cores() -> int:
    """Physical cores (llama.cpp runs no faster on hyper-threads, often slower)."""
    try:
        cores: set[tuple[str, str]] = set()
        phys = core = ""
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "physical id":
                phys = value
            elif key == "core id":
                core = value
            elif not key and (phys or core):
                cores.add((phys, core))
                phys = core = ""
        if phys or core:
            cores.add((phys, core))
        if cores:
            return len(cores)
    except OSError:
        pass
    return max(1, os.cpu_count() or 1)


def _cgroup_cpu_limit() -> float | None:
    """The CPU quota of this process's container, in CPUs (cgroup v2 or v1), if any."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        base = Path("/sys/fs/cgroup/cpu")
        quota_us = int((base / "cpu.cfs_quota_us").read_text())
        period_us = int((base / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def allowed_cpus() -> frozenset[int] | None:
    """The logical CPUs this process may run on (None where the OS cannot say)."""
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return None


def usable_cores() -> int:
    """Cores llama.cpp may use: physical cores, within this process's CPU affinity and
    its container's CPU quota (a container limited to 2 CPUs on a 64-core host must not
    start 32 threads)."""
    cores = physical_cores()
    cpus = allowed_cpus()
    if cpus:
        cores = min(cores, len(cpus))
    limit = _cgroup_cpu_limit()
    if limit:
        cores = min(cores, max(1, math.ceil(limit)))
    return max(1, cores)


def model_display_name(path: Path) -> str:
    if path.name == EMBEDDED_MODEL_FILE:
        return EMBEDDED_MODEL_NAME
    return path.stem


@dataclass
class _Job:
    request: ChatRequest
    emit: Callable[[Event | None], None]
    cancelled: threading.Event


class LocalTier(ModelLoading, Generation, ContextFitting, TierBase):
    """A GGUF model served from this process. Costs nothing per token."""

    kind = "local"
    provider = "local"
    can_stop = True  # checked once per sampled token; the usage stays exact
    needs_loading = True
    # No native tool format worth trusting in a small model: tools go in the prompt and
    # strict fenced blocks are parsed back (tiers/tool_text.py).
    can_call_tools = True
    tool_protocol = "text"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        name: str = "local",
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        repeat_penalty: float | None = None,
        repeat_guard: bool = True,
        weight_repacking: str = "auto",
        probe: bool = True,
        probe_cache: Path | None = None,
    ) -> None:
        """``n_threads``: None or 0 for Rung's default (the cores other programs leave
        free, judged before each reply); a number fixes it. ``n_threads_batch`` (prompt
        reading) follows ``n_threads`` unless given. ``max_tokens``: the local output
        limit. ``repeat_penalty``: None for the model's own (its GGUF) or 1.1."""
        path = Path(model_path).expanduser() if model_path else embedded_model_path()
        self.name = name
        self.model_path = path
        self.model = model_display_name(path) if path else EMBEDDED_MODEL_NAME
        self.n_ctx = n_ctx
        self.cores = usable_cores()
        self._cpus = allowed_cpus()
        # No thread count given: Rung chooses one before each reply.
        self.adaptive_threads = not n_threads
        self._batch_threads = n_threads_batch or None
        # The thread counts in use (llama.cpp's n_threads, n_threads_batch).
        self.n_threads = n_threads or fallback_threads(self.cores)
        self.n_threads_batch = n_threads_batch or self.n_threads
        self.max_tokens = max_tokens
        self.repeat_penalty = repeat_penalty
        self.repeat_guard = repeat_guard
        self.sampling = Sampling()
        self.weight_repacking = weight_repacking
        self.probe = probe
        self.probe_cache = probe_cache
        # True once loaded without weight repacking (the AMX-safe path).
        self.safe_load = False
        # Things the user should hear about the load (e.g. a crash that was avoided).
        self.load_notes: list[str] = []
        self._llm: Any = None
        self._formatter: Any = None
        self._load_error: str | None = None
        self._loaded = threading.Event()
        self._longest_token_chars: int | None = None
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._current: _Job | None = None
        # CPU counter readings that bound the window the next thread choice looks at.
        self._mark: CpuTimes | None = None
        self._prev_mark: CpuTimes | None = None
        # The worker (and llama.cpp's import and load) starts on first use: ``load()``,
        # ``stream()`` or ``start_loading()``. Started here, it competed with the chat
        # screen's start-up for the interpreter, and commands that never ask the local
        # model (rung cost, rung route) loaded it for nothing.
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def start_loading(self) -> None:
        """Start loading the model in the background, once (later calls do nothing)."""
        with self._start_lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name=f"llama-{self.name}",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    # -- state the UI shows -------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._loaded.is_set() and self._load_error is None

    @property
    def load_error(self) -> str | None:
        return self._load_error

    @property
    def unusable_reason(self) -> str | None:
        return "model failed to load" if self._load_error else None

    async def load(self) -> None:
        """Load the model (if not yet started) and wait until it is loaded.

        Raises LocalModelError naming the path when it cannot be loaded.
        """
        self.start_loading()
        # Polled, not waited for on an executor thread: the end of asyncio.run joins its
        # executor, so a thread blocked here held a quick quit back until the model had
        # loaded (bench/startup.py).
        while not self._loaded.is_set():
            await asyncio.sleep(LOAD_POLL_S)
        if self._load_error:
            raise LocalModelError(self._load_error)

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Load the model (if not yet started) and block until it is loaded or failed, for
        code outside an event loop (test fixtures, benchmarks). False on timeout."""
        self.start_loading()
        return self._loaded.wait(timeout)

    # -- the worker thread ----------------------------------------------------
    def _run(self) -> None:
        # From here on, CPU use by other programs is what the first reply's threads are
        # chosen by (our own load and the probe's child are subtracted).
        self._roll_cpu_window()
        self._load()
        while True:
            try:
                job = self._jobs.get(timeout=WINDOW_REFRESH_S)
            except queue.Empty:
                self._roll_cpu_window()
                continue
            if job is None:
                return
            try:
                self._generate(job)
            except Exception as exc:  # report, keep the thread alive for the next request
                job.emit(Failed(f"The local model failed: {exc}", kind="model"))
            finally:
                self._roll_cpu_window()
                job.emit(None)

    # -- threads ----------------------------------------------------------------
    def _roll_cpu_window(self) -> None:
        """Start a new window for measuring other programs' CPU use; the one before it
        is kept so that a reply right after another still has a window to look at."""
        if not self.adaptive_threads:
            return
        now = read_cpu_times(self._cpus)
        if now is not None:
            self._prev_mark, self._mark = self._mark, now

    def _choose_threads(self) -> tuple[int, int]:
        """The (generation, prompt) thread counts for the reply about to start."""
        if not self.adaptive_threads:
            return self.n_threads, self.n_threads_batch
        others = None
        now = read_cpu_times(self._cpus)
        for start in (self._mark, self._prev_mark):
            if now is not None and start is not None and others is None:
                others = others_busy(start, now)
        if others is None:  # no usable window (no /proc, or a moment after loading)
            return self.n_threads, self.n_threads_batch
        chosen = choose_threads(self.cores, len(self._cpus or ()) or self.cores, others)
        return chosen, self._batch_threads or chosen

    def _apply_threads(self, llm: Any) -> None:
        n_threads, n_threads_batch = self._choose_threads()
        if (n_threads, n_threads_batch) != (self.n_threads, self.n_threads_batch):
            import llama_cpp

            # Takes effect at the next decode; the model and its KV cache stay as they are.
            llama_cpp.llama_set_n_threads(llm.ctx, n_threads, n_threads_batch)
            self.n_threads, self.n_threads_batch = n_threads, n_threads_batch

    # -- the Tier protocol ----------------------------------------------------
    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        if request.tools or any(m.role == "tool" or m.tool_calls for m in request.messages):
            return with_text_tools(self._stream(text_request(request)), request.tools)
        return self._stream(request)

    async def _stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        loop = asyncio.get_running_loop()
        out: asyncio.Queue[Event | None] = asyncio.Queue()
        job = _Job(
            request, lambda e: loop.call_soon_threadsafe(out.put_nowait, e), threading.Event()
        )
        self._current = job
        self._jobs.put(job)
        self.start_loading()
        try:
            while True:
                event = await out.get()
                if event is None:
                    return
                yield event
        finally:
            # Cancelled or closed early: the worker stops at the next token.
            job.cancelled.set()

    def stop(self) -> None:
        """Stop the reply in flight within one token; the stream still ends with the exact
        usage and ``Finished("cancelled")``, so nothing has to be estimated."""
        if self._current is not None:
            self._current.cancelled.set()

    async def aclose(self) -> None:
        # Joined off the event loop: a worker still loading can take a moment to end.
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker and wait for it: a process that exits while llama.cpp is
        still loading or generating on another thread can die without a word."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        self._jobs.put(None)
        if thread is None:  # never started: nothing to wait for, and nothing will load
            if not self._loaded.is_set():
                self._load_error = self._load_error or "The local tier was closed."
                self._loaded.set()
            return
        if threading.current_thread() is not thread:
            thread.join(timeout)
