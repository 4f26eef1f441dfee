"""Known providers: where they live, which protocol they speak, where their key comes from.

A key is looked up by provider name only, so a provider's key can only ever be sent
to a tier built for that same provider (see ``allowed_key_for``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Provider:
    name: str
    protocol: str  # "openai", "anthropic", "gemini", "local"
    base_url: str
    env_var: str | None  # the provider's usual environment variable for its key
    default_model: str
    price_id: str | None  # genai-prices provider id
    label: str
    kind: str = "api"  # "local", "selfhosted", "api"
    # The provider's premium model, offered next to the (cheaper) default in Settings;
    # both must have a price in the bundled table (a test checks).
    premium_model: str = ""


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            "local", "local", "", None, "SmolLM2-135M-Instruct", None, "Local (llama.cpp)", "local"
        ),
        Provider(
            "selfhosted",
            "openai",
            "http://127.0.0.1:8000/v1",
            "RUNG_SELFHOSTED_API_KEY",
            "",  # discovered from /v1/models
            None,
            "Self-hosted (vLLM / SGLang / llama-server)",
            "selfhosted",
        ),
        Provider(
            "openai",
            "openai",
            "https://api.openai.com/v1",
            "OPENAI_API_KEY",
            "gpt-5.4-mini",
            "openai",
            "OpenAI",
            premium_model="gpt-5.5",
        ),
        Provider(
            "deepseek",
            "openai",
            "https://api.deepseek.com/v1",
            "DEEPSEEK_API_KEY",
            "deepseek-v4-flash",
            "deepseek",
            "DeepSeek",
            premium_model="deepseek-v4-pro",
        ),
        Provider(
            "mistral",
            "openai",
            "https://api.mistral.ai/v1",
            "MISTRAL_API_KEY",
            "mistral-small-latest",
            "mistral",
            "Mistral",
            premium_model="mistral-medium-latest",
        ),
        Provider(
            "openrouter",
            "openai",
            "https://openrouter.ai/api/v1",
            "OPENROUTER_API_KEY",
            "deepseek/deepseek-v4-flash",
            "openrouter",
            "OpenRouter",
            premium_model="anthropic/claude-opus-4.7",
        ),
        Provider(
            "groq",
            "openai",
            "https://api.groq.com/openai/v1",
            "GROQ_API_KEY",
            "openai/gpt-oss-120b",
            "groq",
            "Groq",
            premium_model="moonshotai/kimi-k2-instruct",
        ),
        Provider(
            "together",
            "openai",
            "https://api.together.xyz/v1",
            "TOGETHER_API_KEY",
            "openai/gpt-oss-120b",
            "together",
            "Together",
            premium_model="deepseek-ai/DeepSeek-V4-Pro-0813",
        ),
        Provider(
            "anthropic",
            "anthropic",
            "https://api.anthropic.com",
            "ANTHROPIC_API_KEY",
            "claude-sonnet-4-6",
            "anthropic",
            "Anthropic",
            premium_model="claude-opus-4-7",
        ),
        Provider(
            "gemini",
            "gemini",
            "https://generativelanguage.googleapis.com",
            "GEMINI_API_KEY",
            "gemini-3.1-flash-lite",
            "google",
            "Google Gemini",
            premium_model="gemini-3.1-pro-preview",
        ),
        Provider(
            "custom",
            "openai",
            "",
            "RUNG_CUSTOM_API_KEY",
            "",
            None,
            "Custom OpenAI-compatible",
        ),
    )
}


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def allowed_key_for(provider: str, base_url: str, user_base_url: str | None) -> bool:
    """May this provider's key be sent to ``base_url``?

    Only to the provider's own host, or to a base URL the user set for this same
    provider. The lookup is by provider name, so the self-hosted rung and custom
    endpoints can never receive another provider's key.
    """
    preset = PROVIDERS.get(provider)
    if preset is None:
        return False
    if user_base_url and host_of(user_base_url) == host_of(base_url):
        return True
    return bool(preset.base_url) and host_of(preset.base_url) == host_of(base_url)
