"""What the router learns from its user: a small memory of lessons, local only.

Two things a user does say something the trained model cannot know:

- **F9 / Ctrl+R on an answer** (escalation): that question was too hard for the rung
  that answered it. Lesson *up*, about that rung.
- **A cheaper rung pinned for a question, and its answer kept** (the next message goes
  on without escalating): that rung was enough, although Auto would have climbed.
  Lesson *down*, about that rung.

The method is nearest-neighbour memory, not a second weight vector. A per-user weight
vector over the model's hashed inputs would also move every question sharing a word or
the prompt's shape with a lesson ("short request", "how"); a few lessons would then
shift unrelated routing in ways nobody could explain. A memory moves only questions
that are *like* a lesson (cosine similarity of their content words at or above
``THRESHOLD``; below it a lesson has no say at all), and every move names the lessons
behind it, so `rung route --explain` can show them.

How a new question is moved: the lessons vote with the trained model. Each similar
lesson weighs ``w = min(1, (s - THRESHOLD) / (FULL - THRESHOLD))`` (``s`` its
similarity: a near-twin counts fully, a loose match little), only the ``TOP_K`` most
similar vote, and the score becomes

    (PRIOR x model's score + up weight) / (PRIOR + up weight + down weight)

with an up lesson voting 1 ("climb") and a down lesson 0 ("stay"). The model counts
as ``PRIOR`` lessons, so one escalation of the very same question tips a question the
model was unsure of, two or three escalations of paraphrases tip even a confident
"quick" (0.01 -> 0.5 and more), and however many lessons agree, the move stays within
0..1 and needs no cap. The router also bounds the move by the rungs the lessons name
(an escalation from local to deepseek never sends a similar question past deepseek).

Lessons that agree teach what they agree on. Two escalations of "Summarise the play
Hamlet in one line." and "... Macbeth ..." share a frame ("summarise the play _ in one
line") and differ in the slot, and the slot is most of each question's content words:
"... King Lear ..." is only 0.50 like each of them (weight 0.26 each, score 0.34: it
stays local). So when two of the near lessons agree (same direction, same rungs) and
are like each other (``THRESHOLD``), a question is also compared with their shared
frame (the features both have, as a unit vector), and each of the two counts with the
better of the two similarities: King Lear is 0.67 like the frame (weight 0.67 each,
score 0.57: it climbs). The question must already be near both lessons, so a frame
gives no new lesson a say; a single lesson, or two that disagree, have no frame.

Similarity reads the question's content words (the router's tokens, without common
words and generic asks such as "write" or "explain"), without their endings and cut to
six letters, so "validate" meets "validation" and "collector" meets "collection",
plus the pairs of neighbouring words of the instruction. The instruction's words and
the material after it (a pasted log, code) are two families of unit length, the
material at half weight, so a long paste does not outvote the ask. Words are hashed
(CRC-32, as the model's inputs); the question's first ``TEXT_CHARS`` characters are
kept only to explain a vote.

``LessonMemory`` is pure (no I/O) and is what the router reads; ``LessonStore``
(lessons_store.py) keeps it in a JSON file in the data directory (0600, written
atomically). A damaged file is moved aside, reported and replaced by an empty memory:
never a crash. The trained model's file is never written.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .lesson_features import dot, frame, similarity_features

if TYPE_CHECKING:
    from .router import Words

FILE_NAME = "router_lessons.json"
FORMAT = 1
# Bumped whenever `similarity_features` (tiers/lesson_features.py) changes: stored
# vectors are then rebuilt from the stored text (the first TEXT_CHARS characters:
# close enough for a neighbour).
FEATURES_VERSION = 1
MAX_LESSONS = 500  # the oldest go first; 500 is a year of F9 for most people
THRESHOLD = 0.4  # below this a lesson has no say at all
FULL = 0.8  # from this similarity on, a lesson counts fully
PRIOR = 1.0  # the trained model's score counts as this many lessons
TOP_K = 8  # only the nearest lessons count
TEXT_CHARS = 300
# A word in more lessons than this share (and at least COMMON_MIN of them) says little
# about which lesson a question is like; skipping it also keeps look-ups short.
COMMON_SHARE = 0.2
COMMON_MIN = 40
UP, DOWN = "up", "down"


@dataclass(frozen=True)
class Lesson:
    """One thing the user taught the router about one question."""

    question: str  # its first TEXT_CHARS characters, to explain a vote
    direction: str  # UP: too hard for ``rung``; DOWN: ``rung`` was enough
    rung: str  # escalated from (UP) / kept on (DOWN)
    to: str = ""  # UP: the rung the user escalated to
    at: str = ""  # when, ISO 8601 UTC
    vector: dict[int, float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def sign(self) -> float:
        return 1.0 if self.direction == UP else -1.0

    def describe(self) -> str:
        """One line for `--explain`: what happened, to which question."""
        if self.direction == UP:
            what = f"escalated {self.rung} -> {self.to}"
        else:
            what = f"kept on {self.rung}"
        text = " ".join(self.question.split())
        text = text if len(text) <= 60 else text[:59] + "…"
        return f'{what}: "{text}"' + (f" ({self.at[:10]})" if self.at else "")


@dataclass(frozen=True)
class Hit:
    lesson: Lesson
    similarity: float
    weight: float  # its vote's weight, 0..1, signed: positive for "climb"
    # The similarity is to the frame this lesson shares with an agreeing one (the
    # question fills the slot where they differ), not to the lesson itself.
    framed: bool = False


@dataclass(frozen=True)
class Adjustment:
    """What the lessons do to one question: their votes, and who cast them."""

    up: float  # the summed weight of the similar lessons voting "climb"
    down: float  # ... and "stay"
    hits: tuple[Hit, ...]  # most similar first

    def apply(self, score: float) -> float:
        """The score once the lessons have voted with the model."""
        return (PRIOR * score + self.up) / (PRIOR + self.up + self.down)

    def driving(self, climbing: bool) -> list[Hit]:
        """The lessons that voted the way the score moved."""
        return [h for h in self.hits if (h.weight > 0) == climbing]


class LessonMemory:
    """The lessons and an inverted index over their features (pure: no I/O).

    A look-up touches only lessons sharing a feature with the question, so its cost
    grows with how many lessons are *like* it, not with the size of the memory."""

    def __init__(self, lessons: Iterable[Lesson] = ()) -> None:
        # Keyed by (question, direction, rung): the same lesson twice (the same question
        # escalated from the same rung again, after a regeneration) replaces the first,
        # so one question cannot outvote the others. Insertion order is age order.
        self._lessons: dict[tuple[str, str, str], Lesson] = {}
        self._index: dict[int, list[tuple[int, float]]] | None = None
        self._listed: list[Lesson] | None = None
        for lesson in lessons:
            self.add(lesson)

    @property
    def lessons(self) -> list[Lesson]:
        """Oldest first."""
        if self._listed is None:
            self._listed = list(self._lessons.values())
        return self._listed

    def __len__(self) -> int:
        return len(self._lessons)

    def count(self, direction: str) -> int:
        return sum(1 for lesson in self._lessons.values() if lesson.direction == direction)

    def add(self, lesson: Lesson) -> None:
        if not lesson.vector:
            lesson = Lesson(lesson.question, lesson.direction, lesson.rung, lesson.to,
                            lesson.at, similarity_features(lesson.question))  # fmt: skip
        key = (lesson.question, lesson.direction, lesson.rung)
        self._lessons.pop(key, None)
        self._lessons[key] = lesson
        while len(self._lessons) > MAX_LESSONS:
            del self._lessons[next(iter(self._lessons))]
        self._index = self._listed = None

    def clear(self) -> None:
        self._lessons.clear()
        self._index = self._listed = None

    def _postings(self) -> dict[int, list[tuple[int, float]]]:
        if self._index is None:
            index: dict[int, list[tuple[int, float]]] = {}
            for i, lesson in enumerate(self.lessons):
                for key, value in lesson.vector.items():
                    index.setdefault(key, []).append((i, value))
            common = max(COMMON_MIN, int(COMMON_SHARE * len(self.lessons)))
            self._index = {k: v for k, v in index.items() if len(v) <= common}
        return self._index

    def adjust(self, text: str, words: Words | None = None) -> Adjustment | None:
        """The lessons' votes on a question (its last message), or None if none is
        similar enough. ``words``: its tokens, if the router already read them."""
        if not self.lessons:
            return None
        index = self._postings()
        dots: dict[int, float] = {}
        question = similarity_features(text, words)
        for key, value in question.items():
            for i, weight in index.get(key, ()):
                dots[i] = dots.get(i, 0.0) + value * weight
        near = sorted(
            ((s, i) for i, s in dots.items() if s >= THRESHOLD), key=lambda si: (-si[0], -si[1])
        )[:TOP_K]
        framed = _framed(question, [(s, self.lessons[i]) for s, i in near])
        hits = []
        for (s, i), f in zip(near, framed, strict=True):
            lesson = self.lessons[i]
            s = max(s, f)
            weight = min(1.0, (s - THRESHOLD) / (FULL - THRESHOLD))
            if weight > 0:
                hits.append(Hit(lesson, round(s, 3), lesson.sign * weight, f > 0))
        hits.sort(key=lambda h: -h.similarity)
        if not hits:
            return None
        up = math.fsum(h.weight for h in hits if h.weight > 0)
        down = -math.fsum(h.weight for h in hits if h.weight < 0)
        return Adjustment(up, down, tuple(hits))


def _framed(question: dict[int, float], near: list[tuple[float, Lesson]]) -> list[float]:
    """Per near lesson, the question's similarity to the frame it shares with another
    near lesson that agrees with it (same direction, same rungs) and is itself like it
    (at least ``THRESHOLD``), and that the question matches better than either lesson
    alone (0.0: none). Two lessons that agree teach their frame, not their slot
    fillers: "Hamlet" and "Macbeth" are most of each question's content words, so a
    third play matches each lesson at 0.50 but their shared frame at 0.67 (see the
    module doc). The question must already be near both lessons, so a frame gives
    no new lesson a say: it only lets agreeing ones count for what they agree on."""
    best = [0.0] * len(near)
    for x, y in itertools.combinations(range(len(near)), 2):
        (sx, a), (sy, b) = near[x], near[y]
        if (a.direction, a.rung, a.to) != (b.direction, b.rung, b.to):
            continue
        if dot(a.vector, b.vector) < THRESHOLD:
            continue
        f = dot(question, frame(a.vector, b.vector))
        if f > max(sx, sy):
            best[x], best[y] = max(best[x], f), max(best[y], f)
    return best
