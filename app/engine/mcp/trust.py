"""Which project ``.mcp.json`` files the user trusted: a project's servers are programs
the repository chose (code execution), so they run only after a yes, remembered in
``<data dir>/mcp_trust.json`` (0600, never in the project) by the project root AND the
file's SHA-256: a changed file is asked about again."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

FILE = "mcp_trust.json"


def digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class TrustStore:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILE

    def _all(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )

    def trusted(self, root: Path, mcp_json: Path) -> bool:
        """The file, as it is now, was trusted for this project."""
        found = digest(mcp_json)
        return found is not None and self._all().get(str(Path(root).resolve())) == found

    def trust(self, root: Path, mcp_json: Path) -> None:
        """Trust the file as it is now (raises OSError when it cannot be saved)."""
        from rung.engine.edits.writes import write_atomic

        found = digest(mcp_json)
        if found is None:
            raise OSError(f"{mcp_json} cannot be read")
        data = self._all()
        data[str(Path(root).resolve())] = found
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        raw = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
        write_atomic(self.path, raw, None, private=True)
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)
