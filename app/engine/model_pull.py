"""Download a GGUF model from the Hugging Face hub (or any hub at HF_ENDPOINT) into
Rung's models folder: resumable across runs, checked against the hub's sha256.

huggingface_hub does the hub's side: the URL, the token (HF_TOKEN), the metadata HEAD
(commit, ETag/X-Linked-Etag, X-Linked-Size, relative redirects) and the GET with Range,
retries and the progress bar (``http_get``). Rung keeps the partial file itself, because
``hf_hub_download`` 2.x writes each attempt to a process-unique temporary file that it
deletes on any failure (a Ctrl-C or a cut loses everything) and never checks the
sha256 of what arrived, only its length.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rung.engine.config import data_dir
from rung.engine.model_catalog import find

DEFAULT_ENDPOINT = "https://huggingface.co"
METADATA_TIMEOUT_S = 10.0  # the HEAD for one file's metadata
# The body: http_get waits HF_HUB_DOWNLOAD_TIMEOUT (10 s) for bytes, then resumes with a
# Range request, 5 times at most after the last progress.
HASH_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_GIT_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_REPO_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class PullError(Exception):
    """A pull failed; the message is for the user (one or two sentences)."""


class PullCancelled(Exception):
    """The user stopped the pull; the partial file is kept for the next one."""


@dataclass(frozen=True)
class PullTarget:
    repo: str
    filename: str
    revision: str = "main"

    @property
    def ref(self) -> str:
        return f"{self.repo}/{self.filename}"


@dataclass(frozen=True)
class PullResult:
    path: Path
    size: int
    verified: str  # "sha256", "git-sha1" or "" (the hub gave no hash to check)
    resumed_from: int  # bytes already on disk from an earlier, interrupted pull
    already_there: bool


# Called with (bytes on disk, total bytes or None) as the download goes.
ProgressFn = Callable[[int, int | None], None]


def parse_ref(text: str) -> PullTarget:
    """A catalog name (``qwen2.5-coder-1.5b``) or ``OWNER/REPO/FILE.gguf``."""
    model = find(text)
    if model is not None:
        return PullTarget(model.repo, model.filename)
    parts = text.strip().strip("/").split("/")
    if len(parts) < 3:
        raise PullError(
            f"{text!r} is not in the catalog (see `rung models`) and is not OWNER/REPO/FILE.gguf"
        )
    owner, name, *path = parts
    if not (_REPO_PART.match(owner) and _REPO_PART.match(name)):
        raise PullError(f"{owner}/{name} is not a valid repository name")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
        raise PullError("a model name cannot contain control characters")
    if any(p in ("", ".", "..") for p in path) or not path[-1].lower().endswith(".gguf"):
        raise PullError(f"{'/'.join(path)!r} is not a .gguf file name in the repository")
    return PullTarget(f"{owner}/{name}", "/".join(path))


def models_dir() -> Path:
    """Where pulled models live (the model picker and `rung models` look here too)."""
    return data_dir() / "models"


def destination(target: PullTarget, root: Path | None = None) -> Path:
    owner, name = target.repo.split("/", 1)
    return (root or models_dir()) / f"{owner}--{name}" / PurePosixPath(target.filename)


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _partial_path(dest: Path, etag: str) -> Path:
    # Named by the hub's hash: a file that changed on the hub never resumes old bytes.
    return dest.with_name(f".{dest.name}.{etag[:16]}.incomplete")


def _file_hash(path: Path, etag: str) -> tuple[str, str]:
    """(kind, hex digest) of ``path`` in the form the hub's ETag uses."""
    if _SHA256.match(etag):
        digest, kind = hashlib.sha256(), "sha256"
    elif _GIT_SHA1.match(etag):
        # A file kept in git itself (not LFS): the ETag is its git blob id.
        digest, kind = hashlib.sha1(usedforsecurity=False), "git-sha1"
        digest.update(f"blob {path.stat().st_size}\0".encode())
    else:
        return "", ""
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return kind, digest.hexdigest()


def _unreachable(url: str, error: BaseException) -> PullError:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return PullError(f"could not reach the model hub (HF_ENDPOINT={url}): {detail}")


def _no_telemetry() -> None:
    # Before huggingface_hub is imported (it reads this once): otherwise each process
    # also fetches {HF_ENDPOINT}/api/agent-harnesses and caches it in HF_HOME, and puts
    # what it found in the User-Agent. A user can still set the variable to 0.
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def _metadata(target: PullTarget, hub: str) -> Any:
    _no_telemetry()
    import httpx2
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    url = hf_hub_url(target.repo, target.filename, revision=target.revision, endpoint=hub)
    try:
        meta = get_hf_file_metadata(url, timeout=METADATA_TIMEOUT_S, endpoint=hub)
    except GatedRepoError as e:
        raise PullError(
            f"{target.repo} is gated: accept its licence on the hub's page, then set HF_TOKEN"
        ) from e
    except RepositoryNotFoundError as e:
        raise PullError(f"the hub has no repository {target.repo} (or it is private)") from e
    except RevisionNotFoundError as e:
        raise PullError(f"{target.repo} has no revision {target.revision!r}") from e
    except RemoteEntryNotFoundError as e:
        raise PullError(f"{target.repo} has no file {target.filename!r}") from e
    except HfHubHTTPError as e:
        code = e.response.status_code if e.response is not None else "?"
        raise PullError(f"the model hub ({hub}) answered HTTP {code} for {target.ref}") from e
    except (httpx2.HTTPError, OSError) as e:
        raise _unreachable(hub, e) from e
    if not meta.etag or meta.commit_hash is None:
        raise PullError(
            f"{hub} did not answer like a Hugging Face hub (no commit or ETag header); "
            "check HF_ENDPOINT"
        )
    return meta


