"""How likely each rung's *model* is to answer a kind of task right: P(right | kind).

The router's difficulty score reads the question; this reads the answerer. A profile
maps each task kind (tiers/task_kind.py) to a probability, and says where it came from:

- **measured**: `rung calibrate` ran the model on the labelled set shipped in
  tiers/calibration/calibration.jsonl (machine-checked answers) and counted. The
  embedded SmolLM2-135M ships measured (tiers/calibration/profiles.json); a user's own
  GGUF, once calibrated, is stored in the data dir keyed by file name, size and a hash
  of its first MiB (``model_key``), so a replaced file is not mistaken for the old one.
- **prior**: a stated guess, not a measurement. API providers: their default models
  ≈ 0.95 (premium) or ≈ 0.88 (cheap) per kind. An unknown GGUF: a conservative curve
  of its parameter count and quantization, read from the GGUF header (no model load).

Which rungs may answer: the cheapest whose P(right | kind) clears the *bar*, which the
quality dial sets (``bar``); quality 0 sets no bar (cheapest always).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .task_kind import KINDS

if TYPE_CHECKING:  # the router imports this module; the rung type is for hints only
    from .router import Rung

CALIBRATION_DIR = Path(__file__).with_name("calibration")
CALIBRATION_SET = CALIBRATION_DIR / "calibration.jsonl"
HELDOUT_SET = CALIBRATION_DIR / "heldout.jsonl"
SHIPPED_PROFILES = CALIBRATION_DIR / "profiles.json"
PROFILE_DIR_NAME = "competence"
# The highest bar: even at quality 1 a rung measured at 97% per kind may answer.
MAX_BAR = 0.97
# A measured rate is the lower end of its one-sided ~90% confidence interval.
WILSON_Z = 1.2816
HASHED_BYTES = 1 << 20


def bar(quality: float) -> float:
    """The P(right) a rung needs for a kind of task. 0 at quality 0 (cheapest always),
    rising steeply to 0.80 at 0.25, then 0.85 at the default 0.5 and 0.95 at 1.0: at
    the default a cheap API (prior 0.88) clears it and the 135M model clears it only
    for what it measured right about 9 times in 10."""
    q = max(0.0, min(1.0, quality))
    if q < 0.25:
        return round(3.2 * q, 4)
    return round(min(MAX_BAR, 0.85 + 0.2 * (q - 0.5)), 4)


@dataclass(frozen=True)
class Profile:
    """P(right | kind) for one model, and where the numbers came from."""

    model: str
    source: str  # "measured" or "prior"
    rates: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)  # answers measured per kind
    note: str = ""
    observed: dict[str, int] = field(default_factory=dict)  # right answers per kind

    def rate(self, kind: str) -> float:
        if kind in self.rates:
            return self.rates[kind]
        # An unmeasured kind ("other": open writing, advice) gets the model's worst.
        return min(self.rates.values()) if self.rates else 0.0

    def as_dict(self) -> dict[str, object]:
        return {"model": self.model, "source": self.source, "rates": self.rates,
                "counts": self.counts, "right": self.observed, "note": self.note}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Profile:
        rates = data.get("rates")
        if not isinstance(rates, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) and 0 <= v <= 1
            for k, v in rates.items()
        ):
            raise ValueError("rates must map task kinds to numbers between 0 and 1")
        counts = data.get("counts") or {}
        right = data.get("right") or {}
        if not isinstance(counts, dict) or not isinstance(right, dict):
            raise ValueError("counts and right must be objects")
        return cls(str(data.get("model", "")), str(data.get("source", "measured")),
                   {k: float(v) for k, v in rates.items()},
                   {str(k): int(v) for k, v in counts.items()},
                   str(data.get("note", "")),
                   {str(k): int(v) for k, v in right.items()})  # fmt: skip


def measured(model: str, results: Mapping[str, tuple[int, int]], note: str = "") -> Profile:
    """A profile from (right, asked) per kind. Each rate is the Wilson lower bound of
    the measured share (one-sided, about 90%): precision first, so 23 right of 26
    counts as ~0.78, not 0.88, and a kind measured on few prompts cannot clear the
    bar by luck. The observed share is kept beside it (``observed``) for display."""
    rates = {k: round(wilson_lower(r, n), 3) for k, (r, n) in results.items() if n}
    counts = {k: n for k, (_, n) in results.items() if n}
    observed = {k: r for k, (r, n) in results.items() if n}
    return Profile(model, "measured", rates, counts, note, observed)


def wilson_lower(right: int, asked: int, z: float = WILSON_Z) -> float:
    if asked <= 0:
        return 0.0
    p = right / asked
    z2 = z * z
    centre = p + z2 / (2 * asked)
    spread = z * math.sqrt(p * (1 - p) / asked + z2 / (4 * asked * asked))
    return max(0.0, (centre - spread) / (1 + z2 / asked))


def flat(model: str, rate: float, note: str) -> Profile:
    rates = {k: rate for k in KINDS if k != "other"} | {"other": round(rate - 0.05, 3)}
    return Profile(model, "prior", rates, note=note)


# -- priors ----------------------------------------------------------------------------
# Stated priors, not measurements: frontier models answer these short checked tasks
# almost always; the cheap tiers of the same providers slightly less often.
PREMIUM = 0.96
CHEAP_API = 0.88
PROVIDER_PRIOR = {
    "anthropic": PREMIUM,
    "openai": 0.92,  # gpt-5.4-mini by default: between cheap and premium
    "gemini": CHEAP_API,
    "deepseek": CHEAP_API,
    "mistral": 0.85,
    "openrouter": CHEAP_API,
    "groq": 0.85,
    "together": 0.85,
    "selfhosted": 0.80,
    "custom": 0.80,
}
# How much easier or harder each kind is than the average, for a small model: half the
# embedded 135M model's measured gap from its own mean (tiers/calibration/profiles.json:
# facts easiest, shell/git commands hardest), so the prior keeps the measured order
# without copying one model's quirks.
# (From the first measurement, without the system prompt; "greeting" and "echo" were
# one kind then. The 2026-12-07 re-measurement keeps the order but would lower a 1.5B
# model's fact prior under the default bar: a prior is a stated guess, left as stated.)
KIND_OFFSET = {
    "greeting": 0.06, "echo": 0.0, "rewrite": -0.08, "fact": 0.18, "command": -0.21,
    "code_write": 0.08, "code_reason": 0.0, "design": -0.04, "math": -0.12, "other": -0.15,
}  # fmt: skip


def provider_prior(provider: str, model: str = "") -> Profile:
    rate = PROVIDER_PRIOR.get(provider, 0.80)
    premium = any(w in model for w in ("opus", "gpt-5.5", "-pro", "sonnet", "medium", "large"))
    if premium:
        rate = max(rate, PREMIUM)
    return flat(
        model or provider,
        rate,
        f"prior for {provider}'s {'premium' if premium else 'default'} model (not measured)",
    )


def size_prior(model: str, params: float | None, bits: float | None) -> Profile:
    """A conservative guess from the parameter count (and quantization) alone: a base
    of 0.35 at 135M, +0.10 per doubling (0.70 at 1.5B, 0.90 from about 6B: capped),
    less below 4 bits per weight; then KIND_OFFSET per kind. At 135M it sits under the
    embedded model's measured lower bounds for six kinds, and above them by at most 0.09
    for commands, math and code reasoning: at the default quality (bar 0.85) neither
    keeps those local."""
    doublings = max(0.0, math.log2(params / 135e6)) if params else 0.0
    base = min(0.90, 0.35 + 0.10 * doublings)
    if bits is not None and bits < 4:
        base -= 0.08 * (4 - bits)
    size = f"{params / 1e9:.2g}B" if params else "unknown size"
    quant = f", ~{bits:.1f} bits/weight" if bits else ""
    rates = {k: round(max(0.05, min(MAX_BAR, base + KIND_OFFSET[k])), 3) for k in KINDS}
    return Profile(model, "prior", rates, note=f"prior from size ({size}{quant}; not measured)")


# -- GGUF header -----------------------------------------------------------------------
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q",
                 11: "q", 12: "d"}  # fmt: skip
# Bits per weight of ggml tensor types (block size / bytes), for the quantization guess.
_GGML_BITS = {0: 32, 1: 16, 2: 4.5, 3: 5.0, 6: 5.5, 7: 6.0, 8: 8.5, 10: 2.625, 11: 3.4375,
              12: 4.5, 13: 5.5, 14: 6.5625, 15: 8.5, 16: 2.0625, 17: 2.3125, 18: 3.0625,
              19: 1.5625, 20: 4.5, 21: 3.4375, 22: 2.5625, 23: 4.25, 29: 1.75, 30: 16}  # fmt: skip
MAX_KV = 100_000
MAX_TENSORS = 100_000


class GGUFError(ValueError):
    pass


def gguf_size(path: Path) -> tuple[float | None, float | None]:
    """(parameter count, average bits per weight) from a GGUF file's header: the tensor
    shapes and types, read without loading the model. Raises GGUFError."""
    with open(path, "rb") as f:

        def read(fmt: str) -> tuple:
            size = struct.calcsize("<" + fmt)
            data = f.read(size)
            if len(data) != size:
                raise GGUFError("truncated GGUF header")
            return struct.unpack("<" + fmt, data)

        def string() -> str:
            (n,) = read("Q")
            if n > 1 << 20:
                raise GGUFError("implausible string in GGUF header")
            return f.read(n).decode("utf-8", "replace")

        def skip_value(vtype: int) -> None:
            if vtype == 8:
                string()
            elif vtype == 9:
                inner, count = read("IQ")
                if count > 1 << 24:
                    raise GGUFError("implausible array in GGUF header")
                if inner in _GGUF_SCALARS:
                    f.seek(struct.calcsize("<" + _GGUF_SCALARS[inner]) * count, 1)
                else:
                    for _ in range(count):
                        skip_value(inner)
            elif vtype in _GGUF_SCALARS:
                read(_GGUF_SCALARS[vtype])
            else:
                raise GGUFError(f"unknown GGUF value type {vtype}")

        if f.read(4) != b"GGUF":
            raise GGUFError("not a GGUF file")
        (version,) = read("I")
        if version < 2:
            raise GGUFError(f"GGUF version {version} is too old")
        n_tensors, n_kv = read("QQ")
        if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
            raise GGUFError("implausible GGUF header")
        for _ in range(n_kv):
            string()
            (vtype,) = read("I")
            skip_value(vtype)
        params = 0
        bits = 0.0
        for _ in range(n_tensors):
            string()
            (n_dims,) = read("I")
            if n_dims > 8:
                raise GGUFError("implausible tensor in GGUF header")
            dims = read("Q" * n_dims)
            ttype, _offset = read("IQ")
            count = math.prod(dims)
            params += count
            bits += count * _GGML_BITS.get(ttype, 4.5)
    return (float(params) or None, bits / params if params else None)


def model_key(path: Path) -> str:
    """Names a model file for its stored profile: name, size, hash of the first MiB."""
    st = path.stat()
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read(HASHED_BYTES)).hexdigest()[:16]
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.name)[:80]
    return f"{stem}-{st.st_size}-{digest}"


# -- storage ---------------------------------------------------------------------------
def shipped_profiles() -> dict[str, Profile]:
    """Profiles measured by the developers, keyed by model file name."""
    try:
        data = json.loads(SHIPPED_PROFILES.read_text(encoding="utf-8"))
        return {name: Profile.from_dict(p) for name, p in data.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def profile_path(data_dir: Path, key: str) -> Path:
    return data_dir / PROFILE_DIR_NAME / f"{key}.json"


def save_profile(data_dir: Path, key: str, profile: Profile) -> Path:
    path = profile_path(data_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(profile.as_dict(), indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)  # atomic: a Ctrl-C never leaves half a profile
    return path


def load_profile(data_dir: Path, key: str) -> Profile | None:
    try:
        return Profile.from_dict(json.loads(profile_path(data_dir, key).read_text("utf-8")))
    except (OSError, ValueError, AttributeError):
        return None


def profiles_for(
    rungs: Iterable[Rung], local_path: Path | None, data_dir: Path
) -> dict[str, Profile]:
    """Each rung's profile, by rung name: measured if `rung calibrate` stored one, else
    shipped (the embedded model), else a prior (provider, or the GGUF's size)."""
    out: dict[str, Profile] = {}
    for rung in rungs:
        if rung.kind == "local":
            out[rung.name] = local_profile(local_path, data_dir)
            continue
        provider = rung.provider or rung.name
        mine = load_profile(data_dir, remote_key(provider, rung.model))
        if mine is not None:
            out[rung.name] = mine
        elif provider in PROVIDER_PRIOR or rung.kind != "api":
            out[rung.name] = provider_prior(provider, rung.model)
        else:  # a bare "api" rung (`--ladder local,api`): a cheap API, say so
            out[rung.name] = flat(
                rung.name, CHEAP_API, "prior for a cheap API model (not measured)"
            )
    return out


def remote_key(provider: str, model: str) -> str:
    """The stored profile's name for an API or self-hosted model."""
    text = f"{provider}-{model or 'default'}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:120]


def local_profile(path: Path | None, data_dir: Path) -> Profile:
    """The local model's profile: measured by the user, else shipped (the embedded
    model), else a prior from its GGUF header."""
    if path is None or not path.is_file():
        return size_prior("local model", None, None)
    try:
        key = model_key(path)
    except OSError:
        return size_prior(path.name, None, None)
    mine = load_profile(data_dir, key)
    if mine is not None:
        return mine
    shipped = shipped_profiles().get(path.name)
    if shipped is not None:
        return shipped
    try:
        params, bits = gguf_size(path)
    except (OSError, GGUFError):
        params = bits = None
    return size_prior(path.name, params, bits)


# -- the gate the router applies -------------------------------------------------------
@dataclass(frozen=True)
class Gate:
    """What competence did to one decision, for the reason and `--explain`."""

    kind: str
    need: float  # the bar
    rates: dict[str, tuple[float, str]]  # rung -> (P(right | kind), "measured"/"prior")
    target: int  # the rung the gate allows (>= the score's)
    why: str = ""  # non-empty when the gate or a floor moved the decision


def gate(
    kind: str,
    target: int,
    ladder: list[Rung],
    profiles: Mapping[str, Profile],
    quality: float,
    floors: Mapping[str, str] | None = None,
) -> Gate:
    """The cheapest rung at or above ``target`` whose model clears the bar for ``kind``
    (a rung with no profile is not judged: it clears), else the most competent one;
    then the user's floor for the kind (``[ladder] floors``), if it is higher."""
    need = bar(quality)
    rates = {
        r.name: (profiles[r.name].rate(kind), profiles[r.name].source)
        for r in ladder
        if r.name in profiles
    }
    chosen, why = target, ""
    if need > 0:
        clears = [
            i
            for i in range(target, len(ladder))
            if ladder[i].name not in rates or rates[ladder[i].name][0] >= need
        ]
        if clears:
            chosen = clears[0]
        else:  # nobody clears the bar: the best there is
            above = range(target, len(ladder))
            chosen = max(above, key=lambda i: (rates.get(ladder[i].name, (1.0,))[0], -i))
        if chosen != target:
            low = ladder[target].name
            rate, source = rates[low]
            guess = "" if source == "measured" else " (prior)"
            why = f"{low} gets {kind} right ~{rate:.0%}{guess}, under the {need:.0%} bar"
    floor = (floors or {}).get(kind)
    names = [r.name for r in ladder]
    if floor in names and names.index(floor) > chosen:
        chosen = names.index(floor)
        why = f"your floor for {kind} is {floor}"
    return Gate(kind, need, rates, chosen, why)
