"""Themes: every built-in one renders (snapshot), a broken user theme is one notice."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from rung.engine.config import load_config
from rung.tiers.meter import Totals
from rung.tui.app import RungApp
from rung.tui.themes import DEFAULT_THEME, ThemeError, builtin_themes, theme_from_toml
from rung.tui.widgets.messages import MessageItem
from rung.tui.widgets.meter import CostBar
from rung.tui.widgets.status import StatusBar, StatusView

BUILTIN = [t.name for t in builtin_themes()]

SAMPLE_REPLY = """Use a **token bucket** per customer:

```python
def allow(bucket, now):
    bucket.refill(now)
    return bucket.take(1)
```
"""


class ThemePreview(App[None]):
    """The chat's parts with fixed content, so a snapshot shows only the theme."""

    def __init__(self, theme: str) -> None:
        super().__init__()
        self._theme_name = theme

    def compose(self) -> ComposeResult:
        yield MessageItem("user", "How do I rate-limit an API?", meta="you")
        yield MessageItem("assistant", SAMPLE_REPLY, meta="anthropic · claude-sonnet-4-5 · $0.0195")
        failed = MessageItem("assistant", "Half an answ", meta="gemini · failed")
        failed.add_class("failed")
        yield failed
        yield StatusBar()
        yield CostBar()

    def on_mount(self) -> None:
        for theme in builtin_themes():
            self.register_theme(theme)
        self.theme = self._theme_name
        self.query_one(StatusBar).show(StatusView("Auto", "local", "SmolLM2", "ready"))
        totals = Totals(Decimal("0.0195"), Decimal("0.013"), 0, False, 8000, 500, 5000,
                        {"anthropic": Decimal("0.0195")})  # fmt: skip
        self.query_one(CostBar).show(totals, "claude-opus-4-5")


def test_there_are_at_least_four_builtin_themes_including_light_and_high_contrast() -> None:
    themes = {t.name: t for t in builtin_themes()}
    assert len(themes) >= 4
    assert not themes["rung-light"].dark
    assert themes["rung-high-contrast"].background == "#000000"


@pytest.mark.parametrize("theme", BUILTIN)
def test_theme_snapshot(snap_compare, theme: str) -> None:
    assert snap_compare(ThemePreview(theme), terminal_size=(90, 26))


def test_bad_theme_files_are_explained() -> None:
    with pytest.raises(ThemeError, match="primary = 'not-a-colour' is not a color"):
        theme_from_toml('name = "x"\nprimary = "not-a-colour"\n', "x.toml")
    with pytest.raises(ThemeError, match="needs a name"):
        theme_from_toml('primary = "#fff"\n', "y.toml")
    with pytest.raises(ThemeError, match="not valid TOML"):
        theme_from_toml("name = \n", "z.toml")


async def test_user_themes_load_and_a_broken_one_is_one_notice(tmp_path: Path) -> None:
    folder = tmp_path / "config" / "rung" / "themes"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text('name = "mine"\nprimary = "#ff8800"\ndark = true\n')
    (folder / "broken.toml").write_text('name = "broken"\nprimary = "nope"\n')
    (folder / "worse.toml").write_text("this is not toml [")
    config = load_config()
    config.set("ui", "theme", "broken")
    app = RungApp(config)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
        assert "mine" in app.rung_theme_names
        theme_notices = [n for n in app._notifications if n.title == "Theme"]
        assert len(theme_notices) == 1
        assert "broken.toml" in theme_notices[0].message
        assert "worse.toml" in theme_notices[0].message
