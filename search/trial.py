"""Trial records and search results: frozen values, Pareto front, hypervolume, save/load."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nas.errors import NasError
from nas.io import read_json, write_json_atomic
from nas.search.names import Direction, TrialState, signs
from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams

if TYPE_CHECKING:
    import pandas as pd

STATES = tuple(TrialState)
DIRECTIONS = tuple(Direction)


@dataclass(frozen=True)
class Trial:
    """One evaluated (or rejected) architecture. Immutable.

    Contract: ``state`` is "complete" (``values`` holds one float per objective, in the order of the
    search's objectives), "infeasible" (over a hard constraint; never evaluated, ``values`` empty) or
    "failed" (the evaluator raised; ``error`` says what). ``costs`` holds the cheap analytic costs
    (``flops``, ``params``, and ``latency_ms`` when a target is known); ``scores`` every score or
    metric the evaluator reported (objectives included); ``info`` anything else JSON-able (for
    example a benchmark's test accuracy, which must not guide the search).
    """

    number: int
    arch: Architecture
    state: TrialState = TrialState.COMPLETE
    costs: Mapping[str, float] = field(default_factory=HParams)
    values: tuple[float, ...] = ()
    scores: Mapping[str, float] = field(default_factory=HParams)
    duration_s: float = 0.0
    error: str = ""
    info: Mapping[str, Any] = field(default_factory=HParams)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise NasError(f"trial state {self.state!r} not allowed; allowed: {', '.join(STATES)}")
        object.__setattr__(self, "state", TrialState(self.state))
        object.__setattr__(self, "costs", HParams({k: float(v) for k, v in self.costs.items()}))
        object.__setattr__(self, "scores", HParams({k: float(v) for k, v in self.scores.items()}))
        object.__setattr__(self, "info", HParams(self.info))
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        if self.state == TrialState.COMPLETE and not self.values:
            raise NasError(f"trial {self.number}: a complete trial needs objective values")

    @property
    def complete(self) -> bool:
        return self.state == TrialState.COMPLETE

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "arch": self.arch.to_json(), "state": self.state.value,
                "costs": dict(self.costs), "values": list(self.values), "scores": dict(self.scores),
                "duration_s": self.duration_s, "error": self.error, "info": self.info.to_json()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Trial:
        return cls(number=int(d["number"]), arch=Architecture.from_json(d["arch"]), state=d["state"],
                   costs=d.get("costs", {}), values=tuple(d.get("values", ())), scores=d.get("scores", {}),
                   duration_s=float(d.get("duration_s", 0.0)), error=d.get("error", ""),
                   info=d.get("info", {}))


def check_directions(objectives: Sequence[str], directions: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Validate objective names and their directions; one direction per objective."""
    objectives, directions = tuple(objectives), tuple(directions)
    if not objectives:
        raise NasError("at least one objective is needed")
    if len(set(objectives)) != len(objectives):
        raise NasError(f"objectives {list(objectives)} repeat a name")
    if len(directions) != len(objectives):
        raise NasError(f"{len(objectives)} objectives {list(objectives)} but {len(directions)} directions")
    for d in directions:
        if d not in DIRECTIONS:
            raise NasError(f"direction {d!r} not allowed; allowed: {', '.join(DIRECTIONS)}")
    return objectives, tuple(Direction(d) for d in directions)


def _as_minimization(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    return values * np.array(signs(directions))


def nondominated_mask(points: np.ndarray) -> np.ndarray:
    """Rows of ``points`` (to minimise) that no other row dominates. Duplicates all stay."""
    n = len(points)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        le = np.all(points <= points[i], axis=1)
        lt = np.any(points < points[i], axis=1)
        if np.any(le & lt):
            mask[i] = False
    return mask


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume (to minimise) dominated by ``points`` and bounded by ``reference``.

    Points not strictly better than the reference in every objective add nothing. Exact; a sweep in
    two dimensions, recursive slicing over the first objective otherwise (fronts of hundreds of points).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, len(reference))
    ref = np.asarray(reference, dtype=np.float64)
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    if pts.shape[1] > 2:  # the 2-d sweep skips dominated points by itself
        pts = pts[nondominated_mask(pts)]
    return _hv(np.unique(pts, axis=0), ref)


def _hv(pts: np.ndarray, ref: np.ndarray) -> float:
    if pts.shape[1] == 1:
        return float(ref[0] - pts[:, 0].min())
    if pts.shape[1] == 2:  # sweep in x: each point adds (ref_x - x) times how far it lowers the best y
        p = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
        best_before = np.minimum.accumulate(np.concatenate(([ref[1]], p[:-1, 1])))
        return float(np.sum((ref[0] - p[:, 0]) * np.maximum(best_before - p[:, 1], 0.0)))
    order = np.argsort(pts[:, 0])
    pts = pts[order]
    total = 0.0
    for i in range(len(pts)):
        upper = pts[i + 1, 0] if i + 1 < len(pts) else ref[0]
        width = upper - pts[i, 0]
        if width <= 0:
            continue
        sl = pts[: i + 1, 1:]
        if sl.shape[1] > 2:  # the 2-d sweep skips dominated points by itself
            sl = sl[nondominated_mask(sl)]
        total += width * _hv(sl, ref[1:])
    return float(total)


class SearchResult:
    """All trials of one search, with the objectives they were scored on.

    Contract: ``trials`` in number order; ``pareto_front()`` the complete trials no other complete trial
    dominates; ``hypervolume(reference)`` of that front; ``save``/``load`` round-trip exactly (JSON);
    ``to_dataframe()`` one row per trial with columns number, state, digest, arch, each objective,
    each cost and score, duration_s.
    """

    def __init__(self, trials: Iterable[Trial], objectives: Sequence[str] = ("score",),
                 directions: Sequence[str] = (Direction.MAXIMIZE,), config: Mapping[str, Any] | None = None) -> None:
        self.objectives, self.directions = check_directions(objectives, directions)
        self.trials: list[Trial] = sorted(trials, key=lambda t: t.number)
        self.config: dict[str, Any] = dict(config or {})

    def __len__(self) -> int:
        return len(self.trials)

    @property
    def complete(self) -> list[Trial]:
        return [t for t in self.trials if t.complete]

    def _min_values(self, trials: Sequence[Trial]) -> np.ndarray:
        vals = np.array([t.values for t in trials], dtype=np.float64).reshape(len(trials), len(self.objectives))
        return _as_minimization(vals, self.directions)

    def best(self, objective: str | None = None) -> Trial:
        """The complete trial best on one objective (default: the first); ties go to the earliest."""
        done = self.complete
        if not done:
            raise NasError("no complete trial in this result")
        k = self.objectives.index(objective) if objective else 0
        sign = self.directions[k].sign
        return min(done, key=lambda t: (sign * t.values[k], t.number))

    def pareto_front(self) -> list[Trial]:
        """Complete, non-dominated trials (one per architecture digest), best first on objective 0."""
        seen: dict[str, Trial] = {}
        for t in self.complete:
            seen.setdefault(t.arch.digest(), t)
        done = list(seen.values())
        if not done:
            return []
        mask = nondominated_mask(self._min_values(done))
        front = [t for t, m in zip(done, mask) if m]
        sign = self.directions[0].sign
        return sorted(front, key=lambda t: (sign * t.values[0], t.number))

    def hypervolume(self, reference: Sequence[float]) -> float:
        """Hypervolume of the front in the objectives' own units; ``reference`` is the worst corner."""
        if len(reference) != len(self.objectives):
            raise NasError(f"reference point needs {len(self.objectives)} values, got {len(reference)}")
        front = self.pareto_front()
        if not front:
            return 0.0
        ref = _as_minimization(np.asarray(reference, dtype=np.float64), self.directions)
        return hypervolume(self._min_values(front), ref)

    def to_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for t in self.trials:
            row: dict[str, Any] = {"number": t.number, "state": t.state.value, "digest": t.arch.digest(),
                                   "arch": t.arch.canonical_json()}
            for name, v in zip(self.objectives, t.values):
                row[name] = v
            for k, v in t.costs.items():
                row.setdefault(k, v)
            for k, v in t.scores.items():
                row.setdefault(k, v)
            row["duration_s"] = t.duration_s
            row["error"] = t.error
            rows.append(row)
        cols = ["number", "state", "digest", "arch", *self.objectives]
        df = pd.DataFrame(rows)
        if df.empty:
            return pd.DataFrame(columns=cols)
        for c in cols:
            if c not in df.columns:
                df[c] = np.nan
        return df[cols + [c for c in df.columns if c not in cols]]

    def to_json(self) -> dict[str, Any]:
        return {"objectives": list(self.objectives), "directions": [d.value for d in self.directions],
                "config": self.config, "trials": [t.to_json() for t in self.trials]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SearchResult:
        return cls([Trial.from_json(t) for t in d["trials"]], d["objectives"], d["directions"], d.get("config"))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON atomically."""
        return write_json_atomic(path, self.to_json(), indent=1, default=_json_default)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SearchResult:
        data = read_json(path, "result")
        try:
            return cls.from_json(data)
        except (KeyError, TypeError) as e:
            raise NasError(f"result file {str(path)!r} is not a search result: missing {e}") from None


def _json_default(o: Any) -> Any:
    if isinstance(o, HParams):
        return o.to_json()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")
