"""Depthwise k×k convolution (``dwconv``), large kernels included (RepLKNet / UniRepLKNet up to 31)."""

from __future__ import annotations

from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import register_op
from nas.searchspace.ops._formulas import conv_out, same_padding
from nas.searchspace.ops._parts import Part, PartsOp, conv, eltwise, norm
from nas.searchspace.tensor_type import Layout, TensorType

KERNELS = (3, 5, 7, 9, 11, 13, 17, 21, 27, 31)
ACTS = ("none", "relu", "relu6", "gelu", "silu", "hswish")


@register_op("dwconv")
class DepthwiseConv(PartsOp):
    """Depthwise conv (groups = C, output channels = input channels) → BatchNorm (``norm``) → ``act``.

    Padding is dilation·(k−1)/2, so the map keeps its size at stride 1 and is ceil-halved at
    stride 2. A token mixer: at stride 1 the output type equals the input type.
    """

    family = "conv"
    accepts = (Layout.MAP,)
    token_mixer = True
    elastic = ("in",)
    domain = {"kernel": KERNELS, "stride": (1, 2), "dilation": (1, 2, 3), "norm": (True, False),
              "act": ACTS, "bias": (False, True)}
    defaults = {"kernel": 3, "stride": 1, "dilation": 1, "norm": True, "act": "none", "bias": False}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        pad = same_padding(hp["kernel"], hp["dilation"])
        h = conv_out(t.height, hp["kernel"], hp["stride"], pad, hp["dilation"])
        w = conv_out(t.width, hp["kernel"], hp["stride"], pad, hp["dilation"])
        if h <= 0 or w <= 0:
            raise NasError(f"dwconv kernel {hp['kernel']} stride {hp['stride']} leaves no output on {t}")
        return TensorType.map(t.channels, h, w)

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        o = self.out_type(t, hp)
        c, k, pos = t.channels, hp["kernel"], o.height * o.width
        parts = [conv(c, c, o.height, o.width, k, h_in=t.height, w_in=t.width, groups=c, bias=hp["bias"])]
        if hp["norm"]:
            parts.append(norm(c, pos))
        if hp["act"] != "none":
            parts.append(eltwise(c * pos))
        return parts

    def build(self, t: TensorType, hp: HParams):
        from torch import nn

        from nas.searchspace.ops._layers import make_act

        c, k = t.channels, hp["kernel"]
        layers: list[nn.Module] = [nn.Conv2d(c, c, k, hp["stride"], same_padding(k, hp["dilation"]),
                                             hp["dilation"], groups=c, bias=hp["bias"])]
        if hp["norm"]:
            layers.append(nn.BatchNorm2d(c))
        if hp["act"] != "none":
            layers.append(make_act(hp["act"]))
        return nn.Sequential(*layers)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (hp["kernel"] ** 2,)

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(4, 7, 7), {}),
                (TensorType.map(6, 9, 8), {"kernel": 5, "stride": 2, "act": "relu", "bias": True}),
                (TensorType.map(3, 6, 5), {"kernel": 7, "dilation": 2, "norm": False, "act": "gelu"}),
                (TensorType.map(2, 5, 5), {"kernel": 31})]
