"""Online price updates are opt-in, work from the configured source, and fail safe."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes import Send, Status, json_reply, openai_stream
from tests.test_cli import rung

USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
# A price table in genai-prices' update format: a list of providers with their models.
TABLE = [
    {
        "id": "openai",
        "name": "OpenAI",
        "api_pattern": r"https://api\.openai\.com",
        "models": [
            {
                "id": "team-model",
                "match": {"equals": "team-model"},
                "prices": {"input_mtok": 1, "output_mtok": 2},
            }
        ],
    }
]


def config_with(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config" / "rung" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def ask(tmp_path: Path, api_url: str):  # type: ignore[no-untyped-def]
    args = ["ask", "--tier", "openai", "--base-url", api_url + "/v1", "--model", "team-model"]
    return rung(tmp_path, *args, "--json", "hi", OPENAI_API_KEY="sk-test-000000")


def test_no_network_for_prices_unless_opted_in(tmp_path: Path, servers) -> None:
    prices = servers(lambda r: [Status(200, content_type="application/json"),
                                Send(json.dumps(TABLE).encode())])  # fmt: skip
    api = servers(lambda r: openai_stream(["ok"], usage=USAGE))
    config_with(tmp_path, f'[network]\nprice_update_url = "{prices.url}/data.json"\n')
    data = json.loads(ask(tmp_path, api.url).stdout)
    assert data["cost_usd"] is None  # unknown to the bundled table
    assert prices.requests == []  # and nothing was fetched


def test_opted_in_updates_price_new_models(tmp_path: Path, servers) -> None:
    prices = servers(lambda r: [Status(200, content_type="application/json"),
                                Send(json.dumps(TABLE).encode())])  # fmt: skip
    api = servers(lambda r: openai_stream(["ok"], usage=USAGE))
    config_with(
        tmp_path,
        f'[network]\nupdate_prices = true\nprice_update_url = "{prices.url}/data.json"\n',
    )
    result = ask(tmp_path, api.url)
    assert result.returncode == 0, result.stderr
    # 1000 x $1 + 500 x $2 per million = $0.002, from the fetched table
    assert json.loads(result.stdout)["cost_usd"] == "0.002"
    assert len(prices.requests) >= 1


def test_a_failed_update_keeps_the_bundled_prices(tmp_path: Path, servers) -> None:
    prices = servers(lambda r: json_reply(500, {"error": "down"}))
    api = servers(lambda r: openai_stream(["ok"], usage=USAGE))
    config_with(
        tmp_path,
        f'[network]\nupdate_prices = true\nprice_update_url = "{prices.url}/data.json"\n',
    )
    result = ask(tmp_path, api.url)
    assert result.returncode == 0
    assert "Price update failed" in result.stderr and "bundled prices" in result.stderr
    assert json.loads(result.stdout)["text"] == "ok"
