"""Finding 3 (medium), the app's side: keys are cleaned and checked when read, refused
when malformed (never put in a header), and masked in exports from every source."""

from __future__ import annotations

from pathlib import Path

from rung.engine.secrets import clean_key
from tests.fakes import openai_stream, received_key
from tests.test_cli import rung

KEY = "sk-proj-CANARY-abcdefghijklmnop0123"


def test_keys_are_stripped_and_malformed_ones_refused() -> None:
    assert clean_key(KEY + "\r\n") == (KEY, None)
    assert clean_key("  " + KEY) == (KEY, None)
    for bad in ("sk-abc\ndef-123456", "sk-abc def-123456", "sk-abc\x1b[2Jdef", "sk-\u00e9abc"):
        assert clean_key(bad)[1] is not None


def test_a_crlf_key_from_a_dotenv_file_just_works(tmp_path: Path, servers) -> None:
    api = servers(lambda r: openai_stream(["ok"]))
    result = rung(tmp_path, "ask", "--tier", "openai", "--base-url", api.url + "/v1", "hi",
                  OPENAI_API_KEY=KEY + "\r")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert received_key(api.requests[0]) == KEY


def test_a_key_with_a_line_break_inside_is_refused_by_name(tmp_path: Path, servers) -> None:
    api = servers(lambda r: openai_stream(["ok"]))
    broken = "sk-proj-CANARY\nSECONDLINE-0123456789"
    result = rung(tmp_path, "ask", "--tier", "openai", "--base-url", api.url + "/v1", "hi",
                  OPENAI_API_KEY=broken)  # fmt: skip
    assert result.returncode == 1
    assert "OpenAI key in $OPENAI_API_KEY contains a space or line break" in result.stderr
    assert "CANARY" not in result.stderr and "SECONDLINE" not in result.stderr
    assert not api.requests  # nothing was sent
    assert "Traceback" not in result.stderr


def test_export_masks_a_key_file_key_shadowed_by_the_environment(tmp_path: Path) -> None:
    file_key = "sk-ant-FILEKEY-CANARY-0123456789"
    env_key = "sk-ant-ENVKEY-CANARY-9876543210"
    config = tmp_path / "config" / "rung"
    config.mkdir(parents=True)
    (config / "config.toml").write_text("[secrets]\nplaintext_file = true\n")
    data = tmp_path / "data" / "rung"
    data.mkdir(parents=True)
    (data / "keys.toml").write_text(f'anthropic = "{file_key}"\n')  # as Rung writes it
    question = f"why is {file_key} rejected and is {env_key} better?"
    assert rung(tmp_path, "ask", "--max-tokens", "2", question).returncode == 0
    exported = rung(tmp_path, "export", ANTHROPIC_API_KEY=env_key).stdout
    assert file_key not in exported and env_key not in exported
    assert "sk-…6789" in exported and "sk-…3210" in exported
