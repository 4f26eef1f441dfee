"""Find GGUF model files where people usually keep them, for the settings' model picker."""

from __future__ import annotations

import os
from pathlib import Path

from rung.tiers.local import embedded_model_path

GGUF_MAGIC = b"GGUF"
MAX_FILES = 200  # a picker, not an index: stop early on huge model folders


def _places() -> list[tuple[str, Path]]:
    home = Path.home()
    hf_home = Path(os.environ.get("HF_HOME", home / ".cache" / "huggingface"))
    from rung.engine.model_pull import models_dir  # here: model_pull uses is_gguf

    return [
        ("Rung models", models_dir()),
        ("Hugging Face cache", Path(os.environ.get("HF_HUB_CACHE", hf_home / "hub"))),
        ("LM Studio", home / ".lmstudio" / "models"),
        ("LM Studio", home / ".cache" / "lm-studio" / "models"),
        ("Ollama", Path(os.environ.get("OLLAMA_MODELS", home / ".ollama" / "models")) / "blobs"),
    ]


def is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == GGUF_MAGIC
    except OSError:
        return False


def find_gguf_files(places: list[tuple[str, Path]] | None = None) -> list[tuple[str, Path]]:
    """(label, path) for the embedded model and every GGUF file found, biggest folders
    last. Ollama stores models as content-addressed blobs, so those are recognised by
    the GGUF magic bytes rather than by name."""
    found: list[tuple[str, Path]] = []
    embedded = embedded_model_path()
    if embedded is not None:
        found.append(("embedded SmolLM2-135M-Instruct (default)", embedded))
    seen = {p for _, p in found}
    for label, root in places if places is not None else _places():
        if not root.is_dir():
            continue
        candidates = (
            (p for p in root.iterdir() if p.name.startswith("sha256"))
            if label == "Ollama"
            else root.rglob("*.gguf")
        )
        for path in candidates:
            if len(found) >= MAX_FILES:
                return found
            real = path.resolve()
            if real in seen or not real.is_file() or not is_gguf(real):
                continue
            seen.add(real)
            size_gb = real.stat().st_size / 1e9
            name = path.name if label != "Ollama" else f"blob {path.name[:19]}…"
            found.append((f"{label}: {name} ({size_gb:.1f} GB)", path))
    return found
