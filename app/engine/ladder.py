"""The user's ladder: the rungs in order, the mode (Auto or pinned), and which rungs can be
used right now. Tiers are built when first needed, so `rung ask` loads no model and
opens no connection for a rung that does not answer, while the chat screen builds
them all at start (its local model loads in the background).

The ladder also holds what the router learned from this user (``lessons``, in the data
directory): F9 on an answer and a kept answer from a cheaper pinned rung are recorded
here, and every Auto decision reads them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rung.engine.build_tiers import RungOverrides, build_tier, key_store
from rung.engine.config import Config, data_dir
from rung.engine.secrets import KeyStore
from rung.tiers.base import ChatRequest, Tier
from rung.tiers.budget import PAID_KINDS
from rung.tiers.embedded_model import embedded_model_path
from rung.tiers.lessons import FILE_NAME
from rung.tiers.lessons_store import LessonStore
from rung.tiers.providers import PROVIDERS

# The router, its signals, competence and the task kinds (~40 ms of regexes and tables)
# are imported with the first Auto decision, not at start: the chat screen warms them on
# a thread after its first frame (RungApp.warm_up). The local tier (with asyncio) when a
# rung is built: `rung route` builds none (tiers/embedded_model.py finds the model file).
if TYPE_CHECKING:
    from rung.tiers.competence import Profile
    from rung.tiers.route_cost import RouteContext
    from rung.tiers.router import Decision, Rung

AUTO = "auto"


def local_model_path(config: Config) -> Path | None:
    """The GGUF the local rung runs: the configured file, else the embedded model."""
    configured = config.get("local", "model_path")
    return Path(configured).expanduser() if configured else embedded_model_path()


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if st is not None else None


def rung_kind(name: str) -> str:
    preset = PROVIDERS.get(name)
    return preset.kind if preset else "api"


class Ladder:
    def __init__(
        self,
        config: Config,
        overrides: RungOverrides | None = None,
        *,
        only_override: bool = False,
        reuse: dict[str, Tier] | None = None,
    ) -> None:
        """``only_override``: a ``--tier`` given to `rung ask` is the whole ladder (no
        fallback to rungs the user did not ask for)."""
        self.config = config
        self.overrides = overrides or RungOverrides()
        self.keys: KeyStore = key_store(config)
        self.problems: list[str] = []
        names = list(dict.fromkeys(config.get("ladder", "rungs"))) or ["local"]
        unknown = [n for n in names if n not in PROVIDERS]
        if unknown:
            known = ", ".join(PROVIDERS)
            self.problems.append(
                f"{config.path}: [ladder] rungs names unknown rung(s) "
                f"{', '.join(map(repr, unknown))}; skipped them. Known: {known}."
            )
            names = [n for n in names if n in PROVIDERS] or ["local"]
        tier_override = self.overrides.tier
        if only_override and tier_override:
            names = [tier_override]
        elif tier_override and tier_override not in names:
            names.append(tier_override)
        self.names = names
        # --model / --base-url without --tier apply to the first rung.
        self.override_target = tier_override or names[0]
        mode = tier_override or config.get("ladder", "mode")
        self.mode = mode if mode == AUTO or mode in names else AUTO
        self.health: dict[str, bool] = {}
        self._tiers: dict[str, Tier] = dict(reuse or {})
        self._key_problems: dict[str, str | None] = {}
        # Read once here, so a damaged file is reported with the other start-up problems.
        self.lessons = LessonStore.load(data_dir() / FILE_NAME)
        self.problems.extend(self.lessons.take_problems())
        # What each rung's model can do, by task kind (tiers/competence.py): built once
        # per ladder, model file and stored calibrations (it hashes the GGUF's first MiB).
        self._competence: tuple[object, dict[str, Profile]] | None = None

    # -- tiers -------------------------------------------------------------------------
    def tier(self, name: str) -> Tier:
        """The tier for a rung, built on first use. Raises UnknownTierError."""
        if name not in self._tiers:
            overrides = self.overrides if name == self.override_target else RungOverrides()
            self._tiers[name] = build_tier(name, self.config, overrides, self.keys)
        return self._tiers[name]

    def build_all(self) -> list[str]:
        """Build every rung now (the chat screen). A rung that cannot be built (a custom
        endpoint with no URL) is taken off this run's ladder; returns why, per rung."""
        problems = []
        for name in list(self.names):
            try:
                self.tier(name)
            except ValueError as exc:
                problems.append(f"{exc} Rung {name!r} is off the ladder for now.")
                self.names.remove(name)
        if not self.names:
            self.names = ["local"]
            self.tier("local")
        if self.mode != AUTO and self.mode not in self.names:
            self.mode = AUTO
        return problems

    def use_model(self, name: str, model: str) -> None:
        """Another model on this rung for the rest of this run (the chat's options); the
        config keeps its own."""
        self.tier(name).model = model

    def built(self) -> dict[str, Tier]:
        return {n: t for n, t in self._tiers.items() if n in self.names}

    def is_built(self, name: str) -> bool:
        return name in self._tiers

    async def aclose(self, keep: Tier | None = None) -> None:
        for tier in self._tiers.values():
            if tier is not keep:
                await tier.aclose()
        self._tiers.clear()

    # -- what can be used now ------------------------------------------------------------
    def key_problem(self, name: str) -> str | None:
        """Why this rung's stored key cannot be used (it has spaces or control characters
        in it), looked up once per run."""
        if name not in self._key_problems:
            found = self.keys.get(name) if PROVIDERS.get(name, None) and name != "local" else None
            self._key_problems[name] = found.problem if found else None
        return self._key_problems[name]

    def rung(self, name: str, budget_allows_paid: bool = True) -> Rung:
        """One rung as the router sees it: usable, or why not."""
        from rung.tiers.router import Rung

        kind = rung_kind(name)
        reason: str | None = self.key_problem(name)
        if reason is not None:
            pass
        elif name in self._tiers:
            reason = self._tiers[name].unusable_reason
            if reason is None and self.health.get(name) is False:
                reason = "endpoint unreachable"
        else:
            reason = self._static_reason(name)
        if reason is None and kind in PAID_KINDS and not budget_allows_paid:
            reason = "budget reached"
        provider, model, n_ctx = self._priced_as(name)
        return Rung(name, kind, reason is None, reason or "", provider, model, n_ctx)

    def _priced_as(self, name: str) -> tuple[str, str, int | None]:
        """(provider, model, context window) as the router prices and fits the rung: the
        built tier's, else what building it would give (no model load, no network)."""
        n_ctx: int | None = None
        if name in self._tiers:
            tier = self._tiers[name]
            provider, model = tier.provider or name, tier.model
            n_ctx = getattr(tier, "n_ctx", None)
        else:
            provider = name
            override = self.overrides.model if self.override_target == name else None
            if name == "selfhosted":
                model = override or self.config.get("selfhosted", "model")
            elif name == "local":
                model = ""
            else:
                model = override or self.config.provider(name).get("model") or ""
                model = model or PROVIDERS[name].default_model
        if rung_kind(name) == "local" and not n_ctx:
            n_ctx = self.config.get("local", "n_ctx")
        return provider, model, n_ctx

    def _static_reason(self, name: str) -> str | None:
        """Without building the tier: no model load, no network, only files and keys."""
        if name == "local":
            path = self.overrides.model if self.override_target == "local" else None
            path = path or self.config.get("local", "model_path")
            present = Path(path).expanduser().is_file() if path else bool(embedded_model_path())
            return None if present else "model file missing"
        preset = PROVIDERS[name]
        if name == "selfhosted":
            url = self.overrides.base_url if self.override_target == name else None
            return None if url or self.config.get("selfhosted", "base_url") else "no base_url set"
        if name == "custom":
            return None
        if preset.env_var and self.keys.get(name) is None:
            return "no API key"
        return None

    def rungs(self, budget_allows_paid: bool = True) -> list[Rung]:
        return [self.rung(n, budget_allows_paid) for n in self.names]

    # -- choosing ------------------------------------------------------------------------
    def decide(
        self,
        request: ChatRequest,
        budget_allows_paid: bool = True,
        context: RouteContext | None = None,
    ) -> Decision:
        """The rung for a new message: the pinned one, or the router's choice.
        ``context``: the conversation so far (which rung answered last, its usage, the
        prices), so the router can weigh a warm prompt cache and a context window."""
        from rung.tiers.router import Decision

        if self.mode != AUTO:
            return Decision(self.names.index(self.mode), self.mode, 0.0, f"pinned: {self.mode}")
        return self.auto_choice(request, budget_allows_paid, context)

    def auto_choice(
        self,
        request: ChatRequest,
        budget_allows_paid: bool = True,
        context: RouteContext | None = None,
    ) -> Decision:
        """What Auto would choose, whatever is pinned (a kept answer from a cheaper pinned
        rung is a lesson only when Auto would have climbed)."""
        from rung.tiers.router import choose
        from rung.tiers.task_kind import expand_floors

        quality = self.config.get("ladder", "quality")
        rungs = self.rungs(budget_allows_paid)
        # current(): one stat, so a `rung route --forget` or another window's lesson
        # counts from the next message on.
        floors = expand_floors(self.config.get("ladder", "floors"))
        return choose(request, rungs, quality, context, self.lessons.current(),
                      self.competence(rungs), floors)  # fmt: skip

    def local_model_path(self) -> Path | None:
        """The local rung's model file: the built tier's (a --model override counts),
        else the configured or embedded one."""
        built = getattr(self._tiers.get("local"), "model_path", None)
        return built if isinstance(built, Path) else local_model_path(self.config)

    def competence(self, rungs: list[Rung]) -> dict[str, Profile]:
        """Each rung's P(right | task kind), rebuilt when the rungs, the local model file
        or the stored calibrations change (a `rung calibrate` counts from the next
        message on)."""
        from rung.tiers.competence import PROFILE_DIR_NAME, profiles_for

        path = self.local_model_path()
        stored = data_dir() / PROFILE_DIR_NAME
        key = (tuple((r.name, r.kind, r.provider, r.model) for r in rungs), path,
               _stamp(path), _stamp(stored))  # fmt: skip
        if self._competence is None or self._competence[0] != key:
            self._competence = (key, profiles_for(rungs, path, data_dir()))
        return self._competence[1]

    # -- learning ------------------------------------------------------------------------
    def learn_escalation(self, question: str, from_tier: str, to_tier: str) -> None:
        """F9 on an answer from ``from_tier``: similar questions should climb past it."""
        self.lessons.record_escalation(question, from_tier, to_tier)

    def learn_kept(self, question: str, tier: str) -> None:
        """The answer from a pinned, cheaper ``tier`` was kept: it was enough."""
        self.lessons.record_kept(question, tier)

    def above(self, name: str, budget_allows_paid: bool = True) -> str | None:
        """The next usable rung above ``name``, for fallback and escalation."""
        from rung.tiers.router import next_usable

        if name not in self.names:
            return None
        index = next_usable(self.rungs(budget_allows_paid), self.names.index(name))
        return None if index is None else self.names[index]

    def below(
        self, name: str, budget_allows_paid: bool = True, request: ChatRequest | None = None
    ) -> str | None:
        """The nearest usable rung below ``name`` that ``request`` fits (its context
        window, when known), for fallback down."""
        from rung.tiers.route_cost import OUTPUT_ROOM, prompt_tokens

        if name not in self.names:
            return None
        tokens = prompt_tokens(request) if request is not None else 0
        rungs = self.rungs(budget_allows_paid)
        for rung in reversed(rungs[: self.names.index(name)]):
            if rung.usable and not (rung.n_ctx and tokens + OUTPUT_ROOM > rung.n_ctx):
                return rung.name
        return None

    def pinned_falls_below(self) -> bool:
        """May a pinned rung that failed fall back to a lower one? Only if allowed."""
        return bool(self.config.get("ladder", "fallback_below_pinned"))

    # -- the mode ---------------------------------------------------------------------
    def pin(self, position: int) -> str | None:
        """Pin rung ``position`` (0-based); the pinned name, or None if there is none."""
        if position >= len(self.names):
            return None
        self.mode = self.names[position]
        return self.mode

    def toggle_auto(self, current: str) -> str:
        """Auto on, or off (pinned to ``current``). Returns the new mode."""
        self.mode = current if self.mode == AUTO else AUTO
        return self.mode


def kinds_ladder(spec: str) -> list[Rung]:
    """`--ladder local,api`: a ladder of tier kinds, all usable, no keys needed. A known
    provider's name (deepseek) is priced as its default model; a bare kind is not."""
    from rung.tiers.router import Rung

    names = [part.strip() for part in spec.split(",") if part.strip()]
    rungs = []
    for n in names:
        kind = n if n in ("local", "selfhosted") else "api"
        preset = PROVIDERS.get(n) if kind == "api" else None
        model = preset.default_model if preset else ""
        rungs.append(Rung(n, kind, provider=n if preset else "", model=model))
    return rungs
