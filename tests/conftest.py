"""Shared fixtures: isolated config/data dirs, the real embedded model, helpers."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rung.tiers.local import LocalTier
from tests.fakes import Handler, ScriptedServer

PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "DEEPSEEK_API_KEY",
    "MISTRAL_API_KEY",
    "OPENROUTER_API_KEY",
    "GROQ_API_KEY",
    "TOGETHER_API_KEY",
    "RUNG_SELFHOSTED_API_KEY",
    "RUNG_CUSTOM_API_KEY",
    "RUNG_CONFIG",
)


@pytest.fixture(autouse=True)
def isolated_dirs(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own config and data directories and no real provider keys,
    so nothing can reach a real provider or the developer's own files. The cache (the
    local model's crash-probe verdicts) is shared by the run, so the probe runs once."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
    # Every test starts on a machine with no OS keyring (like CI), whatever backends the
    # test modules define: keyring would otherwise pick a test's in-memory one as its
    # default, and what a test sees would depend on the order the tests ran in.
    import keyring
    from keyring.backends import fail

    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    # The chat's own tests (a remote rung answering a question) stand for a user who
    # keeps the chat screen chat-only: [agent] in_chat defaults to "auto", which gives
    # a remote rung that calls tools to the agent. The agent's tests ask for "auto" or
    # "on" (tests/test_agent_tui_default.py checks the shipped default).
    from rung.engine.config import SCHEMA

    checker, _ = SCHEMA["agent"]["in_chat"]
    monkeypatch.setitem(SCHEMA["agent"], "in_chat", (checker, "off"))
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield tmp_path
    keyring.set_keyring(previous)


@pytest.fixture
def servers() -> Iterator[Callable[..., ScriptedServer]]:
    """Start real scripted HTTP servers on 127.0.0.1; all are stopped after the test."""
    started: list[ScriptedServer] = []

    def start(handler: Handler, tls: ssl.SSLContext | None = None) -> ScriptedServer:
        started.append(ScriptedServer(handler, tls))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.fixture(scope="session")
def local_tier() -> Iterator[LocalTier]:
    """The real embedded SmolLM2 model, loaded once for the whole run."""
    tier = LocalTier(n_ctx=2048)
    tier.wait_loaded()
    assert tier.ready, tier.load_error
    yield tier
    tier.close()


async def wait_for(
    condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.02
) -> None:
    """Poll until ``condition()`` holds (model output takes a variable time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def confirm_hosts(**urls: str) -> None:
    """Record each provider's base URL as the user's choice for its key, as typing it in
    Settings does (engine/trusted_hosts.py). A test that writes a base URL into the
    config stands for a user who chose it; tests/security/test_key_hosts.py covers the
    base URL nobody confirmed."""
    from rung.engine.trusted_hosts import TrustedHosts

    record = TrustedHosts()
    for provider, url in urls.items():
        record.trust(provider, url)


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real OpenAI-compatible server (llama-cpp-python's) serving the embedded model:
    the stand-in for a self-hosted vLLM/SGLang endpoint. Yields its /v1 base URL."""
    import subprocess
    import sys
    import time
    import urllib.request

    from rung.tiers.local import embedded_model_path

    port = free_port()
    # A file, not a pipe: a full pipe would block the server mid-request.
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "rung.tiers.llama_server",
        "--model", str(embedded_model_path()),
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--model_alias", "smollm2", "--verbose", "False",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url + "/models", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama_cpp.server did not start: {err}") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
