"""Fitting a conversation into the local model's context window: the prompt formatted
with the model's own chat template and tokenized (the exact input count), the oldest
turns dropped until the reply has room, and a message that cannot fit refused early
(from its length alone, before tokenizing megabytes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import ChatRequest, Failed, Notice

if TYPE_CHECKING:
    from .local import _Job

# Output room we keep free when trimming old turns to fit the context window.
MIN_OUTPUT_ROOM = 256
# The longest token assumed when a model's vocabulary cannot be read (real vocabularies:
# a few dozen bytes at most).
FALLBACK_TOKEN_CHARS = 256


class ContextFitting:
    """The prompt side of LocalTier (runs on its worker thread, with its model)."""

    n_ctx: int
    max_tokens: int
    _llm: Any
    _formatter: Any
    _longest_token_chars: int | None

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
