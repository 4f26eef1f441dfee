"""The config file: round trip, broken files, backups, atomic writes, unknown keys."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from rung.engine.config import default_config_path, load_config
from tests.test_cli import rung


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_when_there_is_no_file(tmp_path: Path) -> None:
    config = load_config(tmp_path / "none.toml")
    assert config.problems == []
    assert config.get("local", "n_ctx") == 4096
    assert config.get("ladder", "rungs") == ["local"]
    assert config.get("selfhosted", "gpu_usd_per_hour") == Decimal("2.50")


def test_round_trip_keeps_values_and_unknown_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '# my notes\n[local]\nn_ctx = 8192\nfuture_option = "kept"\n\n'
        '[plugins]\nsomething = [1, 2]\n\n[prices."my-model"]\ninput = "0.5"\noutput = "1.5"\n',
    )
    config = load_config(path)
    assert config.problems == []
    config.set("ladder", "rungs", ["local", "anthropic"])
    config.set("budget", "daily_usd", "5.00")
    config.providers["anthropic"] = {"model": "claude-opus-4-5"}
    config.keymap["escalate"] = "ctrl+e"
    config.save()
    again = load_config(path)
    assert again.get("local", "n_ctx") == 8192
    assert again.get("ladder", "rungs") == ["local", "anthropic"]
    assert again.get("budget", "daily_usd") == Decimal("5.00")
    assert again.provider("anthropic") == {"model": "claude-opus-4-5"}
    assert again.prices["my-model"] == {"input": Decimal("0.5"), "output": Decimal("1.5")}
    assert again.keymap == {"escalate": "ctrl+e"}
    # Keys Rung does not know survive a save.
    assert again.raw["local"]["future_option"] == "kept"
    assert again.raw["plugins"] == {"something": [1, 2]}


def test_clearing_a_provider_setting_removes_it_from_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[providers.openai]\nmodel = "gpt-5"\nbase_url = "https://gw/v1"\norg = "kept"\n',
    )
    config = load_config(path)
    config.providers["openai"] = {"model": "gpt-5"}  # base_url cleared in Settings
    config.save()
    again = load_config(path)
    assert again.provider("openai") == {"model": "gpt-5"}
    assert again.raw["providers"]["openai"]["org"] == "kept"


def test_invalid_values_name_file_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[local]\nthreads = 4\nn_ctx = "big"\n\n[ladder]\nquality = 7\n\n[budget]\n'
        'daily_usd = "ten"\n',
    )
    config = load_config(path)
    messages = "\n".join(config.problems)
    assert f"{path}, line 3: [local] n_ctx must be a whole number" in messages
    assert f"{path}, line 6: [ladder] quality must be between 0.0 and 1.0" in messages
    assert f"{path}, line 9: [budget] daily_usd" in messages
    # Broken fields get their defaults; the rest of the file still applies.
    assert config.get("local", "n_ctx") == 4096 and config.get("local", "threads") == 4
    assert config.get("budget", "daily_usd") is None


def test_syntax_error_starts_with_defaults_and_leaves_the_file(tmp_path: Path) -> None:
    text = '[local]\nn_ctx = 8192\n[ladder\nrungs = ["local"]\n'
    path = write(tmp_path / "c.toml", text)
    config = load_config(path)
    assert len(config.problems) == 1
    assert str(path) in config.problems[0] and "line 3" in config.problems[0]
    assert "left untouched" in config.problems[0]
    assert config.get("local", "n_ctx") == 4096
    assert path.read_text() == text


def test_saving_keeps_a_backup_of_the_previous_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[local]\nn_ctx = 1024\n")
    config = load_config(path)
    config.set("local", "n_ctx", 2048)
    config.save()
    assert (tmp_path / "c.toml.bak").read_text() == "[local]\nn_ctx = 1024\n"
    assert load_config(path).get("local", "n_ctx") == 2048


@pytest.mark.parametrize("crash_in", ["write", "rename"])
def test_a_crash_while_saving_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_in: str
) -> None:
    original = "[local]\nn_ctx = 1024\n"
    path = write(tmp_path / "c.toml", original)
    config = load_config(path)
    config.set("local", "n_ctx", 2048)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full (simulated)")

    if crash_in == "write":
        monkeypatch.setattr(os, "fsync", boom)
    else:
        monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        config.save()
    assert path.read_text() == original
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".config-")]
    assert leftovers == []


def test_rung_config_env_and_option_pick_another_file(tmp_path: Path, monkeypatch) -> None:
    other = write(tmp_path / "elsewhere.toml", "[local]\nn_ctx = 999999999\n")
    monkeypatch.setenv("RUNG_CONFIG", str(other))
    assert default_config_path() == other
    # The CLI option works too, and a broken value is reported on stderr, not fatal.
    result = rung(tmp_path, "--config", str(other), "ask", "--max-tokens", "3", "hi")
    assert result.returncode == 0
    assert "elsewhere.toml, line 2: [local] n_ctx must be between" in result.stderr


def test_a_typo_and_a_step_kind_off_the_ladder_are_said_at_load(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[ladder]\nrungs = ["local", "openai"]\nmodee = "auto"\n\n'
        '[agent]\nplan = "opus"\ndigest = "anthropic"\nact = "openai"\nanswr = "openai"\n'
        "future_option = 1\n",
    )
    config = load_config(path)
    said = "\n".join(config.problems)
    assert f"{path}, line 3: [ladder] modee is not a setting; did you mean mode?" in said
    assert "[agent] answr is not a setting; did you mean answer?" in said
    assert "future_option" not in said  # a newer Rung's key: kept quietly
    assert f"{path}, line 6: [agent] plan = 'opus' is not a rung" in said
    assert "[agent] digest = 'anthropic' is not on the ladder" in said
    assert "Auto routes digest steps" in said and len(config.problems) == 4
    assert (config.get("agent", "plan"), config.get("agent", "digest")) == ("", "")
    assert config.get("agent", "act") == "openai"
