"""First-improvement local search with random restarts (White et al., "Local search is state of the art")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Searcher
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture


@SEARCHERS.register("local")
class LocalSearch(Searcher):
    """Single-objective first-improvement hill climbing.

    It evaluates a random start, then the current architecture's neighbours in random order; the first
    neighbour that beats the current one becomes current (its neighbours come next). When every
    neighbour has been tried without improvement (a local optimum), it restarts from a random
    architecture. Option ``initial`` (default 1): random architectures evaluated before climbing from
    the best of them. Neighbours already evaluated are skipped; infeasible ones are never asked.
    """

    name = "local"
    options: ClassVar[Mapping[str, Any]] = {"initial": 1}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current: Trial | None = None
        self.queue: list[Architecture] = []
        self.n_initial_left = int(self.opts["initial"])
        self.starts: list[Trial] = []

    def ask(self) -> Architecture:
        if self.n_initial_left > 0 or self.current is None:
            self.n_initial_left = max(0, self.n_initial_left - 1)
            return self.sample()
        while self.queue:
            a = self.queue.pop()
            if a.digest() not in self.asked and self.feasible(a):
                return self._mark(a)
        # local optimum (or no feasible neighbour left): restart from a random architecture
        self.current = None
        self.n_initial_left = 0
        return self.sample()

    def _set_current(self, trial: Trial) -> None:
        self.current = trial
        nbrs = self.space.neighbors(trial.arch)
        order = self.rng.permutation(len(nbrs))
        # popped from the end: reverse so the first of the permutation goes first
        self.queue = [nbrs[int(i)] for i in order[::-1]]

    def _tell(self, trial: Trial) -> None:
        if not trial.complete:
            return
        if self.current is None:
            self.starts.append(trial)
            if self.n_initial_left == 0:
                self._set_current(max(self.starts, key=lambda t: (self.fitness(t), -t.number)))
                self.starts = []
            return
        if self.fitness(trial) > self.fitness(self.current):
            self._set_current(trial)

    def _state(self) -> dict[str, Any]:
        return {"current": None if self.current is None else self.current.number,
                "queue": [a.to_json() for a in self.queue], "n_initial_left": self.n_initial_left,
                "starts": [t.number for t in self.starts]}

    def _load_state(self, own: Mapping[str, Any]) -> None:
        by_number = {t.number: t for t in self.history}
        self.current = None if own["current"] is None else by_number[own["current"]]
        self.queue = [Architecture.from_json(a) for a in own["queue"]]
        self.n_initial_left = int(own["n_initial_left"])
        self.starts = [by_number[n] for n in own["starts"]]
