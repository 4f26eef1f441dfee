"""The local model's sampler settings: the GGUF's own where it states them, otherwise
defaults with a repeat penalty (without it the embedded model loops)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
