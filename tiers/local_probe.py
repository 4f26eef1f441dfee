"""Try a model in a child process before loading it into Rung's own.

A native crash inside llama.cpp (a segfault) cannot be caught: it would end Rung
without a word, leaving the terminal in raw mode. So the first time a model is used
with a given llama.cpp build on a given CPU, a child process loads it and decodes a
multi-token prompt. If the child dies from a signal, Rung survives to say so, and in
"auto" mode retries without weight repacking (see ``llama_safety``). The verdict is
cached per model file, build and CPU, so this costs one extra load, once.

Run as ``python -m <this module> MODEL [--safe]``: exit 0 when the model decodes,
3 when it cannot be loaded (a Python error, reported by the in-process load later).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROBE_PROMPT = b"Hello! Please say OK in one word."
TIMEOUT_S = 180.0
EXIT_LOAD_ERROR = 3


@dataclass(frozen=True)
class ProbeResult:
    ok: bool  # the model loaded and decoded, or failed in a way Python reports itself
    signal_name: str = ""  # set when the child died from a signal: a native crash
    detail: str = ""  # the child's last words, for the crash log

    @property
    def crashed(self) -> bool:
        return bool(self.signal_name)


def default_cache_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("rung")) / "llama-probe.json"


def probe_key(model: Path, safe: bool, cpuinfo_flags: str, system_info: str) -> str:
    """Changes whenever the verdict could: another file, build, CPU or load mode."""
    try:
        import llama_cpp

        build = getattr(llama_cpp, "__version__", "?")
    except Exception:
        build = "?"
    stat = model.stat()
    raw = "|".join(
        [str(model.resolve()), str(stat.st_size), str(stat.st_mtime_ns), build,
         "safe" if safe else "default", cpuinfo_flags, system_info]
    )  # fmt: skip
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _read_cache(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, data: dict[str, dict[str, str]]) -> None:
    with contextlib.suppress(OSError):  # a cache: losing it only costs another probe
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)


def run_probe(
    model: Path, safe: bool, timeout: float = TIMEOUT_S, python: str = sys.executable
) -> ProbeResult:
    """Load and decode in a child process. A timeout or a failure to start the child is
    not a crash: the caller then loads in-process as it would have anyway."""
    command = [python, "-m", __name__, str(model)] + (["--safe"] if safe else [])
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ProbeResult(True, detail=f"probe skipped: {type(exc).__name__}")
    tail = done.stderr.decode("utf-8", "replace")[-2000:]
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return ProbeResult(False, name, tail)
    return ProbeResult(True, detail=tail)


def probe_model(
    model: Path,
    safe: bool,
    *,
    cache_file: Path | None = None,
    cpuinfo_flags: str = "",
    system_info: str = "",
    timeout: float = TIMEOUT_S,
) -> ProbeResult:
    """The cached verdict for this model, build, CPU and mode, probing on a miss."""
    cache_file = cache_file or default_cache_file()
    key = probe_key(model, safe, cpuinfo_flags, system_info)
    cached = _read_cache(cache_file).get(key)
    if isinstance(cached, dict) and "verdict" in cached:
        signal_name = "" if cached["verdict"] == "ok" else str(cached["verdict"])
        return ProbeResult(not signal_name, signal_name)
    result = run_probe(model, safe, timeout)
    if result.ok and result.detail.startswith("probe skipped"):
        return result  # no verdict to remember
    data = _read_cache(cache_file)
    data[key] = {"verdict": result.signal_name or "ok", "model": str(model)}
    _write_cache(cache_file, data)
    return result


def _child(argv: list[str]) -> int:
    from .llama_safety import load_llama

    model, safe = argv[0], "--safe" in argv[1:]
    try:
        llm = load_llama(model, safe=safe, n_ctx=256, n_threads=1)
    except Exception as exc:  # not a crash: the in-process load reports it properly
        print(f"load error: {exc}", file=sys.stderr)
        return EXIT_LOAD_ERROR
    # Two or more tokens: the AMX crash needs a multi-token batch.
    llm.eval(llm.tokenize(PROBE_PROMPT, add_bos=True))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
