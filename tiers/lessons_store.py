"""The router's lessons on disk: ``LessonStore`` keeps a ``LessonMemory`` in a JSON file
in the data directory (0600, written atomically, re-read when another Rung wrote it). A
damaged file is moved aside, reported and replaced by an empty memory: never a crash.
``summary`` is the settings screen's one line about the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from .lesson_features import BUCKETS, similarity_features
from .lessons import (
    DOWN,
    FEATURES_VERSION,
    FORMAT,
    TEXT_CHARS,
    UP,
    Lesson,
    LessonMemory,
)


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class LessonStore:
    """The memory in ``path``: read once, written after every new lesson. Problems
    (a damaged file, a failed write) are collected in ``problems``, never raised."""

    def __init__(self, path: Path, memory: LessonMemory | None = None) -> None:
        self.path = path
        self.memory = memory if memory is not None else LessonMemory()
        self.problems: list[str] = []
        # The file as we last read or wrote it (mtime in ns, size): another value means
        # another Rung wrote it since.
        self._seen: tuple[int, int] | None = None

    @classmethod
    def load(cls, path: Path) -> LessonStore:
        store = cls(path)
        store.memory = store._read()
        return store

    def take_problems(self) -> list[str]:
        found, self.problems = self.problems, []
        return found

    # -- reading ------------------------------------------------------------------------
    def _read(self) -> LessonMemory:
        try:
            raw = self.path.read_bytes()
            self._seen = _signature(self.path)
        except FileNotFoundError:
            return LessonMemory()
        except OSError as exc:
            self.problems.append(f"Cannot read the router's lessons ({self.path}): {exc}")
            return LessonMemory()
        try:
            return LessonMemory(parse(raw))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            aside = self.path.with_name(self.path.name + ".damaged")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            self._seen = None
            self.problems.append(
                f"The router's lessons file was damaged ({exc}); it was moved to {aside} "
                "and routing starts again from the trained model."
            )
            return LessonMemory()

    def _merge_from_disk(self) -> None:
        """Another Rung (a second window, `rung ask`) may have added lessons since we
        read the file: start from the file, so neither loses the other's."""
        try:
            seen = _signature(self.path)
        except FileNotFoundError:
            if self._seen is not None:  # deleted since we read it: `rung route --forget`
                self.memory, self._seen = LessonMemory(), None
            return
        except OSError:
            return
        if seen != self._seen:
            self.memory = self._read()

    def current(self) -> LessonMemory:
        """The memory, re-read first if another Rung changed the file (one stat)."""
        self._merge_from_disk()
        return self.memory

    # -- writing ------------------------------------------------------------------------
    def record_escalation(self, question: str, from_rung: str, to_rung: str) -> Lesson:
        """F9 on an answer from ``from_rung``: similar questions should climb past it."""
        return self._record(Lesson(question[:TEXT_CHARS], UP, from_rung, to_rung, now_iso(),
                                   similarity_features(question)))  # fmt: skip

    def record_kept(self, question: str, rung: str) -> Lesson:
        """A pinned, cheaper ``rung`` answered and the user went on: it was enough."""
        return self._record(Lesson(question[:TEXT_CHARS], DOWN, rung, "", now_iso(),
                                   similarity_features(question)))  # fmt: skip

    def _record(self, lesson: Lesson) -> Lesson:
        self._merge_from_disk()
        self.memory.add(lesson)
        self.save()
        return lesson

    def forget(self) -> int:
        """Drop every lesson (the file goes too); how many there were."""
        self._merge_from_disk()
        count = len(self.memory)
        self.memory.clear()
        for path in (self.path, self.path.with_name(self.path.name + ".damaged")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._seen = None
        return count

    def save(self) -> bool:
        """Write the file atomically, readable by the user only."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".lessons-", dir=self.path.parent)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(dump(self.memory.lessons))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self._seen = _signature(self.path)
            return True
        except OSError as exc:
            self.problems.append(f"Could not save the router's lessons ({self.path}): {exc}")
            return False


def _signature(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def dump(lessons: list[Lesson]) -> bytes:
    rows = []
    for lesson in lessons:
        keys = sorted(lesson.vector)
        rows.append({
            "q": lesson.question, "dir": lesson.direction, "rung": lesson.rung,
            "to": lesson.to, "at": lesson.at,
            # Buckets and weights in thousandths, as the model file stores them.
            "f": keys, "w": [round(lesson.vector[k] * 1000) for k in keys],
        })  # fmt: skip
    data = {"format": FORMAT, "features_version": FEATURES_VERSION, "lessons": rows}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def parse(raw: bytes) -> list[Lesson]:
    """Lessons from the file's bytes; raises ValueError (or TypeError, KeyError) for
    anything that is not a lessons file this version wrote."""
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a lessons file, or from another version of Rung")
    fresh = data.get("features_version") == FEATURES_VERSION
    rows = data["lessons"]
    if not isinstance(rows, list):
        raise ValueError("lessons is not a list")
    out = []
    for row in rows:
        question, direction, rung = row["q"], row["dir"], row["rung"]
        to, at = row.get("to", ""), row.get("at", "")
        if not all(isinstance(v, str) for v in (question, direction, rung, to, at)):
            raise TypeError("a lesson's text fields must be strings")
        if direction not in (UP, DOWN) or not rung:
            raise ValueError(f"a lesson has direction {direction!r} on rung {rung!r}")
        vector: dict[int, float] = {}
        if fresh:
            keys, weights = row["f"], row["w"]
            if len(keys) != len(weights):
                raise ValueError("a lesson's features and weights differ in length")
            for k, w in zip(keys, weights, strict=True):
                if not (isinstance(k, int) and isinstance(w, int) and 0 <= k < BUCKETS):
                    raise ValueError("a lesson has a feature out of range")
                vector[k] = w / 1000
        out.append(Lesson(question, direction, rung, to, at, vector))
    return out


def summary(path: Path) -> str:
    """One line for the settings screen: how many lessons, of which kind (read only)."""
    try:
        lessons = parse(path.read_bytes())
    except FileNotFoundError:
        lessons = []
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return "Learned routing: the lessons file cannot be read (it is reset at next start)."
    if not lessons:
        return "Learned routing: no lessons yet (F9 on an answer teaches the router)."
    up = sum(1 for lesson in lessons if lesson.direction == UP)
    return (
        f"Learned routing: {len(lessons)} lesson{'s' if len(lessons) != 1 else ''} "
        f"({up} escalated, {len(lessons) - up} kept cheaper); `rung route --forget` resets."
    )
