"""When the agent condenses its transcript on its own, and when it holds off (pure).

A step whose request would fill more than ``compact_at`` of its rung's context window
is preceded by a compaction (``compaction.py``). When even the condensed transcript is
over that mark, the fixed prompt (system, tools) and the ``keep_last`` steps kept whole
fill the window by themselves: condensing again before the next step would pay a
digest per step for nothing. Then the user is told once, and the next automatic
compaction waits until ``2 x keep_last`` (at least 4) more steps were taken, so there
is something old enough to condense. ``/compact`` (the user's) always runs.
"""

from __future__ import annotations

MIN_WAIT_STEPS = 4


class CompactionPolicy:
    def __init__(self, compact_at: float, keep_last: int) -> None:
        self.compact_at = compact_at
        self.keep_last = keep_last
        # No automatic compaction while the transcript holds fewer steps than this.
        self._again = 0
        self._told = False  # the window-too-small notice is said once per agent

    def over(self, tokens: int, window: int | None) -> bool:
        """Whether a request of ``tokens`` is past the mark in ``window``."""
        return bool(window) and tokens >= self.compact_at * (window or 0)

    def waiting(self, steps_held: int) -> bool:
        """Whether the last compaction could not get under the mark and too few steps
        came since for another to help."""
        return steps_held < self._again

    def compacted(self) -> None:
        """A compaction ran (automatic or ``/compact``): the wait starts over."""
        self._again = 0

    def still_over(
        self, steps_held: int, after_tokens: int, window: int, fixed_tokens: int
    ) -> str | None:
        """An automatic compaction left the request at ``after_tokens``, still past the
        mark: the next waits; the notice to show (the first time only), else None."""
        wait = max(MIN_WAIT_STEPS, 2 * self.keep_last)
        self._again = steps_held + wait
        if self._told:
            return None
        self._told = True
        return (
            f"the context window ({window:,} tokens) is too small for this run: after "
            f"compaction the request is still {after_tokens:,} tokens (the prompt and tools "
            f"{fixed_tokens:,}, the last {self.keep_last} steps kept whole), over "
            f"{self.compact_at:.0%} of it; compaction waits {wait} steps before trying "
            "again. Raise [agent] context_window or lower keep_last."
        )
