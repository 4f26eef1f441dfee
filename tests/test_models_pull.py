"""`rung models` and `rung models pull` against a real local HTTP server standing in for
the Hugging Face hub (HF_ENDPOINT): the HEAD with X-Repo-Commit / X-Linked-Etag /
X-Linked-Size and a redirect to a "CDN" path, then GETs with Range requests, as
huggingface_hub sends them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pty
import random
import select
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rung.engine.model_catalog import CATALOG, GB, Machine, fit, recommended
from rung.engine.model_pull import (
    PullCancelled,
    PullError,
    destination,
    parse_ref,
    partial_bytes,
    pull,
    reporting_bar,
)
from rung.tiers.local import embedded_model_path
from tests.conftest import free_port, subprocess_env
from tests.test_cli import rung

REPO = "fake-org/Tiny-GGUF"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
MB = 1 << 20
CHUNK = 10 * MB  # huggingface_hub writes the body to disk in pieces of this size


class FakeHub:
    """One file under REPO. ``cut_after``: the first GET closes after that many body
    bytes; ``stall_after``: every GET stops after that many bytes until ``release`` is
    set; ``corrupt``: the bytes served differ from the ETag's sha256."""

    def __init__(self, filename: str, data: bytes, repo: str = REPO) -> None:
        self.repo = repo
        self.filename = filename
        self.data = data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.cut_after: int | None = None
        self.stall_after: int | None = None
        self.corrupt = False
        self.release = threading.Event()
        self.requests: list[tuple[str, str, str | None]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                hub.requests.append((self.command, self.path, self.headers.get("Range")))
                if self.path == f"/{hub.repo}/resolve/main/{hub.filename}":
                    # The real hub: an LFS file is a redirect to its CDN, the hash and size
                    # in X-Linked-* headers.
                    self.send_response(302)
                    self.send_header("Location", f"{hub.cdn_url}/cdn/{hub.sha256}")
                    self.send_header("X-Repo-Commit", COMMIT)
                    self.send_header("ETag", '"gitsha-of-the-pointer"')
                    self.send_header("X-Linked-Etag", f'"{hub.sha256}"')
                    self.send_header("X-Linked-Size", str(len(hub.data)))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path == f"/cdn/{hub.sha256}":
                    self._file(body)
                else:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("X-Repo-Commit", COMMIT)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def _file(self, body: bool) -> None:
                data = bytearray(hub.data)
                if hub.corrupt:
                    data[len(data) // 2] ^= 0xFF
                start = 0
                wanted = self.headers.get("Range")
                if wanted:
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("ETag", f'"{hub.sha256}"')
                self.end_headers()
                if not body:
                    return
                part = memoryview(bytes(data))[start:]
                if hub.cut_after is not None:
                    self.wfile.write(part[: hub.cut_after])
                    self.wfile.flush()
                    hub.cut_after = None  # only the first time
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if hub.stall_after is not None and not hub.release.is_set():
                    self.wfile.write(part[: hub.stall_after])
                    self.wfile.flush()
                    hub.release.wait(60)  # the client is stopped meanwhile
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                with contextlib.suppress(ConnectionError):  # a client that stopped reading
                    self.wfile.write(part)

        # The hub and its CDN: another origin, as on the real hub (huggingface_hub
        # follows a redirect to the same origin, and reads the metadata off one elsewhere).
        self.servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(2)]
        self.url, self.cdn_url = (f"http://127.0.0.1:{s.server_address[1]}" for s in self.servers)
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    @property
    def ref(self) -> str:
        return f"{self.repo}/{self.filename}"

    def ranges(self) -> list[str]:
        return [r for m, _, r in self.requests if m == "GET" and r]

    def close(self) -> None:
        self.release.set()
        for server in self.servers:
            server.shutdown()
            server.server_close()


def small_gguf(size: int) -> bytes:
    return b"GGUF" + random.Random(size).randbytes(size - 4)


@pytest.fixture
def hubs() -> Iterator[list[FakeHub]]:
    started: list[FakeHub] = []
    yield started
    for hub in started:
        hub.close()


def start(hubs: list[FakeHub], filename: str, data: bytes) -> FakeHub:
    hubs.append(FakeHub(filename, data))
    return hubs[-1]


def hub_env(tmp_path: Path, hub_url: str) -> dict[str, str]:
    # HF_HOME too: no token or cache of the developer's own is read or written.
    return {"HF_ENDPOINT": hub_url, "HF_HOME": str(tmp_path / "hf")}


def pulled_path(tmp_path: Path, hub: FakeHub) -> Path:
    return tmp_path / "data" / "rung" / "models" / "fake-org--Tiny-GGUF" / hub.filename


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def test_pull_downloads_the_embedded_model_sets_it_as_local_and_lists_it(
    tmp_path: Path, hubs: list[FakeHub]
) -> None:
    source = embedded_model_path()
    assert source is not None
    hub = start(hubs, "SmolLM2-135M-Instruct.Q4_1.gguf", source.read_bytes())

    result = rung(tmp_path, "models", "pull", hub.ref, "--set-local", **hub_env(tmp_path, hub.url))

    assert result.returncode == 0, result.stderr
    no_traceback(result)
    path = pulled_path(tmp_path, hub)
    assert result.stdout.strip() == str(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hub.sha256
    assert "sha256 checked" in result.stderr
    config = tomllib.loads((tmp_path / "config" / "rung" / "config.toml").read_text())
    assert config["local"]["model_path"] == str(path)
    assert [p.name for p in path.parent.iterdir() if "incomplete" in p.name and
            not p.name.endswith(".lock")] == []  # fmt: skip

    listing = rung(tmp_path, "models", "--json")
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    assert str(path) in [row["path"] for row in data["on_disk"]]
    assert data["local_model_path"] == str(path)
    text = rung(tmp_path, "models")
    assert str(path) in text.stdout and "(local rung)" in text.stdout

    again = rung(tmp_path, "models", "pull", hub.ref, **hub_env(tmp_path, hub.url))
    assert again.returncode == 0 and "Already on disk" in again.stderr
    assert [m for m, p, _ in hub.requests if p.startswith("/cdn/") and m == "GET"] == ["GET"]
    assert not [p for _, p, _ in hub.requests if p.startswith("/api/")]  # no telemetry


def test_a_download_cut_mid_body_resumes_with_a_range_request(
    tmp_path: Path, hubs: list[FakeHub]
) -> None:
    hub = start(hubs, "tiny-q4.gguf", small_gguf(2 * CHUNK + MB))
    hub.cut_after = CHUNK + MB  # one piece reached the disk before the cut

    result = rung(tmp_path, "models", "pull", hub.ref, **hub_env(tmp_path, hub.url))

    assert result.returncode == 0, result.stderr
    no_traceback(result)
    assert hashlib.sha256(pulled_path(tmp_path, hub).read_bytes()).hexdigest() == hub.sha256
    # The retry asked only for the rest of the file.
    assert hub.ranges() == [f"bytes={CHUNK}-"], hub.requests


def test_a_checksum_mismatch_is_an_error_and_removes_the_file(
    tmp_path: Path, hubs: list[FakeHub]
) -> None:
    hub = start(hubs, "tiny-q4.gguf", small_gguf(2 * MB))
    hub.corrupt = True

    result = rung(tmp_path, "models", "pull", hub.ref, "--set-local", **hub_env(tmp_path, hub.url))

    assert result.returncode == 1
    no_traceback(result)
    assert "checksum mismatch for tiny-q4.gguf" in result.stderr
    assert "removed" in result.stderr
    folder = pulled_path(tmp_path, hub).parent
    assert not [p for p in folder.iterdir() if not p.name.endswith(".lock")]
    assert not (tmp_path / "config" / "rung" / "config.toml").exists()


def test_offline_says_which_hub_could_not_be_reached(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    result = rung(tmp_path, "models", "pull", "qwen2.5-coder-1.5b", **hub_env(tmp_path, endpoint))

    assert result.returncode == 1
    no_traceback(result)
    assert f"could not reach the model hub (HF_ENDPOINT={endpoint})" in result.stderr


def test_an_unknown_name_or_file_is_a_clear_error(tmp_path: Path, hubs: list[FakeHub]) -> None:
    hub = start(hubs, "tiny-q4.gguf", small_gguf(MB))

    unknown = rung(tmp_path, "models", "pull", "gpt-5", **hub_env(tmp_path, hub.url))
    missing = rung(tmp_path, "models", "pull", f"{REPO}/other.gguf", **hub_env(tmp_path, hub.url))

    assert unknown.returncode == 2 and "not in the catalog" in unknown.stderr
    assert missing.returncode == 1 and f"{REPO} has no file 'other.gguf'" in missing.stderr
    no_traceback(unknown)
    no_traceback(missing)


def test_ctrl_c_mid_download_exits_130_and_the_next_pull_resumes(
    tmp_path: Path, hubs: list[FakeHub]
) -> None:
    hub = start(hubs, "tiny-q4.gguf", small_gguf(2 * CHUNK + MB))
    hub.stall_after = CHUNK + MB  # one piece reaches the disk, then the hub goes quiet
    folder = pulled_path(tmp_path, hub).parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "rung", "models", "pull", hub.ref],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(tmp_path, **hub_env(tmp_path, hub.url)),
    )
    target = parse_ref(hub.ref)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if folder.is_dir() and partial_bytes(target, folder.parent) >= CHUNK:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, err
    assert "Traceback" not in err + out, err
    assert "pull interrupted; 10 MB kept: run the same command to resume" in err
    hub.release.set()
    hub.stall_after = None

    result = rung(tmp_path, "models", "pull", hub.ref, **hub_env(tmp_path, hub.url))

    assert result.returncode == 0, result.stderr
    assert "resumed at 10 MB" in result.stderr
    assert hub.ranges() == [f"bytes={CHUNK}-"]
    assert hashlib.sha256(pulled_path(tmp_path, hub).read_bytes()).hexdigest() == hub.sha256


def test_a_cancelled_pull_keeps_its_bytes_for_the_next(
    tmp_path: Path, hubs: list[FakeHub], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Settings screen's worker: progress reported, cancel raised from the loop.
    hub = start(hubs, "tiny-q4.gguf", small_gguf(2 * CHUNK + MB))
    for name, value in hub_env(tmp_path, hub.url).items():
        monkeypatch.setenv(name, value)
    seen: list[tuple[int, int | None]] = []
    target = parse_ref(hub.ref)

    with pytest.raises(PullCancelled):
        pull(target, tqdm_class=reporting_bar(lambda d, t: seen.append((d, t)),
                                              lambda: len(seen) > 1))  # fmt: skip

    assert seen[0] == (0, 2 * CHUNK + MB) and seen[1][0] == CHUNK
    assert partial_bytes(target) == CHUNK
    done = pull(target, tqdm_class=reporting_bar(lambda d, t: None, lambda: False))
    assert done.resumed_from == CHUNK and done.verified == "sha256"
    assert done.path == destination(target)
    assert hashlib.sha256(done.path.read_bytes()).hexdigest() == hub.sha256


def test_fit_and_recommendation_follow_memory_and_cores() -> None:
    small = Machine(ram_bytes=4 * GB, cores=2)
    big = Machine(ram_bytes=32 * GB, cores=8)
    by_name = {m.name: m for m in CATALOG}

    assert fit(by_name["qwen2.5-0.5b"], small) == "fits"
    assert fit(by_name["phi-3.5-mini"], small) == "tight"
    assert fit(by_name["qwen2.5-coder-7b"], small) == "too big"
    assert fit(by_name["qwen2.5-coder-7b"], big) == "fits"
    assert recommended(small) == by_name["qwen2.5-coder-1.5b"]
    assert recommended(big) == by_name["qwen2.5-coder-7b"]
    assert recommended(Machine(ram_bytes=GB, cores=1)) is None


def test_references_are_checked_before_anything_is_sent() -> None:
    assert parse_ref("Qwen2.5-Coder-1.5B").repo == "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"
    assert parse_ref("a/b/sub/x.gguf").filename == "sub/x.gguf"
    for bad in ("a/b", "a/b/../x.gguf", "a/b/x.bin", "a/b/x\x1b]0;t\x07.gguf", "../b/x.gguf"):
        with pytest.raises(PullError):
            parse_ref(bad)


def test_on_a_terminal_the_pull_asks_before_changing_the_local_rung(
    tmp_path: Path, hubs: list[FakeHub]
) -> None:
    hub = start(hubs, "tiny-q4.gguf", small_gguf(MB))
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rung", "models", "pull", hub.ref],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=subprocess_env(tmp_path, **hub_env(tmp_path, hub.url)),
        start_new_session=True,
    )
    os.close(slave)
    seen = bytearray()

    def answer_when(prompt: bytes, reply: bytes) -> None:
        deadline = time.monotonic() + 60
        while prompt not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                with contextlib.suppress(OSError):
                    seen.extend(os.read(master, 65536))
        assert prompt in seen, seen.decode(errors="replace")
        os.write(master, reply)

    try:
        answer_when(b"Use it as the local rung's model? [y/N]", b"y\r")
        answer_when(b"Calibrate it now (rung calibrate --rung local)? [y/N]", b"\r")
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)

    assert proc.returncode == 0, seen.decode(errors="replace")
    assert b"Traceback" not in seen
    config = tomllib.loads((tmp_path / "config" / "rung" / "config.toml").read_text())
    assert config["local"]["model_path"] == str(pulled_path(tmp_path, hub))


def test_a_config_with_problems_is_left_as_it_is(tmp_path: Path, hubs: list[FakeHub]) -> None:
    hub = start(hubs, "tiny-q4.gguf", small_gguf(MB))
    config_file = tmp_path / "config" / "rung" / "config.toml"
    config_file.parent.mkdir(parents=True)
    broken = '[local]\nn_ctx = "big"\n\n[ui]\ntheme = "mine"\n'
    config_file.write_text(broken)

    result = rung(tmp_path, "models", "pull", hub.ref, "--set-local", **hub_env(tmp_path, hub.url))

    assert result.returncode == 1
    no_traceback(result)
    assert "has problems, so Rung leaves it as it is" in result.stderr
    assert str(pulled_path(tmp_path, hub)) in result.stderr  # what to write by hand
    assert config_file.read_text() == broken  # the value it could not read is not lost
    assert pulled_path(tmp_path, hub).is_file()
