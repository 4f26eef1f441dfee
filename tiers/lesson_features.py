"""How alike a question and a lesson are: the question as a unit vector of hashed
content-word stems, and the frame two lessons share (see tiers/lessons.py, whose
module doc explains both). Pure: no I/O."""

from __future__ import annotations

import itertools
import math
import re
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .router import Words

STEM = 6  # letters of a word that count, after its suffix: "collector" ~ "collection"
BODY_WEIGHT = 0.5  # the material after the instruction, against the instruction itself
BUCKETS = 1 << 20
# Asks and fillers that say nothing about the subject (the router's STOPWORDS too).
GENERIC = frozenset(
    re.findall(
        r"\S+",
        "write explain give make tell need want use using get like just also one new help "
        "show let me please thanks thank hi hello hey ok okay yes no can will could would "
        "what's it's i'm i'd i've don't doesn't that's there's let's how's can't isn't "
        "into about than then them they their has have had been were more most very much "
        "many only each other such when where which while out up over after before "
        "between through again still really something thing things way every",
    )
)
# Endings cut before the first STEM letters count, longest first: "validates",
# "validated" and "validation" all become "valid".
SUFFIXES = ("ations", "ation", "ings", "ing", "ions", "ion", "ates", "ated", "ate", "ers",
            "er", "es", "ed", "s")  # fmt: skip


def _stem(token: str) -> str:
    for suffix in SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)][:STEM]
    return token[:STEM]


def _content(token: str, stopwords: frozenset[str]) -> bool:
    return len(token) > 1 and token != "0" and token not in stopwords and token not in GENERIC


def similarity_features(text: str, words: Words | None = None) -> dict[int, float]:
    """The question as a unit vector of hashed content-word stems (see the module doc).
    ``words``: its instruction's and its whole text's tokens, when the router has them."""
    # Imported here, not above: the lessons file is read at start (tiers/lessons.py) and
    # the router's regexes (~20 ms) are not needed until a question is compared.
    from .router import ASK_TOKENS, BODY_TOKENS, STOPWORDS, _instruction, _tokens

    if words is None:
        words = (_tokens(_instruction(text), ASK_TOKENS), _tokens(text, BODY_TOKENS))
    ask_stems = [_stem(t) for t in words[0] if _content(t, STOPWORDS)]
    asked = {*ask_stems, *(a + " " + b for a, b in itertools.pairwise(ask_stems))}
    body = {_stem(t) for t in words[1] if _content(t, STOPWORDS)} - asked
    vector: dict[int, float] = {}
    for family, weight in ((asked, 1.0), (body, BODY_WEIGHT)):
        if family:
            value = weight / math.sqrt(len(family))
            for gram in family:
                key = zlib.crc32(gram.encode()) % BUCKETS
                vector[key] = vector.get(key, 0.0) + value
    norm = math.sqrt(math.fsum(v * v for v in vector.values()))
    return {k: v / norm for k, v in vector.items()} if norm else {}


def dot(a: dict[int, float], b: dict[int, float]) -> float:
    if len(b) < len(a):
        a, b = b, a
    return math.fsum(v * b.get(k, 0.0) for k, v in a.items())


def frame(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    """What two lessons' questions have in common, as a unit vector: the frame
    "summarise the play _ in one line" of the Hamlet and the Macbeth question."""
    shared = {k: min(v, b[k]) for k, v in a.items() if k in b}
    norm = math.sqrt(math.fsum(v * v for v in shared.values()))
    return {k: v / norm for k, v in shared.items()} if norm else {}
