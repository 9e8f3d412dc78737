"""Hypervolume-improvement search: a cheap tree-ensemble surrogate per objective, fitted on the
queried architectures, picks the candidate whose optimistic prediction adds most hypervolume."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from nas.errors import NasError
from nas.search.searchers.canonical import canonical
from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Searcher
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams


def hv_improvement_2d(front: np.ndarray, cand: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Hypervolume (minimisation) each row of ``cand`` would add to the non-dominated ``front``,
    both bounded by ``ref``; vectorised over the candidates."""
    c = np.minimum(cand, ref)
    f = front[np.all(front < ref, axis=1)]
    if len(f) == 0:
        return np.prod(ref - c, axis=1)
    f = f[np.lexsort((f[:, 1], f[:, 0]))]
    keep, best = [], np.inf
    for k, (_, y) in enumerate(f):
        if y < best:
            keep.append(k)
            best = y
    f = f[keep]  # x increasing, y decreasing
    # staircase: for x in [x_k, x_{k+1}) the front covers y >= y_k; before x_0 it covers nothing
    xs = np.concatenate([f[:, 0], [ref[0]]])
    ys = np.concatenate([[ref[1]], f[:, 1]])  # level on [xs[k-1], xs[k]); level before xs[0] is ref
    gain = np.zeros(len(c))
    lo = c[:, 0]
    for k in range(len(xs)):
        left = xs[k - 1] if k else -np.inf
        a = np.maximum(lo, left)
        width = np.clip(xs[k] - a, 0.0, None)
        height = np.clip(ys[k] - c[:, 1], 0.0, None)
        gain += width * height
    return gain


