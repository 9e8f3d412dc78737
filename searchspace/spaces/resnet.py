"""A DeepMAD-style ResNet space (``resnet``): five stages of basic or bottleneck blocks, fixed strides."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams
from nas.searchspace.space import Dimension, SearchSpace, register_space
from nas.searchspace.spaces._shrink import (
    capped_depths,
    check_max_depth,
    check_width_mult,
    scaled_widths,
    shrink_config,
)
from nas.searchspace.tensor_type import TensorType

STRIDES = (2, 2, 2, 1, 2)
BLOCKS = ("resnet_basic", "resnet_bottleneck")
STEMS = tuple(range(16, 65, 8))
WIDTHS = tuple(range(16, 2049, 8))
MIDS = tuple(range(8, 513, 8))
KERNELS = (3, 5, 7)
DEPTHS = tuple(range(1, 17))
#: TinyNAS's mutation rules, used by ``sample`` only (SuperResK1KXK1: a block's width at most 4× its
#: input's, its bottleneck at most its width, the first stage at most 3 blocks)
MAX_GROWTH = 4
MAX_FIRST_DEPTH = 3


@cache
def _log_dim(name: str, choices: tuple[int, ...]) -> Dimension:
    return Dimension(name, choices, log=True)


def _log_sample(rng: np.random.Generator, d: Dimension, at_most: int) -> int:
    """A choice of ``d`` (increasing numbers) not above ``at_most``, drawn log-uniformly over those."""
    allowed = d.choices[: max(1, bisect_right(d.choices, at_most))]
    return allowed[0] if len(allowed) == 1 else _log_dim(d.name, allowed).sample(rng)


@register_space
class ResNetSpace(SearchSpace):
    """DeepMAD / TinyNAS-style CNN: stem conv 3×3/2 (BN, ReLU; 16..64 channels step 8), five stages at
    fixed strides (2, 2, 2, 1, 2), global pool + Linear.

    Per stage s = 1..5 the genes ``s{s}_block`` (resnet_basic / resnet_bottleneck), ``s{s}_out``
    (16..2048 step 8), ``s{s}_mid`` (8..512 step 8: the bottleneck's width, or the width between a
    basic block's two k×k convs, TinyNAS's ResKXKX), ``s{s}_kernel`` (3/5/7) and ``s{s}_depth``
    (1..16); the first block of a stage has its stride, every block its kernel. Every gene carries
    meaning, so ``size()`` is the product of the choices. Expresses TinyNAS's DeepMAD-R50
    (``deepmad_r50_genes``).

    The space is this whole box: ``contains``, ``mutate``, ``neighbors`` and ``encode`` cover it.
    ``sample`` draws from a prior inside it that keeps seeded samples ImageNet-sized: stem, widths,
    mids and depths log-uniform (``Dimension(log=True)``), each stage drawn given the one before it,
    as an Optuna define-by-run trial would, within TinyNAS's mutation rules (``MAX_GROWTH``: a stage's
    width at most 4× its input's; a block's ``mid`` at most its width; stage 1 at most
    ``MAX_FIRST_DEPTH`` blocks; DeepMAD-R50 keeps all three). Why: costs are products of the genes,
    so independent per-gene draws over the box are giants. Over 500 seeded samples at 224² (medians):
    uniform draws 169 G FLOPs and 274 M params (the smallest 7 G FLOPs); log-uniform stem, widths and
    mids 21 G and 45 M; log-uniform depths too 13 G and 29 M, 0.8 % of them under 600 M FLOPs. This
    prior: 0.53 G FLOPs and 1.3 M params, 54 % under 600 M FLOPs, the largest 25 G FLOPs and 117 M
    params (``nas analyze resnet --samples 500``).

    Settings (as hybrid's, for a supernet a CPU can train: the whole box's largest network has 8.2 G
    parameters): ``width_mult`` scales the stem, width and mid choices (rounded to multiples of 8, at
    least 8, duplicates dropped) and ``max_depth`` drops depth choices above it.
    """

    name = "resnet"

    def __init__(self, input: TensorType | None = None, num_classes: int | None = None, width_mult: float = 1.0,
                 max_depth: int | None = None) -> None:
        self.width_mult = check_width_mult("resnet", width_mult)
        self.max_depth = check_max_depth("resnet", max_depth)
        super().__init__(input, num_classes)

    def config(self) -> dict[str, Any]:
        return {**super().config(), **shrink_config(self.width_mult, self.max_depth)}

    def dimensions(self) -> Sequence[Dimension]:
        def dim(name: str, choices: tuple[int, ...]) -> Dimension:
            return Dimension(name, choices, log=len(choices) >= 2)

        widths, mids = scaled_widths(WIDTHS, self.width_mult), scaled_widths(MIDS, self.width_mult)
        dims = [dim("stem", scaled_widths(STEMS, self.width_mult))]
        for s in range(1, len(STRIDES) + 1):
            dims += [Dimension(f"s{s}_block", BLOCKS, ordered=False), dim(f"s{s}_out", widths),
                     dim(f"s{s}_mid", mids), Dimension(f"s{s}_kernel", KERNELS),
                     dim(f"s{s}_depth", capped_depths(DEPTHS, self.max_depth))]
        return dims

    def sample(self, rng: np.random.Generator) -> Architecture:
        d = self._by_name
        genes: dict[str, Any] = {"stem": d["stem"].sample(rng)}
        c_in = genes["stem"]
        for s in range(1, len(STRIDES) + 1):
            out = _log_sample(rng, d[f"s{s}_out"], MAX_GROWTH * c_in)
            genes.update({f"s{s}_block": d[f"s{s}_block"].sample(rng), f"s{s}_out": out,
                          f"s{s}_mid": _log_sample(rng, d[f"s{s}_mid"], out),
                          f"s{s}_kernel": d[f"s{s}_kernel"].sample(rng),
                          f"s{s}_depth": _log_sample(rng, d[f"s{s}_depth"],
                                                     MAX_FIRST_DEPTH if s == 1 else d[f"s{s}_depth"].choices[-1])})
            c_in = out
        return Architecture(self.name, HParams(genes))

    def layers(self, genes: HParams, input: TensorType) -> list[tuple[str, str, Mapping[str, Any]]]:
        out: list[tuple[str, str, Mapping[str, Any]]] = [
            ("stem", "conv", {"out": genes["stem"], "kernel": 3, "stride": 2, "norm": True, "act": "relu"})]
        for s, stride in enumerate(STRIDES, start=1):
            for b in range(1, genes[f"s{s}_depth"] + 1):
                out.append((f"stage{s}.{b}", genes[f"s{s}_block"],
                            {"out": genes[f"s{s}_out"], "mid": genes[f"s{s}_mid"], "kernel": genes[f"s{s}_kernel"],
                             "stride": stride if b == 1 else 1}))
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
