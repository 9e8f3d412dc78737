"""DARTS' separable and dilated convolutions (``sep_conv``), the conv edges of the DARTS search space."""

from __future__ import annotations

from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import register_op
from nas.searchspace.ops._formulas import conv_out
from nas.searchspace.ops._parts import Part, PartsOp, conv, eltwise, norm
from nas.searchspace.tensor_type import Layout, TensorType

CHANNELS = range(1, 1 << 16)


@register_op("sep_conv")
class SepConv(PartsOp):
    """DARTS ``sep_conv_kxk`` (``dilation`` 1): twice [ReLU → depthwise k×k → 1×1 conv → BatchNorm], the
    first at ``stride`` and C → C, the second C → ``out``; DARTS ``dil_conv_kxk`` (``dilation`` 2): once
    [ReLU → depthwise k×k dilated 2 → 1×1 conv C → ``out`` → BatchNorm] at ``stride``. Convs have no bias;
    padding keeps the size at stride 1 (dilation · (k − 1) / 2).
    """

    family = "conv"
    accepts = (Layout.MAP,)
    domain = {"out": CHANNELS, "kernel": (3, 5), "stride": (1, 2), "dilation": (1, 2)}
    defaults = {"kernel": 3, "stride": 1, "dilation": 1}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        k, s, d = hp["kernel"], hp["stride"], hp["dilation"]
        pad = d * (k - 1) // 2
        return TensorType.map(hp["out"], conv_out(t.height, k, s, pad, d), conv_out(t.width, k, s, pad, d))

    def _stacks(self, t: TensorType, hp: HParams) -> list[tuple[int, int]]:
        """(in, out) channels of each ReLU-dw-pw-BN stack."""
        c = t.channels
        return [(c, hp["out"])] if hp["dilation"] == 2 else [(c, c), (c, hp["out"])]

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        o, k = self.out_type(t, hp), hp["kernel"]
        h_in, w_in, parts = t.height, t.width, []
        for c_in, c_out in self._stacks(t, hp):
            parts += [eltwise(c_in * h_in * w_in),
                      conv(c_in, c_in, o.height, o.width, k, h_in=h_in, w_in=w_in, groups=c_in),
                      conv(c_in, c_out, o.height, o.width, 1, h_in=o.height, w_in=o.width),
                      norm(c_out, o.tokens)]
            h_in, w_in = o.height, o.width
        return parts

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return tuple(f for c_in, _ in self._stacks(t, hp) for f in (hp["kernel"] ** 2, c_in))

    def build(self, t: TensorType, hp: HParams):
        from torch import nn

        k, s, d = hp["kernel"], hp["stride"], hp["dilation"]
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(self._stacks(t, hp)):
            layers += [nn.ReLU(), nn.Conv2d(c_in, c_in, k, s if i == 0 else 1, d * (k - 1) // 2, d, groups=c_in,
                                            bias=False),
                       nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        return nn.Sequential(*layers)

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(4, 8, 8), {"out": 4}),
                (TensorType.map(3, 9, 7), {"out": 5, "kernel": 5, "stride": 2}),
                (TensorType.map(4, 8, 6), {"out": 6, "dilation": 2, "stride": 2}),
                (TensorType.map(2, 7, 7), {"out": 2, "kernel": 5, "dilation": 2})]
