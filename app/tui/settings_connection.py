"""The settings screen's Test connection: build a provider's tier from what the form
shows (a typed key too) and make the cheapest real call, then show what the server said
as one safe line and the model ids it lists. A mixin of SettingsScreen."""

from __future__ import annotations

import copy

from textual.widgets import Checkbox, Input

from rung.engine.build_tiers import RungOverrides, build_tier
from rung.engine.config import Config
from rung.engine.safe_text import one_line
from rung.tui.settings_form import MAX_LISTED_MODELS, MAX_MODEL_ID


class ConnectionTest:
    """Mixed into SettingsScreen: it provides config, tested, section and refresh_states
    (the last two from SettingsState)."""

    config: Config
    tested: dict[str, bool]  # provider: reached by Test connection

    def test_connection(self, provider: str) -> None:
        """Test one provider; pressing Test again restarts its test, not a second one."""
        self.run_worker(self._test_connection(provider), group=f"test-{provider}",
                        exclusive=True)  # fmt: skip

    async def _test_connection(self, provider: str) -> None:
        """Build the tier from what is on screen (a typed key too) and make the cheapest
        real call: list the models (the self-hosted one: its health check first)."""
        section = self.section(provider)
        section.show_testing()
        config = copy.deepcopy(self.config)
        if provider == "selfhosted":
            config.set("selfhosted", "ca_bundle", self.query_one("#ca-bundle", Input).value.strip())
            config.set("selfhosted", "verify_tls", self.query_one("#verify-tls", Checkbox).value)
        # A URL typed here is the user's choice for this test; one shown unchanged from
        # the config file is not: the tier then applies engine/trusted_hosts.py's rule.
        from rung.engine.trusted_hosts import configured_url

        typed_url = section.base_url if section.base_url != configured_url(config, provider) else ""
        overrides = RungOverrides(
            tier=provider, model=section.model or None, base_url=typed_url or None
        )
        ids: list[str] = []
        try:
            tier = build_tier(provider, config, overrides, api_key=section.typed_key or None)
        except ValueError as exc:
            ok, detail = False, str(exc)
        else:
            try:
                if tier.has_health:
                    ok, detail = await tier.health()
                    detail = f"Connected: {detail}" if ok else detail
                    listed = await tier.list_models() if ok else None
                else:
                    listed = await tier.list_models()
                    ok, detail = listed.ok, listed.message
                if listed is not None and listed.ok:
                    ids = listed.ids[:MAX_LISTED_MODELS]
            finally:
                await tier.aclose()
        # A server chose these words and ids: one safe line each, never markup. An id too
        # long to be a model's is left out rather than cut (a cut id would not work).
        safe_ids = [one_line(i) for i in ids if 0 < len(one_line(i)) <= MAX_MODEL_ID]
        section.show_result(ok, one_line(detail, 300), list(dict.fromkeys(safe_ids)))
        self.tested[provider] = ok
        self.refresh_states(only=provider)
