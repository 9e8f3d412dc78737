"""What one ``nas search`` run produced, as ``run.search`` returns it and ``nas search`` prints it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.hw_models.budget import Budget
from nas.search.app.config import SearchConfig
from nas.search.results.front import Front, FrontRecord
from nas.search.trial import SearchResult


@dataclass(frozen=True)
class RunResult:
    """A finished (or resumed-to-the-end) run. Immutable.

    Contract: ``config`` is the resolved config (``--score auto`` resolved; a dataset's input and
    classes set); ``objectives``/``directions`` the search's; ``front`` the reported front (the search's
    objectives, or for a single-objective searcher its objective against the costs), its records best
    first and equal to ``front.json``; ``trials``/``complete``/``infeasible``/``failed`` count every trial by state; ``best(objective)`` the
    front record best on an objective of the front; ``result`` every trial (``SearchResult``);
    ``to_json()`` the object ``nas search --format json`` prints.
    """

    config: SearchConfig
    run_dir: Path
    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    front: Front
    trials: int
    complete: int
    infeasible: int
    failed: int
    failed_errors: tuple[str, ...]
    budgets: tuple[Budget, ...]
    target_model: str | None
    score_description: str
    notes: tuple[str, ...] = ()
    result: SearchResult | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, result: SearchResult, front: Front, run_dir: Path, **fields: Any) -> RunResult:
        """Counts from ``result``'s trials (``report.summary``), the rest as given."""
        from nas.search.results.report import summary

        s = summary(result)
        return cls(run_dir=run_dir, front=front, trials=s["trials"], complete=s["complete"], infeasible=s["infeasible"],
                   failed=s["failed"], failed_errors=tuple(s["failed_errors"]), result=result, **fields)

    @property
    def target(self) -> str | None:
        """The hardware target whose latencies the run reports (None when none was available)."""
        return self.config.target if self.target_model else None

    @property
    def plot(self) -> Path:
        return self.run_dir / "front.png"

    def summary(self) -> dict[str, Any]:
        """Trial counts by state and the first five distinct errors of failed trials (``failed_errors``)."""
        return {"trials": self.trials, "complete": self.complete, "infeasible": self.infeasible,
                "failed": self.failed, "failed_errors": list(self.failed_errors)}

    def best(self, objective: str | None = None) -> FrontRecord:
        """The front record best on ``objective`` (an objective of the front; default its first)."""
        return self.front.best(objective)

    def to_json(self) -> dict[str, Any]:
        """The object ``nas search --format json`` prints."""
        c = self.config
        return {"space": c.space, "strategy": c.strategy, "seed": c.seed, "score": c.score,
                "evaluator": c.evaluator, "target": self.target, "budgets": [b.text for b in self.budgets],
                "objectives": list(self.objectives), "directions": list(self.directions),
                "front_objectives": list(self.front.objectives), "summary": self.summary(),
                "run_folder": str(self.run_dir), "plot": str(self.plot),
                "pareto": [r.to_json() for r in self.front.records]}
