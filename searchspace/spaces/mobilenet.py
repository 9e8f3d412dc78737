"""Once-for-All's MobileNetV3 space (``mobilenet``, width 1.0): elastic depth, kernel and expansion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.space import Dimension, register_space
from nas.searchspace.spaces._canonical import CanonicalSpace
from nas.searchspace.tensor_type import TensorType

#: (out channels, stride of the first block, activation, squeeze-excite) of OFA's five elastic stages.
STAGES = ((24, 2, "relu", False), (40, 2, "relu", True), (80, 2, "hswish", False),
          (112, 1, "hswish", True), (160, 2, "hswish", True))
DEPTHS = (2, 3, 4)
KERNELS = (3, 5, 7)
EXPANDS = (3, 4, 6)
MAX_DEPTH = max(DEPTHS)


@register_space
class MobileNetSpace(CanonicalSpace):
    """OFA MobileNetV3 (w1.0): stem 3×3/2 16 hswish; mbconv 16→16 k3 e1 relu; five stages of
    2-4 ``mbconv`` blocks (kernel 3/5/7, expand 3/4/6, OFA-rounded mid, SE 0.25 where the stage has it);
    1×1 conv 160→960 BN hswish; head: pool → Linear 960→1280 hswish → classes.

    Genes: ``d{s}`` (depth of stage s = 1..5) and ``k{s}_{b}``, ``e{s}_{b}`` (kernel and expansion of
    block b = 1..4). Genes of blocks beyond a stage's depth carry no meaning and are fixed to the
    smallest values (kernel 3, expand 3), so equal networks are equal architectures; ``size()`` counts
    distinct networks: (9² + 9³ + 9⁴)⁵ ≈ 2.2·10¹⁹. The head's 960→1280 layer has a bias (OFA's has
    none: 1,280 more params).
    """

    name = "mobilenet"

    def dimensions(self) -> Sequence[Dimension]:
        dims = []
        for s in range(1, len(STAGES) + 1):
            dims.append(Dimension(f"d{s}", DEPTHS))
            for b in range(1, MAX_DEPTH + 1):
                dims += [Dimension(f"k{s}_{b}", KERNELS), Dimension(f"e{s}_{b}", EXPANDS)]
        return dims

    def inactive(self, genes: Mapping[str, Any]) -> dict[str, Any]:
        off: dict[str, Any] = {}
        for s in range(1, len(STAGES) + 1):
            for b in range(int(genes[f"d{s}"]) + 1, MAX_DEPTH + 1):
                off[f"k{s}_{b}"], off[f"e{s}_{b}"] = KERNELS[0], EXPANDS[0]
        return off

    def size(self) -> int:
        per_stage = sum((len(KERNELS) * len(EXPANDS)) ** d for d in DEPTHS)
        return per_stage ** len(STAGES)

    def layers(self, genes: HParams, input: TensorType) -> list[tuple[str, str, Mapping[str, Any]]]:
        out: list[tuple[str, str, Mapping[str, Any]]] = [
            ("stem", "stem", {"out": 16, "kernel": 3, "stride": 2, "norm": "bn", "act": "hswish", "pool": False}),
            ("first", "mbconv", {"out": 16, "expand": 1, "kernel": 3, "stride": 1, "se": 0, "act": "relu"}),
        ]
        for s, (width, stride, act, se) in enumerate(STAGES, start=1):
            for b in range(1, genes[f"d{s}"] + 1):
                out.append((f"stage{s}.{b}", "mbconv", {
                    "out": width, "expand": genes[f"e{s}_{b}"], "kernel": genes[f"k{s}_{b}"],
                    "stride": stride if b == 1 else 1, "se": 0.25 if se else 0, "act": act, "round_mid": True}))
        out += [("final_expand", "conv", {"out": 960, "kernel": 1, "norm": True, "act": "hswish"}),
                ("head", "head", {"classes": self.num_classes, "hidden": 1280, "act": "hswish", "norm": "none"})]
        return out
