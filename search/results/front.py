"""The reported Pareto front of a run as typed records: what ``front.json`` holds and ``nas search`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nas.search.names import Direction, Metric
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture


@dataclass(frozen=True)
class FrontRecord:
    """One network of the reported front. Immutable.

    Contract: ``values`` pairs each front objective with the trial's value, in the front's objective
    order; ``score``/``flops``/``params``/``latency_ms`` are None where the trial has none (and, like the
    ``front.json`` row, an objective of the same name takes its objective value); ``arch_path`` is the
    architecture JSON written in the run folder (readable by ``nas cost``); ``to_json()`` is the row.
    """

    trial: int
    arch: Architecture
    arch_path: str
    score: float | None
    flops: float | None
    params: float | None
    latency_ms: float | None
    values: tuple[tuple[str, float], ...]

    @property
    def digest(self) -> str:
        return self.arch.digest()

    def value(self, objective: str) -> float:
        return dict(self.values)[objective]

    @classmethod
    def from_trial(cls, t: Trial, objectives: Sequence[str], arch_path: str) -> FrontRecord:
        fixed: dict[str, float | None] = {
            "score": t.scores.get(Metric.SCORE), "flops": t.costs.get(Metric.FLOPS),
            "params": t.costs.get(Metric.PARAMS), "latency_ms": t.costs.get(Metric.LATENCY_MS)}
        values = tuple((name, float(v)) for name, v in zip(objectives, t.values))
        for name, v in values:
            if name in fixed:
                fixed[name] = v
        return cls(t.number, t.arch, arch_path, values=values, **fixed)

    def to_json(self) -> dict[str, Any]:
        """The ``front.json`` row: ``arch`` (the path), ``score``, ``flops``, ``params``, ``latency_ms``,
        every objective, ``digest`` and ``trial``."""
        row: dict[str, Any] = {"arch": self.arch_path, "score": self.score, "flops": self.flops,
                               "params": self.params, "latency_ms": self.latency_ms}
        row.update(self.values)
        row.update(digest=self.digest, trial=self.trial)
        return row


@dataclass(frozen=True)
class Front:
    """The reported front: its objectives and directions and its records, best first on objective 0."""

    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    records: tuple[FrontRecord, ...]

    def best(self, objective: str | None = None) -> FrontRecord:
        """The record best on ``objective`` (default: the first); ties go to the earliest trial."""
        from nas.errors import NasError

        if not self.records:
            raise NasError("the front is empty: no complete trial")
        name = objective or self.objectives[0]
        if name not in self.objectives:
            raise NasError(f"unknown objective {name!r}; allowed: {', '.join(self.objectives)}")
        sign = Direction(self.directions[self.objectives.index(name)]).sign
        return min(self.records, key=lambda r: (sign * r.value(name), r.trial))

    def to_json(self) -> dict[str, Any]:
        """``front.json``: ``objectives``, ``directions`` and the ``pareto`` rows."""
        return {"objectives": list(self.objectives), "directions": list(self.directions),
                "pareto": [r.to_json() for r in self.records]}
