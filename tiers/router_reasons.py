"""How a routing decision is put into words: the trained model's pushes by names a
user can read (hand signals, words in quotes, the message's shape as a last resort),
the two strongest the way the decision went, and what the lessons did."""

from __future__ import annotations

import collections
import itertools
import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lessons import Hit
    from .router_features import Features

SHAPE_NAMES = {
    "s:fence": "code block",
    "s:lines": "several lines",
    "s:material": "text to work on",
    "s:question": "a question",
}


# Words that name no subject: the model may weigh them, but a reason should not show them.
STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        "a an the this that these those it its is are was be to of in on at for with and or "
        "but my our your me i we you what which who how why do does can could would should "
        "please some any all there here from by as so if not no 0",
    )
)


def add(pushes: dict[str, float], label: str, weight: float) -> None:
    pushes[label] = pushes.get(label, 0.0) + weight


def pushes(
    contributions: dict[str, float], f: Features, grams: dict[str, set[str]]
) -> tuple[dict[str, float], dict[str, float]]:
    """The model's pushes by what a user can read: hand signals and words first, the
    prompt's shape ("short request") apart, as a last resort for a reason."""
    primary: dict[str, float] = {}
    shapes: dict[str, float] = {}
    by_gram: dict[str, float] = {}
    for name, c in contributions.items():
        family, rest = name[0], name[2:]  # every input name is "<letter>:<rest>"
        if family == "c":
            by_gram[rest] = c
        elif family == "h":
            add(primary, f.kinds[rest], c)
        elif family in ("a", "w", "f"):
            if " " not in rest:  # most inputs are single words: skip the split
                if rest not in STOPWORDS:
                    add(primary, f"'{rest}'", c)
                continue
            words = [w for w in rest.split() if w not in STOPWORDS]
            if words:
                add(primary, "'" + " ".join(words) + "'", c)
        elif family == "s":
            long = rest.startswith("len") and int(rest[3:]) >= 5  # more than 40 words
            add(shapes, SHAPE_NAMES.get(name, "long request" if long else "short request"), c)
    # A letter n-gram's weight goes to the words it comes from, shared if several do.
    named = {t: gs for t, gs in grams.items() if t not in STOPWORDS}
    owners = collections.Counter(itertools.chain.from_iterable(named.values()))
    for token, gs in named.items():
        add(primary, f"'{token}'", math.fsum(by_gram.get(g, 0.0) / owners[g] for g in gs))
    return primary, shapes


def why_text(primary: dict[str, float], shapes: dict[str, float], climbing: bool) -> str:
    """The two strongest pushes the way the decision went, without repeating words."""
    chosen: list[str] = []
    for pushes in (primary, shapes):
        # Ties go by name, so a reason does not depend on the order sets came out in.
        ranked = sorted(pushes.items(), key=lambda kv: (-kv[1] if climbing else kv[1], kv[0]))
        for name, w in ranked:
            if len(chosen) == 2 or (w > 0) != climbing or abs(w) < 0.05:
                break
            words = name.strip("'").split()
            if not any(all(word in c for word in words) for c in chosen):
                chosen.append(name)
    if not chosen:
        return "nothing that needs a bigger model" if not climbing else "a demanding request"
    return ", ".join(chosen)


def learned_why(hits: list[Hit], climbing: bool) -> str:
    n, s = len(hits), "s" if len(hits) != 1 else ""
    if climbing:
        return f"you escalated {n} similar question{s}"
    rungs = "/".join(dict.fromkeys(h.lesson.rung for h in hits))
    return f"you kept {n} answer{s} to similar questions on {rungs}"
