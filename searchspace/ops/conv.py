"""Plain k×k convolution with BatchNorm and an activation (``conv``)."""

from __future__ import annotations

from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OpSpec, register_op
from nas.searchspace.ops._formulas import conv_macs, conv_out, conv_params, norm_params, same_padding
from nas.searchspace.tensor_type import Layout, TensorType

CHANNELS = range(1, 1 << 16)


@register_op("conv")
class Conv(OpSpec):
    """k×k convolution → BatchNorm (optional) → activation (optional); padding keeps size at stride 1."""

    family = "conv"
    accepts = (Layout.MAP,)
    elastic = ("in", "out")
    domain = {"out": CHANNELS, "kernel": (1, 2, 3, 4, 5, 7, 9, 11), "stride": (1, 2, 4), "groups": range(1, 1 << 16),
              "dilation": (1, 2, 3), "norm": (True, False), "act": ("relu", "relu6", "gelu", "silu", "hswish", "none"),
              "bias": (True, False)}
    defaults = {"kernel": 3, "stride": 1, "groups": 1, "dilation": 1, "norm": True, "act": "relu", "bias": False}

    def _pad(self, hp: HParams) -> int:
        return same_padding(hp["kernel"], hp["dilation"])

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        g = hp["groups"]
        if t.channels % g or hp["out"] % g:
            raise NasError(f"conv groups={g} must divide in channels {t.channels} and out {hp['out']}")
        h = conv_out(t.height, hp["kernel"], hp["stride"], self._pad(hp), hp["dilation"])
        w = conv_out(t.width, hp["kernel"], hp["stride"], self._pad(hp), hp["dilation"])
        if h <= 0 or w <= 0:
            raise NasError(f"conv kernel {hp['kernel']} stride {hp['stride']} leaves no output on {t}")
        return TensorType.map(hp["out"], h, w)

    def macs(self, t: TensorType, hp: HParams) -> int:
        o = self.out_type(t, hp)
        return conv_macs(t.channels, o.channels, hp["kernel"], hp["groups"], o.height, o.width)

    def params(self, t: TensorType, hp: HParams) -> int:
        return conv_params(t.channels, hp["out"], hp["kernel"], hp["groups"], hp["bias"]) + (
            norm_params(hp["out"]) if hp["norm"] else 0)

    def build(self, t: TensorType, hp: HParams):
        from torch import nn

        from nas.searchspace.ops._layers import make_act

        layers: list[nn.Module] = [nn.Conv2d(t.channels, hp["out"], hp["kernel"], hp["stride"], self._pad(hp),
                                             hp["dilation"], hp["groups"], bias=hp["bias"])]
        if hp["norm"]:
            layers.append(nn.BatchNorm2d(hp["out"]))
        layers.append(make_act(hp["act"]))
        return nn.Sequential(*layers)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels // hp["groups"] * hp["kernel"] ** 2,)

    def launches(self, t: TensorType, hp: HParams) -> int:
        return 1 + int(hp["norm"]) + int(hp["act"] != "none")

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(4, 9, 9), {"out": 8}),
                (TensorType.map(6, 10, 10), {"out": 9, "kernel": 5, "stride": 2, "groups": 3, "act": "gelu"}),
                (TensorType.map(4, 11, 8), {"out": 4, "kernel": 3, "dilation": 2, "bias": True, "norm": False})]
