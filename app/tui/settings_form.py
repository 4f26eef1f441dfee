"""What the settings form holds, as data: the providers in the order they are listed,
the plain config fields of each tab, and the choices a Select offers. The screen is
built from these and saved from these, so each is written once."""

from __future__ import annotations

from urllib.parse import urlsplit

from rung.engine.gguf_finder import find_gguf_files
from rung.tiers.providers import PROVIDERS
from rung.tui.widgets.settings_fields import FormField

# The order a newcomer looks for them in; a provider added to PROVIDERS later still shows.
_ORDER = ("openai", "anthropic", "gemini", "deepseek", "mistral", "openrouter", "groq", "together")
API_PROVIDERS: tuple[str, ...] = (
    *(n for n in _ORDER if n in PROVIDERS),
    *(n for n, p in PROVIDERS.items() if p.kind == "api" and n not in (*_ORDER, "custom")),
    "custom",
)
KEYED = (*API_PROVIDERS, "selfhosted")  # every section with a key field
CUSTOM_PATH = "__custom__"
MAX_LISTED_MODELS = 500  # a picker, not an index: some providers list hundreds
MAX_MODEL_ID = 200

# Plain config fields, per tab. The form is built from these and saved from these, so a
# field is listed once; its label is also how an error names it.
FIELDS: dict[str, list[FormField]] = {
    "selfhosted": [
        FormField("GPU cost, $ per hour", "gpu-usd-per-hour", "selfhosted", "gpu_usd_per_hour",
                  "each reply is charged its share of the hour"),
        FormField("or effective $ per million tokens", "usd-per-mtok", "selfhosted",
                  "usd_per_mtok", "empty: use the GPU cost"),
        FormField("CA bundle", "ca-bundle", "selfhosted", "ca_bundle",
                  "a PEM file for a private CA; empty: the system's"),
        FormField("Verify the server's TLS certificate", "verify-tls", "selfhosted",
                  "verify_tls", check=True),
    ],
    "local": [
        FormField("Context size (tokens)", "n-ctx", "local", "n_ctx",
                  "default 4096; more remembers longer chats, uses more memory"),
        FormField("Threads", "threads", "local", "threads",
                  "0: the cores other programs leave free, judged before each reply"),
        FormField("Output limit (tokens)", "local-max-tokens", "local", "max_tokens",
                  "default 512; a reply gets the smaller of this and the chat's"),
        FormField("Repeat penalty", "repeat-penalty", "local", "repeat_penalty",
                  "0: the model's own, else 1.1; 1.0 turns it off"),
        FormField("Stop a reply that repeats itself", "repeat-guard", "local",
                  "repeat_guard", check=True),
        FormField("Energy: watts while answering", "energy-watts", "local", "energy_watts",
                  "empty: local replies cost nothing"),
        FormField("Energy: $ per kWh", "energy-usd-per-kwh", "local", "energy_usd_per_kwh",
                  "your electricity price"),
    ],
    "ladder": [
        FormField("Quality dial, 0 to 1", "quality", "ladder", "quality",
                  "0 stays on cheap rungs, 1 climbs sooner (default 0.5)"),
        FormField("Fall back to another rung when one fails", "fallback", "ladder",
                  "fallback", check=True),
        FormField("Session budget, $", "session-usd", "budget", "session_usd",
                  "empty: no limit"),
        FormField("Daily budget, $", "daily-usd", "budget", "daily_usd", "empty: no limit"),
        FormField("Savings compared with: model", "reference-model", "reference", "model",
                  "what each reply would have cost there"),
    ],
    "storage": [
        FormField("Allow a plaintext key file", "plaintext-file", "secrets",
                  "plaintext_file", check=True),
    ],
}  # fmt: skip

REPACKING = [
    ("auto: off on CPUs with AMX (it can crash there), else on", "auto"),
    ("off: never repack (safe, a little slower)", "off"),
    ("on: always repack (llama.cpp's default)", "on"),
]


def model_choices() -> list[tuple[str, str]]:
    """The Local model picker's entries: the GGUF files found here (the embedded one
    first), then a last entry for typing any other file's path."""
    options = [(label, str(path)) for label, path in find_gguf_files()]
    return [*options, ("Another file (type its path below)", CUSTOM_PATH)]


def looks_like_base_url(url: str) -> bool:
    """Could this be a server's base URL? (Scheme and host; the test says the rest.)"""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
