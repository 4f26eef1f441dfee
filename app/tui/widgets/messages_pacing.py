"""How often a streaming reply is drawn: in batches, paced by the event loop's CPU use,
and held back while the user types (widgets/messages_item.py draws them)."""

from __future__ import annotations

import time

# A streaming reply reaches the Markdown view in batches. Each write re-lays out and
# redraws the conversation: written token by token, a reply at 100 tokens/s took 7.5 ms
# of CPU per token against 1.2 ms unthrottled (bench/stream_render.py). Batches go out
# every 50 ms (20 a second reads as a smooth stream); when drawing keeps the event loop
# busy more than half the time (long replies, slow machines), the interval grows, up to
# 200 ms, so that typing and the rest of the app stay responsive. The last piece is
# drawn at once when the reply ends.
FLUSH_MIN_S = 0.05
FLUSH_MAX_S = 0.2
BUSY_HIGH, BUSY_LOW = 0.5, 0.25


# Typing comes first: each batch re-lays out the screen (20-60 ms on a 2-core VM with a
# long reply), and a key pressed meanwhile waits for it. While the user types, the reply
# is drawn when typing pauses for TYPING_HOLD_S, or at the latest every TYPING_MAX_HOLD_S,
# right after a key's echo (bench/stream_render.py --typing).
TYPING_HOLD_S = 0.15
TYPING_MAX_HOLD_S = 5.0


class FlushPacer:
    """How long to wait before the next batch, from the event loop thread's CPU use."""

    def __init__(self) -> None:
        self.interval = FLUSH_MIN_S
        self._wall = time.monotonic()
        self._cpu = time.thread_time()  # this thread only: llama.cpp's threads do not count

    def flushed(self) -> None:
        wall, cpu = time.monotonic(), time.thread_time()
        if wall - self._wall >= FLUSH_MIN_S:
            busy = (cpu - self._cpu) / (wall - self._wall)
            if busy > BUSY_HIGH:
                self.interval = min(FLUSH_MAX_S, self.interval * 1.5)
            elif busy < BUSY_LOW:
                self.interval = max(FLUSH_MIN_S, self.interval / 1.5)
            self._wall, self._cpu = wall, cpu
