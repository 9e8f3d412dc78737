"""InceptionNeXt's Inception depthwise token mixer (``inception_dw``)."""

from __future__ import annotations

import math
from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import register_op
from nas.searchspace.ops._parts import Part, PartsOp, conv
from nas.searchspace.tensor_type import Layout, TensorType


def branch_channels(channels: int, ratio: float) -> int:
    """Channels of each conv branch: int(C · branch_ratio), as in the InceptionNeXt code."""
    return int(channels * ratio)


@register_op("inception_dw")
class InceptionDW(PartsOp):
    """Split C into [identity | DW ks×ks | DW 1×kb | DW kb×1] and concatenate the results back.

    Each conv branch has g = int(C·branch_ratio) channels (depthwise, with bias, padding that keeps
    the size); the identity branch takes the other C − 3g. A token mixer: output type == input type.
    Raises ``NasError`` when g would be 0.
    """

    family = "conv"
    accepts = (Layout.MAP,)
    token_mixer = True
    elastic = ("in",)
    domain = {"square_kernel": (3, 5), "band_kernel": (7, 9, 11, 13), "branch_ratio": (0.125, 0.25)}
    defaults = {"square_kernel": 3, "band_kernel": 11, "branch_ratio": 0.125}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        if branch_channels(t.channels, hp["branch_ratio"]) == 0:
            need = round(1 / hp["branch_ratio"])
            raise NasError(f"inception_dw branch_ratio {hp['branch_ratio']} leaves no channels per branch on "
                           f"{t}; needs at least {need} channels")
        return t

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        self.out_type(t, hp)
        g, h, w = branch_channels(t.channels, hp["branch_ratio"]), t.height, t.width
        ks, kb = hp["square_kernel"], hp["band_kernel"]
        return [conv(g, g, h, w, ks, h_in=h, w_in=w, groups=g, bias=True),
                conv(g, g, h, w, 1, kb, h_in=h, w_in=w, groups=g, bias=True),
                conv(g, g, h, w, kb, 1, h_in=h, w_in=w, groups=g, bias=True),
                Part(t.numel, t.numel)]  # the concat copies every channel once

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._conv_blocks import InceptionDWModule

        return InceptionDWModule(t.channels, branch_channels(t.channels, hp["branch_ratio"]),
                                 hp["square_kernel"], hp["band_kernel"])

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        # channels split into branches with different fan-ins: the effective width is their
        # channel-weighted geometric mean (the identity branch has fan-in 1)
        g = branch_channels(t.channels, hp["branch_ratio"])
        ks, kb = hp["square_kernel"], hp["band_kernel"]
        return (math.exp(g * (math.log(ks * ks) + 2 * math.log(kb)) / t.channels),)

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(16, 7, 7), {}),
                (TensorType.map(12, 5, 9), {"square_kernel": 5, "band_kernel": 7, "branch_ratio": 0.25}),
                (TensorType.map(8, 3, 3), {"band_kernel": 13, "branch_ratio": 0.25})]
