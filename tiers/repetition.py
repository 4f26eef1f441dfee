"""The repetition guard: ends a local reply that has fallen into a loop (a block of
tokens repeated again and again), unless the user asked for that many copies."""

from __future__ import annotations

import re

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
