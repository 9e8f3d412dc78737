"""Costs and training-free scores of a registered space's architectures (what ``nas search`` evaluates)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from nas.errors import NasError
from nas.search.names import Metric
from nas.searchspace.architecture import Architecture
from nas.searchspace.netspec import NetSpec
from nas.searchspace.space import SearchSpace, get_space
from nas.searchspace.tensor_type import parse_input

RESOLVED_KEPT = 32


def load_target(name: str | None) -> Any | None:
    """The latency target ``name`` from ``nas.hw_models.targets``; None when no name is given.

    A NasError when the target module is not installed or the name is unknown.
    """
    if not name:
        return None
    try:
        from nas.hw_models.targets import get_target
    except ModuleNotFoundError as e:
        if e.name == "nas.hw_models.targets":
            raise NasError(f"latency targets are not available in this install; cannot use target {name!r}") from None
        raise
    return get_target(name)


def targets_available() -> bool:
    try:
        import nas.hw_models.targets  # noqa: F401
    except ModuleNotFoundError as e:
        if e.name == "nas.hw_models.targets":
            return False
        raise
    return True


def settings_of(options: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """A space's settings as a hashable, canonical value (lists become tuples)."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in (options or {}).items()))


@dataclass(frozen=True)
class SpaceRef:
    """A registered space with its settings, cheap to pickle (rebuilt lazily on a worker)."""

    name: str
    input: str | None = None
    num_classes: int | None = None
    settings: tuple[tuple[str, Any], ...] = ()
    """The space's own settings as sorted (name, value) pairs (``settings_of`` makes them from a mapping)."""

    @cached_property
    def space(self) -> SearchSpace:
        return get_space(self.name, input=parse_input(self.input) if self.input else None,
                         num_classes=self.num_classes, **dict(self.settings))

    @cached_property
    def _resolved(self) -> OrderedDict[str, NetSpec]:
        return OrderedDict()

    def resolve(self, arch: Architecture) -> NetSpec:
        """``space.resolve(arch)``, once per architecture: a trial's costs, score and trainer share the
        NetSpec (the last ``RESOLVED_KEPT`` architectures are kept)."""
        key = arch.digest()
        spec = self._resolved.get(key)
        if spec is None:
            spec = self._resolved[key] = self.space.resolve(arch)
            if len(self._resolved) > RESOLVED_KEPT:
                self._resolved.popitem(last=False)
        else:
            self._resolved.move_to_end(key)
        return spec

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "input": self.input, "num_classes": self.num_classes, "settings": self.settings}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)

    def arch_config(self) -> dict[str, Any]:
        """What ``save_architecture`` writes beside an architecture so ``nas cost`` resolves it the same way."""
        return {k: v for k, v in self.space.config().items() if k != "space"}


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
