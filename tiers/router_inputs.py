"""What the router's trained model reads (`model_inputs`), and the model itself
(`TrainedModel`): hashed inputs, a CRC-32 per input and a dict lookup, tens of
microseconds. One function serves inference (tiers/router.py) and training
(bench/train_router.py), so the two cannot drift apart."""

from __future__ import annotations

import itertools
import json
import math
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from .base import ChatRequest
from .router_features import Features, _instruction, features, last_message, word_count

# Bumped whenever `model_inputs` changes, so a stale weights file is refused, not misread.
MODEL_INPUTS_VERSION = 1
WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*[+#]*")
ASK_TOKENS = 64  # an instruction longer than this is material, not more instruction
# Letter n-grams of the instruction's words let "collector" count like "collection".
CHAR_SIZES = (3, 4, 5)
BODY_TOKENS = 400  # a long paste is told apart by its first few hundred words
# Signals the training prompts cannot show (one message each, no files): they move the
# model's log-odds by their hand weight instead.
CONTEXT_KINDS = ("long_conversation", "attachment")
LENGTH_BINS = (2, 5, 10, 20, 40, 80, 160)


def tokens(text: str, limit: int) -> list[str]:
    # Numbers become one token: "1776" and "2024" say the same about difficulty. A long
    # paste is read only as far as the limit (finditer stops there; findall would not).
    found = itertools.islice(WORD.finditer(text.lower()), limit)
    return ["0" if t[0].isdigit() else t for t in (m.group(0) for m in found)]


def char_grams(token: str) -> list[str]:
    padded = f" {token} "
    return [padded[i : i + n] for n in CHAR_SIZES for i in range(len(padded) - n + 1)]


def bag(x: dict[str, float], prefix: str, grams: set[str]) -> None:
    # Unit length per family, so a long paste does not outvote its instruction.
    if grams:
        value = 1.0 / math.sqrt(len(grams))
        for g in grams:
            x[prefix + g] = value


def model_inputs(request: ChatRequest, f: Features | None = None) -> dict[str, float]:
    """What the trained model reads, by name: the hand signals' weights, the
    instruction's words, word pairs and letter n-grams, its first words, the whole
    message's words and its shape. Shared by inference and bench/train_router.py."""
    return read_inputs(request, f if f is not None else features(request))[0]


Words = tuple[list[str], list[str]]  # the instruction's tokens, the message's tokens


def read_inputs(
    request: ChatRequest, f: Features
) -> tuple[dict[str, float], dict[str, set[str]], Words]:
    """The inputs, each instruction word's letter n-grams (to credit them in reasons), and
    the tokens read (the lessons' similarity reads the same ones: tokenized once)."""
    last = last_message(request)
    ask = _instruction(last)
    x = {"h:" + k: f.signals[name] for k, name in f.kinds.items() if k not in CONTEXT_KINDS}
    ask_tokens = tokens(ask, ASK_TOKENS)
    bag(x, "a:", {*ask_tokens, *(a + " " + b for a, b in itertools.pairwise(ask_tokens))})
    grams = {t: set(char_grams(t)) for t in ask_tokens}
    bag(x, "c:", set().union(*grams.values()))
    if ask_tokens:
        x["f:" + ask_tokens[0]] = 1.0
        x["f:" + " ".join(ask_tokens[:2])] = 1.0
    body_tokens = tokens(last, BODY_TOKENS)
    bag(x, "w:", set(body_tokens))
    words = word_count(request.messages[-1].content) if request.messages else 0
    x[f"s:len{sum(words > b for b in LENGTH_BINS)}"] = 1.0
    if "```" in last:
        x["s:fence"] = 1.0
    if last.count("\n") >= 3:
        x["s:lines"] = 1.0
    if len(last) - len(ask) > 40:
        x["s:material"] = 1.0
    if "?" in ask:
        x["s:question"] = 1.0
    return x, grams, (ask_tokens, body_tokens)


def bucket(name: str, buckets: int) -> int:
    """Where an input's weight lives: CRC-32 is stable across runs, unlike hash()."""
    return zlib.crc32(name.encode()) % buckets


@dataclass(frozen=True)
class TrainedModel:
    bias: float
    buckets: int
    weights: dict[int, float]  # bucket -> weight; absent buckets weigh 0

    @classmethod
    def load(cls, path: Path) -> TrainedModel | None:
        """The model in ``path``, or None if it is missing, unreadable or for other inputs."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["inputs_version"] != MODEL_INPUTS_VERSION:
                return None
            buckets, scale = int(data["buckets"]), float(data["scale"])
            # Buckets are stored sorted, as gaps from the previous one: a smaller file.
            index = list(itertools.accumulate(int(d) for d in data["index_delta"]))
            weights = {i: int(w) / scale for i, w in zip(index, data["weight"], strict=True)}
            if buckets <= 0 or scale <= 0 or any(not 0 <= i < buckets for i in weights):
                return None
            return cls(float(data["bias"]), buckets, weights)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def contributions(self, inputs: dict[str, float]) -> dict[str, float]:
        """Each input's push on the log-odds (positive: harder)."""
        # `bucket` inlined: this loop runs a few hundred times per decision.
        weight, buckets, crc32 = self.weights.get, self.buckets, zlib.crc32
        out = {}
        for name, value in inputs.items():
            w = weight(crc32(name.encode()) % buckets)
            if w:
                out[name] = w * value
        return out
