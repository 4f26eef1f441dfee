"""How many tokens a rung's model can take (its context window), for the agent's
compaction and the context meter. From genai-prices' bundled table (no network), the
local rung's own ``n_ctx``, or a conservative default for a model the table lacks.
"""

from __future__ import annotations

from functools import lru_cache

# A model genai-prices does not know: assume a window most current chat models exceed,
# so compaction starts early rather than a request failing for its length.
DEFAULT_WINDOW = 128_000


@lru_cache(maxsize=256)
def context_window(provider: str, model: str) -> int | None:
    """The model's window in tokens, when genai-prices' table says it."""
    if not model:
        return None
    try:
        from genai_prices import data_snapshot

        snapshot = data_snapshot.get_snapshot()
        _, found = snapshot.find_provider_model(model, None, provider or None, None)
    except Exception:  # unknown provider or model, or a table that changed shape
        return None
    window = getattr(found, "context_window", None)
    return int(window) if isinstance(window, int) and window > 0 else None
