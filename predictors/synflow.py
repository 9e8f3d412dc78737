"""The synflow zero-cost proxy as a registered score (the computation lives in ``nas.search.proxies``)."""

from __future__ import annotations

from dataclasses import dataclass

from nas.predictors.score import SCORES
from nas.searchspace.netspec import NetSpec


@SCORES.register("synflow")
@dataclass(frozen=True)
class SynflowScore:
    """log synflow of the network a NetSpec builds (higher is better): absolute weights initialised
    under torch seed ``seed``, float64, all-ones input (``nas.search.proxies.synflow``). Deterministic
    for a given spec and seed; applies to any space whose ops build in torch."""

    seed: int = 0

    name = "synflow"
    description = "synflow (log Σ|θ·∂R/∂θ|, absolute weights, all-ones input, float64), training-free"

    def __call__(self, spec: NetSpec) -> float:
        from nas.search.proxies import synflow

        return synflow(spec, self.seed)