def pull(
    target: PullTarget,
    *,
    root: Path | None = None,
    tqdm_class: type | None = None,
) -> PullResult:
    """Download ``target`` unless it is already there; the path of the checked file.

    Raises PullError with a message for the user. A KeyboardInterrupt, a PullCancelled
    raised by ``tqdm_class`` or a broken connection leave the partial file in place, and
    the next pull of the same file resumes it with a Range request."""
    _no_telemetry()
    import httpx2
    from filelock import FileLock, Timeout
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    hub = endpoint()
    meta = _metadata(target, hub)
    etag: str = meta.etag
    size: int | None = meta.size
    dest = destination(target, root)
    if dest.is_file() and (size is None or dest.stat().st_size == size):
        return PullResult(dest, dest.stat().st_size, "", 0, already_there=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_path(dest, etag)
    lock = FileLock(str(partial) + ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout as e:
        raise PullError(f"another `rung models pull` is downloading {target.ref} right now") from e
    try:
        have = partial.stat().st_size if partial.exists() else 0
        if size is not None and have > size:
            partial.unlink()
            have = 0
        if size is not None:
            free = shutil.disk_usage(dest.parent).free
            if free < size - have:
                raise PullError(
                    f"{target.filename} needs {(size - have) / 1e9:.1f} GB more and "
                    f"{dest.parent} has {free / 1e9:.1f} GB free"
                )
        try:
            with partial.open("ab") as fh:
                http_get(
                    meta.location,
                    fh,
                    resume_size=have,
                    headers=build_hf_headers(),
                    expected_size=size,
                    displayed_filename=PurePosixPath(target.filename).name,
                    tqdm_class=tqdm_class,
                )
        except HfHubHTTPError as e:
            code = e.response.status_code if e.response is not None else "?"
            raise PullError(
                f"the download of {target.ref} failed: HTTP {code} from {hub}; "
                "run the same command again to resume"
            ) from e
        except httpx2.HTTPError as e:
            raise PullError(
                f"{_unreachable(hub, e)}; {partial.stat().st_size / 1e6:.0f} MB are kept: "
                "run the same command again to resume"
            ) from e
        except OSError as e:
            if "Consistency check failed" not in str(e):
                raise PullError(f"could not write {partial}: {e.strerror or e}") from e
            # http_get's length check: more or fewer bytes than the hub announced.
            partial.unlink(missing_ok=True)
            raise PullError(
                f"{target.filename} arrived with the wrong length; the partial file was "
                "removed: run the same command to download it again"
            ) from e
        kind, digest = _file_hash(partial, etag)
        if kind and digest != etag:
            partial.unlink()
            raise PullError(
                f"checksum mismatch for {target.filename}: its {kind} is {digest[:16]}…, the "
                f"hub says {etag[:16]}…; the damaged file was removed: run the same "
                "command to download it again"
            )
        from rung.engine.gguf_finder import is_gguf

        if not is_gguf(partial):
            partial.unlink()
            raise PullError(f"{target.filename} is not a GGUF model file; it was removed")
        os.replace(partial, dest)
        return PullResult(dest, dest.stat().st_size, kind, have, already_there=False)
    finally:
        lock.release()


def partial_bytes(target: PullTarget, root: Path | None = None) -> int:
    """Bytes kept from interrupted pulls of ``target`` (resumed by the next pull)."""
    dest = destination(target, root)
    if not dest.parent.is_dir():
        return 0
    return sum(p.stat().st_size for p in dest.parent.glob(f".{dest.name}.*.incomplete"))


def pulled_models(root: Path | None = None) -> list[Path]:
    """GGUF files in the models folder (no partial downloads)."""
    base = root or models_dir()
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*.gguf") if p.is_file())


def reporting_bar(report: ProgressFn, cancelled: Callable[[], bool]) -> type:
    """A tqdm class that shows nothing and calls ``report(done, total)`` instead; it
    raises PullCancelled from the download loop once ``cancelled()`` is true (a thread
    cannot be stopped from outside, so the loop stops itself)."""
    from tqdm import tqdm

    class _ReportingBar(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._done = int(kwargs.get("initial") or 0)
            self._total = kwargs.get("total")
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            report(self._done, self._total)

        def update(self, n: float | None = 1) -> bool | None:
            # Called before each piece is written: stopping here keeps the file whole
            # up to the pieces already reported.
            if cancelled():
                raise PullCancelled
            self._done += int(n or 0)
            report(self._done, self._total)
            return None

    return _ReportingBar
