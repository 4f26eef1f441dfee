"""Issue 23 #6 and #10: keys by their shape, and invisible characters, in every view.

A key pasted into a question or echoed in a reply is masked wherever text leaves Rung
(the terminal, `--json`, `rung sessions`, `rung export`), known to Rung or not; bidi
controls and zero-width characters are spelled out (`<U+202E>`). Ordinary code passes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rung.engine import secrets
from rung.engine.config import data_dir
from rung.engine.safe_text import StreamSanitizer, for_terminal, json_for_terminal
from rung.engine.secrets import mask_secrets
from rung.engine.store import open_store
from rung.tiers.base import Usage
from rung.tiers.meter import MessageCost
from rung.tiers.pricing import Cost
from tests.fakes import openai_stream
from tests.test_cli import rung

# Shaped like real keys, random enough, and no real key anywhere.
KEYS = {
    "openai": "sk-proj-Q3x9TzLp0aVb7cWe2RgH5kYmN8sJd4FuXi1o",
    "anthropic": "sk-ant-api03-Zx8Kq2Lm9Np4Rt6Vw1Yb3Cd5Fg7Hj0aBcDeF-gHiJ",
    "deepseek": "sk-5f3a9c1e7b2d4f6081a3c5e7f9b1d3e5",
    "gemini": "AIzaSyD4x9Kq2Lm7Np1Rt5Vw8Yb3Cd6Fg0HjAbc",
    "groq": "gsk_8Jd3Kf7Lq2Mz9Np4Rt6Vw1Yb5Cx0Ha",
    "xai": "xai-7Kq2Lm9Np4Rt6Vw1Yb3Cd5Fg8Hj0aZx",
    "huggingface": "hf_QxTzLpaVbcWeRgHkYmNsJdFuXioPlMnBv",
    "github": "ghp_4Kq2Lm9Np7Rt6Vw1Yb3Cd5Fg8Hj0aZxQwEr",
    "aws": "AKIAIOSFODNN7EXAMPLE",
}
CODE_THAT_IS_NOT_A_KEY = [
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 fixed it",
    "id = '123e4567-e89b-12d3-a456-426614174000'",
    'ICON = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6k"',
    "pip install sk-learn scikit-learn",
    "from sk_learn_compat import sk-learn-compatible-estimator-wrapper",
    "api_key = settings.openai_api_key",
    "token = os.environ['GITHUB_TOKEN']",
    "max_tokens: 1234567890123",
    "Bearer authentication is described in RFC 6750",
]


@pytest.mark.parametrize("name", sorted(KEYS))
def test_every_provider_key_format_is_masked(name: str) -> None:
    key = KEYS[name]
    shown = mask_secrets(f"my key is {key}, please check it")
    assert key not in shown and key[6:-4] not in shown
    assert shown.startswith("my key is ") and shown.endswith(", please check it")
    assert "…" in shown
    assert mask_secrets(shown) == shown  # masking twice changes nothing


@pytest.mark.parametrize("text", CODE_THAT_IS_NOT_A_KEY)
def test_ordinary_code_is_not_masked(text: str) -> None:
    assert mask_secrets(text) == text
    assert for_terminal(text) == text


@pytest.mark.parametrize(
    "text, secret",
    [
        (
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjEyMzR9.Xk9f2Lq8",
            "eyJhbGciOiJIUzI1NiJ9",
        ),
        ("export MISTRAL_API_KEY=Zx8Kq2Lm9Np4Rt6Vw1Yb3Cd5", "Zx8Kq2Lm9Np4Rt6Vw1Yb3Cd5"),
        ('{"api_key": "b7f3c9a1e5d2f8a4c6b0e9d3"}', "b7f3c9a1e5d2f8a4c6b0e9d3"),
        ("token: 4e1a7c9b2d8f3a6e0c5b", "4e1a7c9b2d8f3a6e0c5b"),
    ],
)
def test_random_values_after_a_secret_name_are_masked(text: str, secret: str) -> None:
    shown = for_terminal(text)
    assert secret not in shown and secret[3:-4] not in shown
    # The name stays readable: the reader sees *what* was masked.
    assert shown.split(secret[:3])[0] == text.split(secret)[0]


def test_json_output_masks_keys_even_inside_escaped_quotes() -> None:
    key = "b7f3c9a1e5d2f8a4c6b0e9d3"
    text = f'config: {{"api_key": "{key}"}} and {KEYS["openai"]}'
    dumped = json_for_terminal(json.dumps({"text": text}, ensure_ascii=False))
    assert key not in dumped and KEYS["openai"] not in dumped
    json.loads(dumped)  # still valid JSON


def test_a_key_split_across_streamed_pieces_is_masked() -> None:
    key = KEYS["anthropic"]
    reply = (
        f"Use this: Bearer {key[:9]}"
        + f"{key[9:]} and then\nrun it. Also api_key= 4e1a7c9b2d8f3a6e0c5b!"
    )
    for size in (1, 2, 3, 5, 7, 11, 64):
        sanitizer = StreamSanitizer()
        pieces = [reply[i : i + size] for i in range(0, len(reply), size)]
        shown = "".join(sanitizer.feed(p) for p in pieces) + sanitizer.end()
        assert shown == for_terminal(reply), size
        assert key[4:-4] not in shown and "4e1a7c9b2d8f" not in shown


def test_the_stream_sanitizer_holds_back_little_and_stays_bounded() -> None:
    sanitizer = StreamSanitizer()
    assert sanitizer.feed("Hello there, ") == "Hello there, "
    assert sanitizer.feed("wor") == ""
    assert sanitizer.feed("ld and more") == "world and "
    # A word that never ends (a model stuck on one token) is printed as it grows.
    out = "".join(sanitizer.feed("x" * 100) for _ in range(100))
    assert len(out) >= 100 * 100 - 1024


BIDI = "access = 'user\u202e \u2066// admin\u2069 \u2066'"


def test_bidi_and_zero_width_characters_are_spelled_out() -> None:
    shown = for_terminal(BIDI + " pay\u200bpal pay\u200cpal \ufeffx")
    assert "<U+202E>" in shown and "<U+2066>" in shown and "<U+2069>" in shown
    assert "pay<U+200B>pal" in shown and "pay<U+200C>pal" in shown and "<U+FEFF>x" in shown
    for ch in "\u202e\u2066\u2069\u200b\u200c\ufeff":
        assert ch not in shown


def test_scripts_and_emoji_that_need_joiners_are_left_alone() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want", with a ZWNJ
    england = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    text = f"{family} {persian} {england} café"
    assert for_terminal(text) == text
    assert for_terminal("hidden \U000e0041\U000e0042 tags") == "hidden <U+E0041><U+E0042> tags"


def test_json_keeps_bidi_text_intact_as_escapes() -> None:
    dumped = json_for_terminal(json.dumps({"text": BIDI}, ensure_ascii=False))
    assert "\u202e" not in dumped and "\\u202e" in dumped
    assert json.loads(dumped)["text"] == BIDI


# -- the commands ---------------------------------------------------------------------------
def _stored_conversation(question: str, answer: str) -> None:
    """A conversation in the history as `rung ask` leaves it (the store's own API; the
    test's data directory is the one the `rung` subprocesses use)."""
    store = open_store(data_dir())
    try:
        session = store.start_session("ask")
        store.add_user_message(session, question)
        unknown = Cost(None, True, "unknown")
        record = MessageCost(
            "custom", "api", "custom", "m", Usage(5, 7), unknown, unknown, datetime.now(UTC)
        )
        store.add_reply(session, answer, record)
    finally:
        store.close()


def test_keys_no_longer_known_are_masked_in_every_view(tmp_path: Path) -> None:
    pasted, echoed = KEYS["openai"], KEYS["anthropic"]
    _stored_conversation(
        f"why does {pasted} fail? \u202eevil",
        f"The key {echoed} was revoked. \u200b",
    )
    views = {
        "sessions": rung(tmp_path, "sessions").stdout,
        "sessions --json": rung(tmp_path, "sessions", "--json").stdout,
        "export": rung(tmp_path, "export").stdout,
    }
    for name, out in views.items():
        assert out.strip(), name
        for key in (pasted, echoed):
            assert key[8:-4] not in out, f"{name} shows a key"
        assert "\u202e" not in out, name
    assert "<U+202E>evil" in views["export"] and "<U+200B>" in views["export"]
    data = json.loads(views["sessions --json"])
    assert data[0]["messages"][1]["text"].endswith("was revoked. \u200b")  # bidi kept as data
    # The history keeps what was written: masking is for what leaves through a view.
    store = open_store(data_dir())
    try:
        assert pasted in store.transcript(1)[0].content
    finally:
        store.close()


def test_rung_ask_masks_a_key_the_model_echoes_in_pieces(tmp_path: Path, servers) -> None:
    key = KEYS["gemini"]
    pieces = ["Your key ", key[:7], key[7:20], key[20:], " is invalid.\u202e"]
    api = servers(lambda r: openai_stream(pieces))
    base = ["ask", "--tier", "custom", "--base-url", api.url + "/v1", "--model", "m"]
    result = rung(tmp_path, *base, "hi")
    assert result.returncode == 0, result.stderr
    assert key[6:-4] not in result.stdout and "Your key AIz…" in result.stdout
    assert "is invalid.<U+202E>" in result.stdout
    as_json = rung(tmp_path, *base, "--json", "hi")
    assert key[6:-4] not in as_json.stdout
    assert json.loads(as_json.stdout)["text"].endswith("is invalid.\u202e")


# -- keys Rung knows, whatever their shape (a tester's echo test, issue 27 sweep) ---------
WORDY_KEY = "sk-test-openai-0123456789abcdef"  # reads like words: the shapes pass it


def test_a_known_key_is_masked_whatever_its_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    assert mask_secrets(f"Key {WORDY_KEY}.") == f"Key {WORDY_KEY}."  # unknown: a word
    monkeypatch.setenv("OPENAI_API_KEY", WORDY_KEY)
    assert for_terminal(f"Key {WORDY_KEY}.") == "Key sk-…cdef."
    stream = StreamSanitizer()
    shown = "".join(stream.feed(p) for p in ("Key sk-te", "st-openai-0123", "456789abcdef. ok"))
    assert WORDY_KEY[8:-4] not in shown + stream.end()
    # A key read from the store is remembered for the process, environment or not.
    monkeypatch.delenv("OPENAI_API_KEY")
    secrets.remember_key("token-of-my-own-endpoint")
    assert "of-my-own" not in for_terminal("it said token-of-my-own-endpoint")


def test_a_configured_key_the_model_echoes_is_masked_in_every_view(tmp_path: Path, servers) -> None:
    api = servers(lambda r: openai_stream(["Your key ", WORDY_KEY[:9], WORDY_KEY[9:], " works."]))
    base = ["ask", "--tier", "openai", "--base-url", api.url + "/v1", "--model", "gpt-5-nano"]
    env = {"OPENAI_API_KEY": WORDY_KEY}
    asked = rung(tmp_path, *base, "hi", **env)
    assert asked.returncode == 0, asked.stderr
    assert "Your key sk-…cdef works." in asked.stdout
    views = [asked.stdout, rung(tmp_path, *base, "--json", "hi", **env).stdout]
    views += [rung(tmp_path, *args, **env).stdout
              for args in (("sessions",), ("sessions", "--json"), ("export",))]  # fmt: skip
    for out in views:
        assert out.strip() and WORDY_KEY[8:-4] not in out, out
