"""BANANAS (White et al. 2021): a predictor ensemble with an acquisition function over mutations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from nas.errors import NasError
from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Searcher
from nas.searchspace.architecture import Architecture

ACQUISITIONS = ("its", "ucb", "ei", "mean")


@SEARCHERS.register("bananas")
class Bananas(Searcher):
    """Single-objective BANANAS.

    The first ``n_init`` asks are random. Afterwards, whenever its queue is empty, it fits the predictor
    (``predictor``, default ``mlp``: an ensemble of 5 MLPs; any name of ``nas.predictors.PREDICTORS``)
    on every complete trial, draws ``candidates`` architectures by mutating (once or twice) the
    ``parents`` best trials, scores them with the acquisition (``its``: independent Thompson samples
    N(mean, std), the paper's default; ``ucb``: mean + ``kappa``·std; ``ei``: expected improvement;
    ``mean``) and queues the ``batch`` best, fresh and feasible. Options also ``encoding`` (default
    ``path`` for cell spaces whose graphs carry ops on edges, ``onehot`` otherwise) and
    ``predictor_options``. Given the seed and the told trials, the asks are deterministic.
    """

    name = "bananas"
    options: ClassVar[Mapping[str, Any]] = {
        "predictor": "mlp", "encoding": None, "predictor_options": {}, "n_init": 10, "candidates": 100,
        "parents": 10, "batch": 1, "acquisition": "its", "kappa": 0.5}
    quick_options: ClassVar[Mapping[str, Any]] = {"n_init": 4, "candidates": 20, "parents": 3}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.opts["acquisition"] not in ACQUISITIONS:
            raise NasError(f"bananas: acquisition {self.opts['acquisition']!r} not allowed; "
                           f"allowed: {', '.join(ACQUISITIONS)}")
        for k in ("n_init", "candidates", "parents", "batch"):
            if int(self.opts[k]) < 1:
                raise NasError(f"bananas: {k} must be at least 1, got {self.opts[k]}")
        from nas.predictors.encodings import space_view
        from nas.predictors.learned import PREDICTORS

        PREDICTORS.get(str(self.opts["predictor"]))
        self.view = space_view(self.space)
        self.queue: list[Architecture] = []
        self.n_fits = 0

    def _encoding(self) -> str:
        enc = self.opts["encoding"]
        if enc:
            return str(enc)
        if str(self.opts["predictor"]) == "gnn":
            return "graph"
        g = self.space.to_graph(self.space.sample(np.random.default_rng(0)))
        return "path" if any("op" in d for _, _, d in g.edges(data=True)) else "onehot"

    def ask(self) -> Architecture:
        done = [t for t in self.history if t.complete]
        if len(done) < int(self.opts["n_init"]):
            return self.sample()
        while self.queue:
            a = self.queue.pop(0)
            if a.digest() not in self.asked and self.feasible(a):
                return self._mark(a)
        self.queue = self._propose(done)
        if not self.queue:
            return self.sample()
        return self._mark(self.queue.pop(0))

    def _candidates(self, done: list) -> list[Architecture]:
        parents = sorted(done, key=lambda t: (-self.fitness(t), t.number))[: int(self.opts["parents"])]
        seen: set[str] = set()
        out: list[Architecture] = []
        n = int(self.opts["candidates"])
        for k in range(n * 3):
            if len(out) >= n:
                break
            a = parents[k % len(parents)].arch
            for _ in range(1 + int(self.rng.integers(2))):
                a = self.space.mutate(a, self.rng)
            d = a.digest()
            if d in seen or d in self.asked or not self.feasible(a):
                continue
            seen.add(d)
            out.append(a)
        return out

    def _propose(self, done: list) -> list[Architecture]:
        from nas.predictors.learned import make_predictor

        cands = self._candidates(done)
        if not cands:
            return []
        y = np.array([self.fitness(t) for t in done])
        model = make_predictor(str(self.opts["predictor"]), self.view, encoding=self._encoding(),
                               seed=int(self.rng.integers(2**20)), **dict(self.opts["predictor_options"]))
        model.fit([t.arch for t in done], y)
        self.n_fits += 1
        mean, std = model.predict(cands)
        acq = str(self.opts["acquisition"])
        if acq == "its":
            value = self.rng.normal(mean, np.maximum(std, 1e-12))
        elif acq == "ucb":
            value = mean + float(self.opts["kappa"]) * std
        elif acq == "ei":
            from scipy.stats import norm

            s = np.maximum(std, 1e-12)
            z = (mean - y.max()) / s
            value = (mean - y.max()) * norm.cdf(z) + s * norm.pdf(z)
        else:
            value = mean
        order = np.argsort(-value, kind="stable")
        return [cands[int(i)] for i in order[: int(self.opts["batch"])]]

    def _state(self) -> dict[str, Any]:
        return {"queue": [a.to_json() for a in self.queue], "n_fits": self.n_fits}

    def _load_state(self, own: Mapping[str, Any]) -> None:
        self.queue = [Architecture.from_json(a) for a in own["queue"]]
        self.n_fits = int(own["n_fits"])
