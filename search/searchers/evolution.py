"""Regularized (aging) evolution, Real et al. 2019: tournament selection, one mutation, oldest dies."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Searcher
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture


@SEARCHERS.register("evolution")
class RegularizedEvolution(Searcher):
    """Single-objective regularized evolution.

    Options: ``population`` (size of the aging population, default 50), ``sample_size`` (tournament
    size, default 10). The first ``population`` asks are random; afterwards each ask mutates the best
    of ``sample_size`` members drawn from the population, and each complete trial told joins the
    population while the oldest leaves. Infeasible and failed trials never join.
    """

    name = "evolution"
    options: ClassVar[Mapping[str, Any]] = {"population": 50, "sample_size": 10}
    quick_options: ClassVar[Mapping[str, Any]] = {"population": 4, "sample_size": 2}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.population: deque[Trial] = deque(maxlen=int(self.opts["population"]))
        self.n_asked = 0

    def ask(self) -> Architecture:
        self.n_asked += 1
        if self.n_asked <= self.population.maxlen or not self.population:
            return self.sample()
        k = min(int(self.opts["sample_size"]), len(self.population))
        idx = self.rng.choice(len(self.population), size=k, replace=False)
        parent = max((self.population[int(i)] for i in idx), key=lambda t: (self.fitness(t), -t.number))
        return self.propose(lambda: self.space.mutate(parent.arch, self.rng))

    def _tell(self, trial: Trial) -> None:
        if trial.complete:
            self.population.append(trial)

    def _state(self) -> dict[str, Any]:
        return {"population": [t.number for t in self.population], "n_asked": self.n_asked}

    def _load_state(self, own: Mapping[str, Any]) -> None:
        by_number = {t.number: t for t in self.history}
        self.population.clear()
        self.population.extend(by_number[n] for n in own["population"])
        self.n_asked = int(own["n_asked"])
