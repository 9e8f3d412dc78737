"""Costs and training-free scores of a registered space's architectures (what ``nas search`` evaluates)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from nas.search.names import Metric
from nas.search.space_ref import SpaceRef, load_target
from nas.searchspace.architecture import Architecture


@dataclass(frozen=True)
class SpaceCosts:
    """``costs(arch)``: analytic FLOPs (MACs) and params, and ``latency_ms`` on ``target`` when given."""

    ref: SpaceRef
    target: str | None = None

    @cached_property
    def _target(self) -> Any | None:
        return load_target(self.target)

    def __call__(self, arch: Architecture) -> dict[str, float]:
        from nas.hw_models.analytic import analytic_costs

        spec = self.ref.resolve(arch)
        c = analytic_costs(spec)
        out = {Metric.FLOPS: float(c.flops), Metric.PARAMS: float(c.params)}
        if self._target is not None:
            out[Metric.LATENCY_MS] = float(self._target.latency_ms(spec))
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"ref": self.ref, "target": self.target}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)


@dataclass(frozen=True)
class ScoreEvaluator:
    """Evaluates an architecture with a registered training-free score (``nas.predictors.score.SCORES``).

    Returns ``{"score": value, score_name: value}``. Picklable: the space and the score are rebuilt on
    the worker.
    """

    ref: SpaceRef
    score: str = "deepmad"
    options: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def _score(self) -> Any:
        from nas.predictors.score import SCORES

        return SCORES.get(self.score)(**dict(self.options))

    def __call__(self, arch: Architecture) -> dict[str, float]:
        value = float(self._score(self.ref.resolve(arch)))
        return {Metric.SCORE: value, self.score: value}

    def describe(self) -> str:
        return str(getattr(self._score, "description", self.score))

    def __getstate__(self) -> dict[str, Any]:
        return {"ref": self.ref, "score": self.score, "options": dict(self.options)}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)
