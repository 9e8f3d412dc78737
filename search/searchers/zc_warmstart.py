"""Zero-cost warm start (NAS-Bench-Suite-Zero): a base searcher whose random initial draws are replaced by
the architectures a training-free score ranks best in a random pool."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from nas.errors import NasError
from nas.search.searchers.registry import SEARCHERS, make_searcher
from nas.search.searchers.searcher import Searcher
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture


@SEARCHERS.register("zc-warmstart")
class ZeroCostWarmStart(Searcher):
    """A base searcher (``base``, default ``bananas``; ``base_options``) warm-started by a zero-cost score.

    Before the first ask it scores ``pool`` (default 100) random feasible architectures with ``score``
    (a name of ``nas.predictors.score.SCORES`` with ``score_options``, or ``auto``: what ``--score auto``
    picks for the space, ``nas.predictors.score_choice.auto_score``). The base searcher's
    first ``n_warm`` (default 10) random draws become the pool's best by score, in decreasing order;
    everything else is the base searcher's own logic. Scoring is free: no trial is spent on it.
    Single objective (as the base).
    """

    name = "zc-warmstart"
    options: ClassVar[Mapping[str, Any]] = {"base": "bananas", "base_options": {}, "score": "auto",
                                            "score_options": {}, "pool": 100, "n_warm": 10}
    quick_options: ClassVar[Mapping[str, Any]] = {"score": "params", "pool": 8, "n_warm": 3,
                                                  "base_options": {"n_init": 4, "candidates": 20, "parents": 3}}

    def __init__(self, space, rng=None, **kwargs: Any) -> None:
        super().__init__(space, rng, **kwargs)
        if str(self.opts["base"]) == self.name:
            raise NasError("zc-warmstart cannot warm-start itself; choose another base searcher")
        for k in ("pool", "n_warm"):
            if int(self.opts[k]) < 1:
                raise NasError(f"zc-warmstart: {k} must be at least 1, got {self.opts[k]}")
        self.inner = make_searcher(str(self.opts["base"]), space, self.rng, objectives=self.objectives,
                                   directions=self.directions, constraint=self.constraint,
                                   max_tries=self.max_tries, **dict(self.opts["base_options"]))
        self._base_sample = self.inner.sample
        self.inner.sample = self._warm_sample  # the base's random draws go through the warm start
        self.warm: list[Architecture] | None = None
        self.n_warm_used = 0
        self.score_name, self.score_options = self._resolve_score()

    def _resolve_score(self) -> tuple[str, dict[str, Any]]:
        from nas.predictors.score import SCORES

        name, options = str(self.opts["score"]), dict(self.opts["score_options"])
        if name == "auto":
            from nas.predictors.score_choice import auto_score

            name = auto_score(self.space)
        SCORES.get(name)
        return name, options

    def _rank_pool(self) -> list[Architecture]:
        from nas.predictors.score import SCORES

        score = SCORES.get(self.score_name)(**self.score_options)
        pool: dict[str, Architecture] = {}
        for _ in range(int(self.opts["pool"]) * 3):
            if len(pool) >= int(self.opts["pool"]):
                break
            a = self.space.sample(self.rng)
            if a.digest() not in pool and self.feasible(a):
                pool[a.digest()] = a
        values = {d: float(score(self.space.resolve(a))) for d, a in pool.items()}
        return [pool[d] for d in sorted(pool, key=lambda d: (-values[d], d))]

    def _warm_sample(self) -> Architecture:
        if self.n_warm_used < int(self.opts["n_warm"]):
            if self.warm is None:
                self.warm = self._rank_pool()
            while self.warm:
                a = self.warm.pop(0)
                if a.digest() not in self.inner.asked:
                    self.n_warm_used += 1
                    return self.inner._mark(a)
        return self._base_sample()

    def ask(self) -> Architecture:
        return self._mark(self.inner.ask())

    def _tell(self, trial: Trial) -> None:
        self.inner.tell(trial)

    def _state(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "n_warm_used": self.n_warm_used,
                "warm": None if self.warm is None else [a.to_json() for a in self.warm]}

    def _load_state(self, own: Mapping[str, Any]) -> None:
        self.inner.load_state_dict(own["inner"])
        self.inner.rng = self.rng
        self.n_warm_used = int(own["n_warm_used"])
        self.warm = None if own["warm"] is None else [Architecture.from_json(a) for a in own["warm"]]
