"""Local search guided by a training-free proxy: the proxy (free) picks where to start and which
neighbour to query first; the queries (costly) decide every move."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Searcher
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture

Proxy = Callable[[Architecture], float]


@SEARCHERS.register("proxy-local")
class ProxyLocalSearch(Searcher):
    """First-improvement local search whose choices a zero-cost proxy orders.

    Before the first query it scores ``pool`` random architectures with the proxy and climbs the
    proxy (steepest ascent over ``space.neighbors``) from the best of them; none of this is a query.
    The first query is the proxy's best architecture; afterwards the current architecture's
    neighbours are queried in decreasing proxy order, and the first that beats the current one
    becomes current. At a local optimum it restarts from the best-by-proxy architecture not yet
    queried. Options: ``proxy`` (a registered proxy name, default ``synflow``, or a callable
    ``arch -> float``), ``proxy_options`` (for a named proxy), ``pool`` (default 16), ``climb``
    (default True). Single objective.
    """

    name = "proxy-local"
    options: ClassVar[Mapping[str, Any]] = {"proxy": "synflow", "proxy_options": {}, "pool": 16, "climb": True}
    quick_options: ClassVar[Mapping[str, Any]] = {"proxy": "params", "pool": 4}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        proxy = self.opts["proxy"]
        if callable(proxy):
            self.proxy: Proxy = proxy
        else:
            from nas.predictors.proxy_cache import make_proxy

            self.proxy = make_proxy(str(proxy), self.space, **dict(self.opts["proxy_options"]))
        self._scores: dict[Architecture, float] = {}
        self.current: Trial | None = None
        self.queue: list[Architecture] = []
        self.started = False

    def score(self, arch: Architecture) -> float:
        s = self._scores.get(arch)
        if s is None:
            s = self._scores[arch] = float(self.proxy(arch))
        return s

    def _ranked(self, archs: list[Architecture]) -> list[Architecture]:
        """By decreasing proxy score; random tie-breaking from the searcher's rng."""
        tie = self.rng.random(len(archs))
        order = sorted(range(len(archs)), key=lambda i: (-self.score(archs[i]), tie[i]))
        return [archs[i] for i in order]

    def _warm_up(self) -> None:
        pool = [self.space.sample(self.rng) for _ in range(int(self.opts["pool"]))]
        best = self._ranked(pool)[0]
        if self.opts["climb"]:
            while True:
                nbrs = self.space.neighbors(best)
                top = self._ranked(nbrs)[0] if nbrs else best
                if self.score(top) <= self.score(best):
                    break
                best = top

    def _restart(self) -> Architecture:
        fresh = [a for a in self._scores if a.digest() not in self.asked and self.feasible(a)]
        if fresh:
            return self._mark(self._ranked(fresh)[0])
        return self.sample()

    def ask(self) -> Architecture:
        if not self.started:
            self.started = True
            self._warm_up()
            return self._restart()
        while self.queue:
            a = self.queue.pop(0)
            if a.digest() not in self.asked and self.feasible(a):
                return self._mark(a)
        if self.current is not None:
            self.current = None  # a local optimum: every neighbour was queried
        return self._restart()

    def _move(self, trial: Trial) -> None:
        self.current = trial
        self.queue = self._ranked(self.space.neighbors(trial.arch))

    def _tell(self, trial: Trial) -> None:
        if not trial.complete:
            return
        if self.current is None or self.fitness(trial) > self.fitness(self.current):
            self._move(trial)

    def _state(self) -> dict[str, Any]:
        # proxy values are not state: they are recomputed (or read from the proxy's cache) on demand
        return {"current": None if self.current is None else self.current.number,
                "queue": [a.to_json() for a in self.queue], "started": self.started,
                "scored": [a.to_json() for a in self._scores]}

    def _load_state(self, own: Mapping[str, Any]) -> None:
        by_number = {t.number: t for t in self.history}
        self.current = None if own["current"] is None else by_number[own["current"]]
        self.queue = [Architecture.from_json(a) for a in own["queue"]]
        self.started = bool(own["started"])
        for a in own["scored"]:
            self.score(Architecture.from_json(a))