@SEARCHERS.register("hvi")
class HVISearch(Searcher):
    """Surrogate-guided search for two objectives (or one), one query at a time.

    Candidates: every architecture of the space when it holds at most ``pool`` of them (NB201's
    15,625), else ``pool`` random ones; with ``canonical`` (default True) only one member of each
    class of architectures that compute the same function (``nas.search.searchers.canonical``) is a candidate,
    so no query is spent on an equivalent of a queried cell. The first ``n_init`` asks are random
    candidates. Afterwards an extra-trees ensemble per objective (``trees`` trees, one-hot genes as
    features) is refitted on the complete trials, and the ask is the unqueried feasible candidate
    maximising the hypervolume its optimistic prediction (mean + ``kappa`` × spread across trees, in
    each objective's better direction) adds to the queried front; the reference point is the worst
    value seen in each objective plus 10% of its range. With one objective the same rule is an
    upper-confidence-bound choice. Hard constraints: infeasible candidates are never asked.
    Deterministic for a seed (the ensemble is seeded from the searcher's rng).
    """

    name = "hvi"
    multi_objective = True
    options: ClassVar[Mapping[str, Any]] = {"n_init": 10, "pool": 20000, "trees": 32, "kappa": 1.0,
                                             "canonical": True}
    quick_options: ClassVar[Mapping[str, Any]] = {"n_init": 4, "pool": 300, "trees": 4}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if len(self.objectives) > 2:
            raise NasError(f"searcher 'hvi' handles one or two objectives, got {list(self.objectives)}")
        for k in ("n_init", "pool", "trees"):
            if int(self.opts[k]) < 1:
                raise NasError(f"hvi: {k} must be at least 1, got {self.opts[k]}")
        self._cands: list[Architecture] | None = None
        self._X: np.ndarray | None = None
        self._row: dict[str, int] = {}
        self._digests: list[str] = []
        self._by_digest: dict[str, Architecture] = {}
        self._pool_rng: dict[str, Any] | None = None

    # -- candidates -------------------------------------------------------------------------------
    def _candidates(self) -> list[Architecture]:
        if self._cands is not None:
            return self._cands
        pool = int(self.opts["pool"])
        if self.space.size() <= pool:
            names = [d.name for d in self.space.dims]
            archs = [Architecture(self.space.name, HParams(dict(zip(names, vals))))
                     for vals in itertools.product(*(d.choices for d in self.space.dims))]
            archs = [a for a in archs if self.space.contains(a)]
        else:
            if self._pool_rng is None:  # the first draw: remember where it started
                self._pool_rng = self.rng.bit_generator.state
                rng = self.rng
            else:  # a loaded searcher redraws its pool from there (its own rng is already past the draw)
                rng = np.random.Generator(type(self.rng.bit_generator)())
                rng.bit_generator.state = self._pool_rng
            archs = [self.space.sample(rng) for _ in range(pool)]
        if self.opts["canonical"]:
            archs = [canonical(a) for a in archs]
        seen: dict[str, Architecture] = {}
        for a in archs:
            seen.setdefault(a.digest(), a)
        self._cands = list(seen.values())
        self._digests = list(seen)
        self._row = {d: i for i, d in enumerate(self._digests)}
        self._ok = np.array([self.feasible(a) for a in self._cands], dtype=bool)
        self._X = np.stack([self.space.encode(a) for a in self._cands])
        return self._cands

    def _features(self, arch: Architecture) -> np.ndarray:
        i = self._row.get(arch.digest())
        return self._X[i] if i is not None else self.space.encode(arch)

    # -- asking -----------------------------------------------------------------------------------
    def _tell(self, trial: Trial) -> None:
        self._by_digest[trial.arch.digest()] = trial.arch

    def _done(self) -> list[Trial]:
        return [t for t in self.history if t.complete and len(t.values) == len(self.objectives)]

    def _open(self) -> np.ndarray:
        self._candidates()
        fresh = np.array([d not in self.asked for d in self._digests], dtype=bool)
        for d in self.asked:  # an asked architecture also covers its canonical candidate
            i = self._row.get(d)
            if i is None and self.opts["canonical"]:
                i = self._row.get(self._canon(d))
            if i is not None:
                fresh[i] = False
        return np.flatnonzero(fresh & self._ok)

    def _canon(self, digest: str) -> str:
        arch = self._by_digest.get(digest)
        return canonical(arch).digest() if arch is not None else digest

    def ask(self) -> Architecture:
        cands = self._candidates()
        done = self._done()
        open_ = self._open()
        if len(open_) == 0:
            return self.sample()
        if len(done) < int(self.opts["n_init"]) or len(done) < 2:
            return self._mark(cands[int(open_[int(self.rng.integers(len(open_)))])])
        return self._mark(cands[int(open_[int(np.argmax(self._acquisition(done, open_)))])])

    def _acquisition(self, done: list[Trial], open_: np.ndarray) -> np.ndarray:
        from sklearn.ensemble import ExtraTreesRegressor

        signs = np.array([d.sign for d in self.directions])
        X = np.stack([self._features(t.arch) for t in done])
        Y = np.array([t.values for t in done], dtype=np.float64) * signs  # to minimise
        Xc = self._X[open_]
        kappa = float(self.opts["kappa"])
        opt = np.empty((len(open_), Y.shape[1]))
        seed = int(self.rng.integers(2**31 - 1))
        for k in range(Y.shape[1]):
            model = ExtraTreesRegressor(n_estimators=int(self.opts["trees"]), random_state=seed + k,
                                        n_jobs=1).fit(X, Y[:, k])
            per_tree = np.stack([t.predict(Xc) for t in model.estimators_])
            opt[:, k] = per_tree.mean(axis=0) - kappa * per_tree.std(axis=0)
        if Y.shape[1] == 1:
            return -opt[:, 0]
        lo, hi = Y.min(axis=0), Y.max(axis=0)
        ref = hi + 0.1 * np.maximum(hi - lo, 1e-12)
        gain = hv_improvement_2d(Y, opt, ref)
        if np.all(gain <= 0):  # nothing predicted to improve: closest to the front, summed scaled gaps
            scale = np.maximum(hi - lo, 1e-12)
            dist = np.min(np.sum(np.clip((opt[:, None, :] - Y[None, :, :]) / scale, 0, None), axis=2), axis=1)
            return -dist
        return gain

    def _state(self) -> dict[str, Any]:
        return {"pool_rng": self._pool_rng}

    def _load_state(self, own: Mapping[str, Any]) -> None:
        self._pool_rng = own.get("pool_rng")
        self._cands = None
        self._by_digest = {t.arch.digest(): t.arch for t in self.history}
