"""NSGA-II (Deb et al. 2002) over a static space, with hard constraints handled at proposal time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from nas.search.searchers._pareto import crowding_distance, nondominated_ranks
from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Searcher
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams


@SEARCHERS.register("nsga2")
class NSGA2(Searcher):
    """NSGA-II for one or several objectives.

    Options: ``population`` (default 20), ``crossover_prob`` (default 0.9; uniform crossover of the
    genes), ``mutation_prob`` (default 1.0: each child gets one ``space.mutate`` step). The first
    ``population`` asks are random; later asks are children of two parents picked by binary tournament
    on (front rank, crowding distance). Each time ``population`` complete children have been told, parents
    and children are merged and the best ``population`` survive (rank, then crowding). Hard constraints:
    a child over budget is never asked (resampled, then repaired); only complete trials compete.
    """

    name = "nsga2"
    multi_objective = True
    options: ClassVar[Mapping[str, Any]] = {"population": 20, "crossover_prob": 0.9, "mutation_prob": 1.0}
    quick_options: ClassVar[Mapping[str, Any]] = {"population": 4}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pop_size = int(self.opts["population"])
        if self.pop_size < 2:
            from nas.errors import NasError

            raise NasError(f"nsga2: population must be at least 2, got {self.pop_size}")
        self.parents: list[Trial] = []
        self.children: list[Trial] = []
        self.n_asked = 0
        self.generation = 0
        self._rank: np.ndarray = np.zeros(0, dtype=int)
        self._crowd: np.ndarray = np.zeros(0)

    def _min(self, trials: list[Trial]) -> np.ndarray:
        signs = np.array([d.sign for d in self.directions])
        return np.array([t.values for t in trials], dtype=np.float64).reshape(len(trials), -1) * signs

    def _select(self, pool: list[Trial]) -> list[Trial]:
        pts = self._min(pool)
        ranks = nondominated_ranks(pts)
        chosen: list[int] = []
        for r in range(int(ranks.max()) + 1):
            idx = np.flatnonzero(ranks == r)
            if len(chosen) + len(idx) <= self.pop_size:
                chosen.extend(idx.tolist())
                continue
            crowd = crowding_distance(pts[idx])
            order = sorted(range(len(idx)), key=lambda i: (-crowd[i], pool[idx[i]].number))
            chosen.extend(idx[i] for i in order[: self.pop_size - len(chosen)])
            break
        return [pool[i] for i in sorted(chosen, key=lambda i: pool[i].number)]

    def _refresh_fitness(self) -> None:
        pts = self._min(self.parents)
        self._rank = nondominated_ranks(pts)
        self._crowd = np.zeros(len(self.parents))
        for r in set(self._rank.tolist()):
            idx = np.flatnonzero(self._rank == r)
            self._crowd[idx] = crowding_distance(pts[idx])

    def _tournament(self) -> Trial:
        i, j = (int(x) for x in self.rng.integers(len(self.parents), size=2))
        def key(k):
            return (self._rank[k], -self._crowd[k], self.parents[k].number)
        return self.parents[min(i, j, key=key)]

    def _child(self) -> Architecture:
        a, b = self._tournament().arch, self._tournament().arch
        genes = dict(a.genes)
        if self.rng.random() < float(self.opts["crossover_prob"]):
            for d in self.space.dims:
                if self.rng.random() < 0.5:
                    genes[d.name] = b.genes[d.name]
        child = Architecture(self.space.name, HParams(genes))
        if not self.space.contains(child):
            child = a
        if self.rng.random() < float(self.opts["mutation_prob"]) or child.digest() in self.asked:
            child = self.space.mutate(child, self.rng)
        return child

    def ask(self) -> Architecture:
        self.n_asked += 1
        if not self.parents:
            return self.sample()
        return self.propose(self._child)

    def _tell(self, trial: Trial) -> None:
        if not trial.complete:
            return
        if len(trial.values) != len(self.objectives):
            return
        self.children.append(trial)
        if not self.parents and len(self.children) >= self.pop_size:
            self.parents, self.children = self._select(self.children), []
            self._refresh_fitness()
        elif self.parents and len(self.children) >= self.pop_size:
            self.parents, self.children = self._select(self.parents + self.children), []
            self.generation += 1
            self._refresh_fitness()

    def _state(self) -> dict[str, Any]:
        return {"parents": [t.number for t in self.parents], "children": [t.number for t in self.children],
                "n_asked": self.n_asked, "generation": self.generation}

    def _load_state(self, own: Mapping[str, Any]) -> None:
        by_number = {t.number: t for t in self.history}
        self.parents = [by_number[n] for n in own["parents"]]
        self.children = [by_number[n] for n in own["children"]]
        self.n_asked = int(own["n_asked"])
        self.generation = int(own["generation"])
        if self.parents:
            self._refresh_fitness()
