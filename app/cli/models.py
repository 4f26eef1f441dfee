"""`rung models`: recommended GGUF models for this machine and what is already on disk;
`rung models pull NAME|OWNER/REPO/FILE.gguf`: download one and make it the local rung."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from rung.engine.config import Config
from rung.engine.gguf_finder import find_gguf_files
from rung.engine.model_catalog import CATALOG, Machine, fit, recommended, this_machine
from rung.engine.model_pull import (
    PullError,
    destination,
    endpoint,
    models_dir,
    parse_ref,
    partial_bytes,
    pull,
)
from rung.engine.safe_text import for_terminal

INTERRUPTED_EXIT = 130
CALIBRATE_TIMEOUT_S = 1800


def run_models(args: argparse.Namespace, config: Config) -> int:
    if getattr(args, "models_command", None) == "pull":
        return run_pull(args.name, config, set_local=args.set_local)
    return run_list(config, as_json=args.json, machine=this_machine())


def _err(message: str) -> None:
    print(f"rung: {for_terminal(message)}", file=sys.stderr)


def _gb(n_bytes: int | None) -> str:
    return "?" if n_bytes is None else f"{n_bytes / 1e9:.1f} GB"


def run_list(config: Config, *, as_json: bool, machine: Machine) -> int:
    on_disk = find_gguf_files()
    disk_paths = {p.resolve() for _, p in on_disk}
    best = recommended(machine)
    current = config.get("local", "model_path")
    rows: list[dict[str, Any]] = []
    for model in CATALOG:
        path = destination(parse_ref(model.name))
        rows.append(
            {
                "name": model.name,
                "repo": model.repo,
                "file": model.filename,
                "size_gb": model.size_gb,
                "licence": model.licence,
                "good_for": model.good_for,
                "fit": fit(model, machine),
                "recommended": model is best,
                "on_disk": str(path) if path.resolve() in disk_paths else None,
            }
        )
    if as_json:
        print(
            json.dumps(
                {
                    "machine": {"ram_bytes": machine.ram_bytes, "cores": machine.cores},
                    "catalog": rows,
                    "on_disk": [{"label": label, "path": str(p)} for label, p in on_disk],
                    "local_model_path": current,
                },
                indent=2,
            )
        )
        return 0
    print(f"This machine: {_gb(machine.ram_bytes)} of memory, {machine.cores} cores.")
    print("\nModels for the local rung (rung models pull NAME):")
    width = max(len(m.name) for m in CATALOG)
    for row in rows:
        mark = "*" if row["recommended"] else " "
        there = "  [on disk]" if row["on_disk"] else ""
        print(
            f" {mark} {row['name']:<{width}}  {row['size_gb']:>4.1f} GB  {row['fit']:<7}  "
            f"{row['licence']}: {row['good_for']}{there}"
        )
    if best is not None:
        print(f"\n * recommended here: rung models pull {best.name} --set-local")
    print("\nOn disk:")
    for label, path in on_disk:
        mark = "  (local rung)" if current and Path(current) == path else ""
        print(f"   {for_terminal(label)}{mark}\n     {for_terminal(str(path))}")
    if not current:
        print("\nThe local rung uses the embedded SmolLM2-135M: fine for chit-chat, not for code.")
    return 0


def _ask(question: str) -> bool:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except (EOFError, KeyboardInterrupt):
        print()
        return False


def _progress_bar() -> type:
    from tqdm import tqdm

    class _Bar(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("file", sys.stderr)
            kwargs.setdefault("mininterval", 0.5)
            kwargs["desc"] = for_terminal(str(kwargs.get("desc") or ""))
            super().__init__(*args, **kwargs)

    return _Bar


def run_pull(name: str, config: Config, *, set_local: bool) -> int:
    try:
        target = parse_ref(name)
    except PullError as e:
        _err(str(e))
        return 2
    print(
        f"Pulling {for_terminal(target.ref)} from {for_terminal(endpoint())} into "
        f"{for_terminal(str(models_dir()))}",
        file=sys.stderr,
    )
    try:
        result = pull(target, tqdm_class=_progress_bar())
    except PullError as e:
        _err(str(e))
        return 1
    except KeyboardInterrupt:
        kept = partial_bytes(target)
        print(file=sys.stderr)
        _err(
            f"pull interrupted; {kept / 1e6:.0f} MB kept: run the same command to resume"
            if kept
            else "pull interrupted"
        )
        return INTERRUPTED_EXIT
    if result.already_there:
        print(f"Already on disk ({_gb(result.size)}).", file=sys.stderr)
    else:
        resumed = f", resumed at {result.resumed_from / 1e6:.0f} MB" if result.resumed_from else ""
        checked = f", {result.verified} checked" if result.verified else ", no hash to check"
        print(f"Downloaded {_gb(result.size)}{resumed}{checked}.", file=sys.stderr)
    print(for_terminal(str(result.path)))
    if set_local or _ask("Use it as the local rung's model?"):
        if not _set_local(config, result.path):
            return 1
    else:
        print(
            f"To use it: rung models pull {for_terminal(name)} --set-local, or Settings → "
            "Local model.",
            file=sys.stderr,
        )
    return 0


def _set_local(config: Config, path: Path) -> bool:
    if config.problems:
        # Saving would write the defaults over the values it could not read.
        _err(
            f"{config.path} has problems, so Rung leaves it as it is; set [local] "
            f'model_path = "{path}" there by hand'
        )
        return False
    try:
        config.set("local", "model_path", str(path))
        config.save()
    except OSError as e:
        _err(f"could not save {config.path}: {e.strerror or e}")
        return False
    print(f"The local rung now uses {for_terminal(path.name)} ({for_terminal(str(config.path))}).",
          file=sys.stderr)  # fmt: skip
    if _has_calibrate():
        if _ask("Calibrate it now (rung calibrate --rung local)?"):
            _calibrate(config)
        else:
            print("Next: `rung calibrate --rung local` measures it on this machine.",
                  file=sys.stderr)  # fmt: skip
    else:
        print("Next: `rung calibrate --rung local` (when your Rung has it) measures it on this "
              "machine.", file=sys.stderr)  # fmt: skip
    return True


def _has_calibrate() -> bool:
    return importlib.util.find_spec("rung.cli.calibrate") is not None


def _calibrate(config: Config) -> None:
    command = [sys.executable, "-m", "rung", "--config", str(config.path), "calibrate"]
    try:
        subprocess.run([*command, "--rung", "local"], timeout=CALIBRATE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        _err(f"calibration did not finish: {e}")
