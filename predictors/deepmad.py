"""DeepMAD's expressiveness score (entropy) and effectiveness ρ on a resolved NetSpec.

DeepMAD (Shen et al., CVPR 2023) models a network with standard-normal weights as an information
system. A linear map whose every output sums ``f`` inputs (its *fan-in*, the "effective width":
C·k² for a k×k conv on C channels) multiplies the output variance by ``f``, so the differential
entropy of a Gaussian feature grows by ½·log f. A block's entropy term is the sum over the linear
maps it applies in sequence; parameter-free maps (pooling, shifts, the softmax or normalised
averaging inside attention) add no width.

The score, as the released code (alibaba/lightweight-neural-architecture-search, ``tinynas``)
computes it:

- stages end where a layer other than the first halves the resolution (a stride-2 block or a
  downsample layer), and after the last layer before the classifier head;
- stage ``i`` scores Sᵢ = (log Cᵢ + log Rᵢ²) · Σ_{blocks from the input to the end of stage i} term,
  where Cᵢ and Rᵢ² (H·W) are the width and positions at the end of the stage;
- score = Σ αᵢ Sᵢ − β·exp(std of the per-stage block counts), α = [1, …, 1, 8], β = 10. The released
  searcher's penalty drops the first entry of the depth list twice, so for the 5-stage ResNet it is
  the std of the last three stages only (``penalty_stages="released"``);
- effectiveness ρ = maxᵢ Lᵢ / (Π w)^{1/Lᵢ} where Lᵢ is the number of linear maps (layers) from the
  input to the end of stage ``i`` and Π w the product of their fan-ins.

``form="paper"`` uses the paper's entropy Σ log(c·k²) without the ½ (the released code takes
log √(c·k²); see that repository's issue #34). Every entropy term doubles; the penalty does not, so
the paper form weighs depth evenness half as much relative to the entropy. ρ is the same in both.

Beyond CNNs (the derivation is in the README, "Beyond CNNs"): attention contributes its value and
output projections (fan-in D each; softmax / linear-attention averaging has weights summing to one and
no parameters, so it adds no width); a diagonal SSM is a learned depthwise convolution over the
tokens (fan-in = tokens it sees); Mamba adds its input projection, short conv, scan and output
projection; token-mixing MLPs and global FFT filters are learned maps over all N positions; pooling,
shifts and identity add nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.predictors.score import SCORES
from nas.searchspace.hparams import HParams
from nas.searchspace.netspec import NetSpec
from nas.searchspace.op_spec import OPS
from nas.searchspace.tensor_type import Layout, TensorType

FORMS = ("released", "paper")
PENALTY_STAGES = ("released", "all", "none")
DEFAULT_BETA = 10.0
LAST_STAGE_WEIGHT = 8.0

FanIns = tuple[float, ...]


# -- per-op effective widths: declared by each op (``OpSpec.fan_ins``, ``OpSpec.deepmad_block``) ------
def fan_ins(op: str, t: TensorType, hp: Mapping[str, Any]) -> FanIns:
    """The fan-ins of ``op`` at input ``t`` (its ``OpSpec.fan_ins``); a one-line NasError for an op
    without an entropy rule."""
    spec = OPS.get(op) if op in OPS else None
    if spec is None:
        raise NasError(f"DeepMAD has no entropy term for op {op!r}: not a registered operation")
    try:
        rule = spec.fan_ins(t, hp if isinstance(hp, HParams) else HParams(hp))
    except NotImplementedError:
        raise NasError(f"DeepMAD has no entropy term for op {op!r}: it declares no fan_ins") from None
    return tuple(float(f) for f in rule)


# -- the score -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    """One DeepMAD stage, with totals accumulated from the network input to its end."""

    channels: int
    positions: int          # H·W at the end of the stage (Rᵢ² for a square map)
    blocks: int             # layers with an entropy term, cumulative
    layers: int             # linear maps, cumulative
    entropy: float          # Σ of block terms, cumulative (in the configured form)
    log_width: float        # Σ log fan-in, cumulative
    weight: float
    score: float            # weight · (log C + log R²) · entropy
    rho: float              # layers / exp(log_width / layers)


@dataclass(frozen=True)
class DeepMADBreakdown:
    """Every number behind one DeepMAD score: stages, depth list, penalty, ρ."""

    stages: tuple[Stage, ...]
    depths: tuple[int, ...]           # blocks per group (the space's stages), before any dropping
    penalty_depths: tuple[int, ...]   # the entries the penalty's std is taken over
    entropy_score: float              # Σ αᵢ Sᵢ
    penalty: float                    # β·exp(std(penalty_depths))
    rho: float
    layers: int

    @property
    def score(self) -> float:
        return self.entropy_score - self.penalty

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "entropy_score": self.entropy_score, "penalty": self.penalty,
                "rho": self.rho, "layers": self.layers, "depths": list(self.depths),
                "stages": [s.__dict__ for s in self.stages]}


@dataclass(frozen=True)
class DeepMADConfig:
    """Options of the DeepMAD score.

    ``form``: "released" (½·log fan-in, the released code) or "paper" (log fan-in).
    ``alpha``: stage weights; None means [1, …, 1, 8] for however many stages the network has
    ([1, 1, 1, 1, 8] for the 5-stage ResNet, as released). ``beta``: the depth penalty weight.
    ``penalty_stages``: "released" (drop the first two entries of the depth list, as the released
    searcher does), "all", or "none" (no penalty).
    """

    form: str = "released"
    alpha: tuple[float, ...] | None = None
    beta: float = DEFAULT_BETA
    penalty_stages: str = "released"

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise NasError(f"unknown DeepMAD form {self.form!r}; allowed: {', '.join(FORMS)}")
        if self.penalty_stages not in PENALTY_STAGES:
            raise NasError(f"unknown DeepMAD penalty_stages {self.penalty_stages!r}; "
                           f"allowed: {', '.join(PENALTY_STAGES)}")
        if self.beta < 0:
            raise NasError(f"DeepMAD beta must be >= 0, got {self.beta}")
        if self.alpha is not None:
            object.__setattr__(self, "alpha", tuple(float(a) for a in self.alpha))

    @property
    def half(self) -> float:
        return 0.5 if self.form == "released" else 1.0

    def weights(self, n_stages: int) -> tuple[float, ...]:
        if self.alpha is None:
            return (1.0,) * (n_stages - 1) + (LAST_STAGE_WEIGHT,)
        if len(self.alpha) != n_stages:
            raise NasError(f"DeepMAD alpha has {len(self.alpha)} weights but the network has {n_stages} stages")
        return self.alpha  # type: ignore[return-value]


def depth_penalty(depths: Sequence[int], cfg: DeepMADConfig) -> tuple[tuple[int, ...], float]:
    """The depth list the penalty uses and β·exp(std) over it (population std, as numpy's default)."""
    if cfg.penalty_stages == "none" or cfg.beta == 0:
        return (), 0.0
    used = tuple(depths[2:]) if cfg.penalty_stages == "released" else tuple(depths)
    std = float(np.std(used)) if used else 0.0
    return used, cfg.beta * math.exp(std)


def _group(name: str) -> str:
    return name.split(".", 1)[0]


def breakdown(spec: NetSpec, cfg: DeepMADConfig | None = None) -> DeepMADBreakdown:
    """The DeepMAD score of ``spec`` and everything it is made of."""
    cfg = cfg or DeepMADConfig()
    raw: list[tuple[int, int, int, int, float, float]] = []   # C, HW, blocks, layers, entropy, log_w
    blocks = n_layers = 0
    entropy = log_w = 0.0
    depths: dict[str, int] = {}
    last: TensorType | None = None
    for i, layer in enumerate(spec.layers):
        t, o = layer.in_type, layer.out_type
        if o.layout is Layout.VEC:          # the classifier head: DeepMAD scores the features before it
            break
        if i > 0 and o.tokens < t.tokens and blocks:
            raw.append((t.channels, t.tokens, blocks, n_layers, entropy, log_w))
        fi = fan_ins(layer.op, t, layer.hp)
        logs = [math.log(f) for f in fi if f > 1.0]
        if fi:
            blocks += 1
            n_layers += len(logs)
            entropy += cfg.half * sum(logs)
            log_w += sum(logs)
        if OPS.get(layer.op).deepmad_block:
            g = _group(layer.name)
            depths[g] = depths.get(g, 0) + 1
        last = o
    if last is None or not blocks:
        raise NasError(f"network {spec.name or '(unnamed)'} has no layer DeepMAD can score")
    raw.append((last.channels, last.tokens, blocks, n_layers, entropy, log_w))
    weights = cfg.weights(len(raw))
    stages = []
    for (c, hw, b, nl, e, lw), a in zip(raw, weights):
        s = a * (math.log(c) + math.log(hw)) * e
        rho = nl / math.exp(lw / nl) if nl else 0.0
        stages.append(Stage(c, hw, b, nl, e, lw, a, s, rho))
    depth_list = tuple(depths.values())
    used, pen = depth_penalty(depth_list, cfg)
    return DeepMADBreakdown(tuple(stages), depth_list, used, sum(s.score for s in stages), pen,
                            max(s.rho for s in stages), n_layers)


@SCORES.register("deepmad")
@dataclass(frozen=True)
class DeepMADScore:
    """DeepMAD's entropy score of a NetSpec (higher is better), deterministic and training-free.

    Contract: ``__call__(spec)`` is ``breakdown(spec).score`` under the configured form, stage
    weights and depth penalty; ``rho(spec)`` is the effectiveness that DeepMAD bounds by ρ₀.
    Raises NasError for a network holding an op without an entropy rule (see ``OpSpec.fan_ins``).
    """

    form: str = "released"
    alpha: tuple[float, ...] | None = None
    beta: float = DEFAULT_BETA
    penalty_stages: str = "released"
    config: DeepMADConfig = field(init=False, repr=False, compare=False)

    name = "deepmad"
    description = "DeepMAD entropy: Σ stage-weighted log-width sums minus a depth-evenness penalty"

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", DeepMADConfig(self.form, self.alpha, self.beta, self.penalty_stages))

    def __call__(self, spec: NetSpec) -> float:
        return breakdown(spec, self.config).score

    def breakdown(self, spec: NetSpec) -> DeepMADBreakdown:
        return breakdown(spec, self.config)

    def rho(self, spec: NetSpec) -> float:
        return breakdown(spec, self.config).rho

