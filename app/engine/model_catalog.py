"""A small curated list of GGUF chat models for the local rung, and which of them this
machine can run: by its memory (fits / tight / too big) and its cores (speed)."""

from __future__ import annotations

import os
from dataclasses import dataclass

GB = 1_000_000_000
# llama.cpp needs the weights plus the KV cache and its buffers: about half a GB more
# at Rung's default context of 4096 tokens for models of this size.
RUNTIME_OVERHEAD_GB = 0.5
# The rest of the machine (the OS, an editor, a browser) keeps part of the memory.
FITS_SHARE = 0.6
TIGHT_SHARE = 0.9
# CPU decoding reads every weight once per token: past about 0.6 GB of weights per core
# a reply comes slower than reading speed, so bigger models are not the first pick.
RECOMMEND_GB_PER_CORE = 0.6


@dataclass(frozen=True)
class CatalogModel:
    name: str  # the short name `rung models pull NAME` takes
    repo: str
    filename: str
    size_gb: float  # the file, approximate
    licence: str
    good_for: str

    @property
    def ref(self) -> str:
        return f"{self.repo}/{self.filename}"


CATALOG: tuple[CatalogModel, ...] = (
    CatalogModel(
        "qwen2.5-0.5b",
        "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        0.49,
        "Apache-2.0",
        "quick questions, short rewrites; fast on any CPU",
    ),
    CatalogModel(
        "qwen2.5-coder-1.5b",
        "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        1.12,
        "Apache-2.0",
        "small code questions, shell one-liners, explaining a function",
    ),
    CatalogModel(
        "llama-3.2-3b",
        "bartowski/Llama-3.2-3B-Instruct-GGUF",
        "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
        2.02,
        "Llama 3.2 Community",
        "general chat, summaries, writing",
    ),
    CatalogModel(
        "phi-3.5-mini",
        "bartowski/Phi-3.5-mini-instruct-GGUF",
        "Phi-3.5-mini-instruct-Q4_K_M.gguf",
        2.39,
        "MIT",
        "reasoning and English text, long context",
    ),
    CatalogModel(
        "qwen2.5-coder-7b",
        "bartowski/Qwen2.5-Coder-7B-Instruct-GGUF",
        "Qwen2.5-Coder-7B-Instruct-Q4_K_M.gguf",
        4.68,
        "Apache-2.0",
        "real coding work: edits across a file, reviews, tests",
    ),
)


@dataclass(frozen=True)
class Machine:
    ram_bytes: int | None  # None: unknown (then every model is shown as "unknown")
    cores: int


def this_machine() -> Machine:
    """Total memory and usable cores of the machine Rung runs on."""
    try:
        ram: int | None = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return Machine(ram, max(1, cores))


def needed_gb(model: CatalogModel) -> float:
    return model.size_gb + RUNTIME_OVERHEAD_GB


def fit(model: CatalogModel, machine: Machine) -> str:
    """ "fits", "tight" (runs, but little is left for anything else), "too big" or "unknown"."""
    if machine.ram_bytes is None:
        return "unknown"
    need = needed_gb(model) * GB
    if need <= machine.ram_bytes * FITS_SHARE:
        return "fits"
    if need <= machine.ram_bytes * TIGHT_SHARE:
        return "tight"
    return "too big"


def recommended(machine: Machine) -> CatalogModel | None:
    """The biggest model that fits in memory and still answers at a usable speed on
    these cores; the smallest fitting one on a very small machine."""
    fitting = [m for m in CATALOG if fit(m, machine) == "fits"]
    if not fitting:
        return None
    fast = [m for m in fitting if m.size_gb <= machine.cores * RECOMMEND_GB_PER_CORE]
    return max(fast, key=lambda m: m.size_gb) if fast else min(fitting, key=lambda m: m.size_gb)


def find(name: str) -> CatalogModel | None:
    """A catalog entry by short name (any case) or by its repo/file reference."""
    key = name.strip().lower()
    for model in CATALOG:
        if key in (model.name, model.ref.lower()):
            return model
    return None
