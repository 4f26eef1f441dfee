"""The user's `[keymap]`, checked: ids Rung does not have, and keys that two actions
would share (only one of them can work), said at start and in F1 instead of silently
losing an action."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from textual.binding import Binding, BindingType


def _bindings(groups: Iterable[Iterable[BindingType]]) -> list[Binding]:
    out: list[Binding] = []
    for group in groups:
        for item in group:
            if isinstance(item, Binding):
                out.append(item)
            else:  # (key, action, description) tuples
                out.append(Binding(*item))
    return out


def _keys(text: str) -> list[str]:
    return [k.strip() for k in text.split(",") if k.strip()]


def keymap_problems(
    keymap: dict[str, str],
    rung_bindings: Iterable[Iterable[BindingType]],
    prompt_bindings: Iterable[BindingType] = (),
    other_screens: Iterable[Iterable[BindingType]] = (),
) -> list[str]:
    """What is wrong with ``keymap`` given the chat's bindings (app and chat screen,
    with ids), the prompt's own editing keys (which win while the prompt has focus, for
    non-priority keys) and the other screens' bindings (whose ids are valid too; their
    keys only matter on their own screen)."""
    bindings = _bindings(rung_bindings)
    by_id = {b.id: b for b in bindings if b.id}
    elsewhere = {b.id for b in _bindings(other_screens) if b.id}
    problems = [
        f"[keymap] {ident}: no such action (F1 lists the ids)"
        for ident in keymap
        if ident not in by_id and ident not in elsewhere
    ]
    owners: dict[str, list[str]] = defaultdict(list)
    for ident, binding in by_id.items():
        keys = _keys(keymap[ident]) if ident in keymap else _keys(binding.key)
        for key in keys:
            owners[key].append(ident)
    for key, idents in sorted(owners.items()):
        if len(idents) > 1 and any(i in keymap for i in idents):
            names = " and ".join(idents)
            problems.append(
                f"[keymap] {key} is bound to both {names}: only one can work; remap one of them"
            )
    editing = {k: b for b in _bindings([prompt_bindings]) for k in _keys(b.key)}
    for key, idents in sorted(owners.items()):
        for ident in idents:
            if ident in keymap and key in editing and not by_id[ident].priority:
                what = editing[key].description or editing[key].action
                problems.append(
                    f"[keymap] {key} for {ident}: the prompt uses {key} ({what}) while you "
                    "type, so it will not reach Rung there; pick another key"
                )
    return problems
