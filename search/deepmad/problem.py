"""DeepMAD's design problem: the constraints, and the grid model interface the solvers share.

A *grid model* describes one space to the solvers: every gene as an index into its choices, and a
vectorised, exact evaluation of index rows (the DeepMAD score and every constrained quantity, in
closed form, equal to what the NetSpec path computes; tests check the parity). The mathematical
program, the rounding/repair/polish and the evolutionary solver all work on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from nas.errors import NasError
from nas.hw_models.budget import relative_excess
from nas.predictors.deepmad import DeepMADConfig
from nas.search.deepmad.costs import CONVENTIONS
from nas.searchspace.architecture import Architecture
from nas.searchspace.space import Dimension, SearchSpace

CONVENTION_CHOICES = (*CONVENTIONS, "both")
METRICS = ("score", "flops_analytic", "params_analytic", "flops_tinynas", "params_tinynas", "rho", "layers",
           "peak", "widths_ok")


@dataclass(frozen=True)
class DeepMADConstraints:
    """The constraints of one DeepMAD design problem (None: unconstrained).

    ``flops`` and ``params`` are upper bounds in ``convention``: "analytic" (ours, head included),
    "tinynas" (TinyNAS's count: backbone only, BN and ReLU elements added to the MACs) or "both"
    (each bound must hold in both conventions). ``latency_ms`` on ``target`` (a registered hardware
    target). ``max_layers`` bounds DeepMAD's layer count (linear maps along the main path);
    ``rho`` bounds the effectiveness ρ; ``nondecreasing`` requires stage widths never to shrink
    (stem included); ``max_feature_map`` bounds the largest in+out activation of one layer (elements);
    ``practical`` adds the structural rules below.
    """

    flops: float | None = None
    params: float | None = None
    latency_ms: float | None = None
    target: str | None = None
    max_layers: int | None = None
    rho: float | None = None
    nondecreasing: bool = True
    max_feature_map: float | None = None
    convention: str = "analytic"
    practical: bool = False
    """Structural rules a practitioner keeps (``nas.search.deepmad.resnet.PRACTICAL``): per stage, kernels
    no larger than its feature map, depth at most the map's side, bottleneck/mid widths at least 16 and
    at least a quarter of the block's width. Off reproduces the published program (DeepMAD-R50)."""

    def __post_init__(self) -> None:
        if self.convention not in CONVENTION_CHOICES:
            raise NasError(f"unknown cost convention {self.convention!r}; allowed: {', '.join(CONVENTION_CHOICES)}")
        for name in ("flops", "params", "latency_ms", "max_layers", "rho", "max_feature_map"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise NasError(f"DeepMAD constraint {name} must be positive, got {v}")
        if self.latency_ms is not None and not self.target:
            raise NasError("a latency budget needs a hardware target (--target)")

    def conventions(self) -> tuple[str, ...]:
        return CONVENTIONS if self.convention == "both" else (self.convention,)

    def violation(self, m: Mapping[str, np.ndarray], flops_cap: float | None = None) -> np.ndarray:
        """Largest relative excess over every bound (0 where feasible), per row of metrics ``m``.

        ``flops_cap`` replaces the FLOPs bound (the latency loop tightens it); latency itself is
        checked on the resolved network, not here.
        """
        n = len(m["score"])
        v = np.zeros(n)
        flops = self.flops if flops_cap is None else flops_cap
        for conv in self.conventions():
            if flops is not None:
                v = np.maximum(v, relative_excess(m[f"flops_{conv}"], flops))
            if self.params is not None:
                v = np.maximum(v, relative_excess(m[f"params_{conv}"], self.params))
        if self.rho is not None:
            v = np.maximum(v, m["rho"] / self.rho - 1.0)
        if self.max_layers is not None:
            v = np.maximum(v, m["layers"] / self.max_layers - 1.0)
        if self.max_feature_map is not None:
            v = np.maximum(v, m["peak"] / self.max_feature_map - 1.0)
        if self.nondecreasing:
            v = np.maximum(v, np.where(m["widths_ok"] > 0, 0.0, 1.0))
        if self.practical and "mid_excess" in m:
            v = np.maximum(v, m["mid_excess"])
        return np.maximum(v, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class GridModel(Protocol):
    """A space described to the DeepMAD solvers.

    Contract: ``dims`` are the space's dimensions in order; an index row picks one choice per dim.
    ``evaluate(idx)`` (idx: int array n × len(dims)) returns float arrays for every name in
    ``METRICS``, exactly equal to the NetSpec path (``nas.predictors.deepmad.breakdown``,
    ``nas.search.deepmad.costs.convention_costs``, peak activation). ``canonical(idx)`` resets genes
    that carry no meaning; ``arch(row)`` and ``row(arch)`` convert to and from architectures.
    """

    dims: tuple[Dimension, ...]
    config: DeepMADConfig

    def evaluate(self, idx: np.ndarray) -> dict[str, np.ndarray]: ...

    def canonical(self, idx: np.ndarray) -> np.ndarray: ...

    def arch(self, row: Sequence[int]) -> Architecture: ...

    def row(self, arch: Architecture) -> np.ndarray: ...


class GridRows:
    """The gene ↔ index-row conversions shared by the grid models (they set ``space`` and ``dims``).
    Every gene of the supported spaces carries meaning, so ``canonical`` keeps rows as they are."""

    space: SearchSpace
    dims: tuple[Dimension, ...]

    def row(self, arch: Architecture) -> np.ndarray:
        self.space.validate(arch)
        return np.array([d.index(arch.genes[d.name]) for d in self.dims], dtype=np.int64)

    def arch(self, row: Sequence[int]) -> Architecture:
        return Architecture(self.space.name, {d.name: d.choices[int(i)] for d, i in zip(self.dims, row)})

    def canonical(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(idx, dtype=np.int64)


def sizes(model: GridModel) -> np.ndarray:
    return np.array([len(d.choices) for d in model.dims], dtype=np.int64)
