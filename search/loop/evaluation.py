"""What the driver evaluates: cheap costs first, hard constraints, then the (expensive) evaluator."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nas.errors import NasError
from nas.hw_models.budget import Budget, BudgetGate
from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams


@dataclass(frozen=True)
class Evaluation:
    """An evaluator's answer: ``metrics`` (floats; objectives are looked up here first, then in the
    costs) and ``info`` (JSON-able extras that must not guide the search, e.g. a test accuracy)."""

    metrics: Mapping[str, float]
    info: Mapping[str, Any] = field(default_factory=dict)


class Evaluator(Protocol):
    """Contract: ``evaluator(arch)`` returns a mapping of metric name to float, or an ``Evaluation``.
    It must be picklable to run on Ray workers. Exceptions become failed trials."""

    def __call__(self, arch: Architecture) -> Mapping[str, float] | Evaluation: ...


CostFn = Callable[[Architecture], Mapping[str, float]]


class CachedCosts:
    """Costs of architectures (``flops``, ``params``, ``latency_ms``...) computed once per digest."""

    def __init__(self, fn: CostFn) -> None:
        self.fn = fn
        self._cache: dict[str, dict[str, float]] = {}

    def __call__(self, arch: Architecture) -> dict[str, float]:
        key = arch.digest()
        if key not in self._cache:
            self._cache[key] = {k: float(v) for k, v in self.fn(arch).items()}
        return self._cache[key]


def budget_violation(budgets: Sequence[Budget], costs: CostFn) -> Callable[[Architecture], float]:
    """The searchers' constraint: the largest relative excess ``cost / limit - 1`` over all budgets
    (0.0 when every budget holds; ``BudgetGate.check(...).excess``)."""
    gate = BudgetGate(tuple(budgets))

    def violation(arch: Architecture) -> float:
        try:
            c = costs(arch)
        except NasError:  # does not resolve: the worst violation
            return float("inf")
        return gate.check(c).excess

    return violation


def run_evaluator(evaluator: Evaluator, arch: Architecture) -> dict[str, Any]:
    """Call the evaluator and return a plain, picklable outcome (runs on a worker)."""
    start = time.perf_counter()
    try:
        out = evaluator(arch)
        if isinstance(out, Evaluation):
            metrics, info = dict(out.metrics), dict(out.info)
        else:
            metrics, info = dict(out), {}
        metrics = {k: float(v) for k, v in metrics.items()}
        error = ""
    except Exception as e:  # noqa: BLE001 - the evaluator's failure is the trial's result
        metrics, info = {}, {}
        error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return {"metrics": metrics, "info": HParams(info).to_json(), "error": error,
            "duration_s": time.perf_counter() - start}
