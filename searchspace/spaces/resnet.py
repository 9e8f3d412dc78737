"""A DeepMAD-style ResNet space (``resnet``): five stages of basic or bottleneck blocks, fixed strides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.space import Dimension, register_space
from nas.searchspace.spaces._canonical import CanonicalSpace
from nas.searchspace.tensor_type import TensorType

STRIDES = (2, 2, 2, 1, 2)
BLOCKS = ("resnet_basic", "resnet_bottleneck")
STEMS = tuple(range(16, 65, 8))
WIDTHS = tuple(range(16, 2049, 8))
MIDS = tuple(range(8, 513, 8))
KERNELS = (3, 5, 7)
DEPTHS = tuple(range(1, 17))


@register_space
class ResNetSpace(CanonicalSpace):
    """DeepMAD / TinyNAS-style CNN: stem conv 3×3/2 (BN, ReLU; 16..64 channels step 8), five stages at
    fixed strides (2, 2, 2, 1, 2), global pool + Linear.

    Per stage s = 1..5 the genes ``s{s}_block`` (resnet_basic / resnet_bottleneck), ``s{s}_out``
    (16..2048 step 8), ``s{s}_mid`` (bottleneck width 8..512 step 8), ``s{s}_kernel`` (3/5/7) and
    ``s{s}_depth`` (1..16); the first block of a stage has its stride, every block its kernel.
    A basic block has no bottleneck: its ``mid`` gene is fixed to 8 (canonical), and ``size()``
    counts distinct networks. Expresses TinyNAS's DeepMAD-R50 (``deepmad_r50_genes``).
    Uniform samples are mostly far larger than ImageNet models (widths up to 2048, 16 blocks per
    stage); DeepMAD's own search starts small and mutates under a budget.
    """

    name = "resnet"

    def dimensions(self) -> Sequence[Dimension]:
        dims = [Dimension("stem", STEMS)]
        for s in range(1, len(STRIDES) + 1):
            dims += [Dimension(f"s{s}_block", BLOCKS, ordered=False), Dimension(f"s{s}_out", WIDTHS),
                     Dimension(f"s{s}_mid", MIDS), Dimension(f"s{s}_kernel", KERNELS),
                     Dimension(f"s{s}_depth", DEPTHS)]
        return dims

    def inactive(self, genes: Mapping[str, Any]) -> dict[str, Any]:
        return {f"s{s}_mid": MIDS[0] for s in range(1, len(STRIDES) + 1) if genes[f"s{s}_block"] == "resnet_basic"}

    def size(self) -> int:
        per_stage = len(WIDTHS) * len(KERNELS) * len(DEPTHS) * (1 + len(MIDS))  # basic + bottleneck
        return len(STEMS) * per_stage ** len(STRIDES)

    def layers(self, genes: HParams, input: TensorType) -> list[tuple[str, str, Mapping[str, Any]]]:
        out: list[tuple[str, str, Mapping[str, Any]]] = [
            ("stem", "conv", {"out": genes["stem"], "kernel": 3, "stride": 2, "norm": True, "act": "relu"})]
        for s, stride in enumerate(STRIDES, start=1):
            block = genes[f"s{s}_block"]
            for b in range(1, genes[f"s{s}_depth"] + 1):
                hp: dict[str, Any] = {"out": genes[f"s{s}_out"], "kernel": genes[f"s{s}_kernel"],
                                      "stride": stride if b == 1 else 1}
                if block == "resnet_bottleneck":
                    hp["mid"] = genes[f"s{s}_mid"]
                out.append((f"stage{s}.{b}", block, hp))
        out.append(("head", "head", {"classes": self.num_classes, "hidden": 0, "norm": "none"}))
        return out


def deepmad_r50_genes() -> dict[str, Any]:
    """TinyNAS's DeepMAD-R50 (ImageNet): stem 32; (depth, mid, kernel, out) per stage, bottleneck blocks."""
    stages = ((1, 40, 5, 128), (11, 48, 5, 512), (12, 88, 5, 872), (13, 104, 5, 1024), (15, 120, 5, 1232))
    genes: dict[str, Any] = {"stem": 32}
    for s, (depth, mid, kernel, out) in enumerate(stages, start=1):
        genes.update({f"s{s}_block": "resnet_bottleneck", f"s{s}_out": out, f"s{s}_mid": mid,
                      f"s{s}_kernel": kernel, f"s{s}_depth": depth})
    return genes
