"""One local reply on the worker thread: the prompt fitted to the context, the prompt
cache reused where the new prompt starts like the last one, tokens streamed with an
exact count, and the reply stopped within one token on cancel, at the output limit,
or by the repetition guard."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .base import Failed, Finished, Notice, TextDelta, Usage
from .repetition import RepetitionGuard, asked_copies

if TYPE_CHECKING:
    from .local import _Job

# The local tier reports its exact output count so far this often (in tokens).
RUNNING_COUNT_EVERY = 32


class Generation:
    """``_generate`` for LocalTier."""

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


def _common_prefix(previous: Any, tokens: list[int]) -> int:
    n = 0
    for a, b in zip(previous, tokens, strict=False):
        if a != b:
            break
        n += 1
    return n
