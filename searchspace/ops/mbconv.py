"""MobileNetV2/V3 inverted residual (``mbconv``) with optional squeeze-and-excitation."""

from __future__ import annotations

from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import register_op
from nas.searchspace.ops._formulas import conv_out, make_divisible
from nas.searchspace.ops._parts import Part, PartsOp, conv, eltwise, norm
from nas.searchspace.tensor_type import Layout, TensorType

CHANNELS = range(1, 1 << 16)


def mbconv_mid(c_in: int, expand: int, round_mid: bool) -> int:
    """Expanded width: C_in when expand is 1 (no expansion conv), else C_in·expand, rounded to 8 if asked
    (to the nearest integer otherwise: MobileNetV3's 2.3 and 2.5 ratios)."""
    if expand == 1:
        return c_in
    return make_divisible(c_in * expand, 8) if round_mid else int(round(c_in * expand))


def se_squeeze(channels: int, ratio: float) -> int:
    """SE bottleneck width as in MobileNetV3 / OFA: make_divisible(channels · ratio, 8)."""
    return make_divisible(channels * ratio, 8)


def se_width(c_in: int, mid: int, ratio: float, kind: str) -> int:
    """SE bottleneck width: "mobilenetv3" make_divisible(mid · ratio, 8) from the expanded width;
    "efficientnet" round(C_in · ratio) from the block input (timm's ``se_from_exp=False``), at least 1."""
    if kind == "efficientnet":
        return max(1, int(round(c_in * ratio)))
    return se_squeeze(mid, ratio)


def se_parts(channels: int, positions: int, squeeze: int) -> list[Part]:
    """Mean over H×W → 1×1 conv (bias) → act → 1×1 conv (bias) → gate → scale the map."""
    sq, n = squeeze, channels * positions
    return [Part(n, channels),  # pooling: torch's counter counts no MACs for it
            conv(channels, sq, 1, 1, 1, h_in=1, w_in=1, bias=True), eltwise(sq),
            conv(sq, channels, 1, 1, 1, h_in=1, w_in=1, bias=True), eltwise(channels),
            eltwise(n, extra_reads=channels)]


@register_op("mbconv")
class MBConv(PartsOp):
    """Inverted residual: 1×1 expand (BN, act) → DW k×k stride (BN, act) → [SE] → 1×1 project (BN).

    The projection is linear (no activation). ``expand == 1`` drops the expansion conv (MobileNetV2's
    first block). The expanded width is ``mbconv_mid``: make_divisible(C_in·expand, 8) when
    ``round_mid`` (OFA MobileNetV3), exactly C_in·expand otherwise (torchvision / timm MobileNetV2).
    ``se`` > 0 adds squeeze-and-excitation on the expanded map; ``se_kind`` "mobilenetv3" squeezes to
    make_divisible(mid · se, 8) with ReLU inside and a hard-sigmoid gate, "efficientnet" to
    round(C_in · se) (the width comes from the block input) with the block's activation and a sigmoid.
    Residual add exactly when stride is 1 and C_in == ``out``.
    """

    family = "conv"
    accepts = (Layout.MAP,)
    elastic = ("in", "out", "expand", "kernel")
    domain = {"out": CHANNELS, "expand": (1, 2, 2.3, 2.5, 3, 4, 6), "kernel": (3, 5, 7), "stride": (1, 2),
              "se": (0, 0.25), "se_kind": ("mobilenetv3", "efficientnet"),
              "act": ("relu", "relu6", "hswish", "silu"), "round_mid": (True, False)}
    defaults = {"expand": 6, "kernel": 3, "stride": 1, "se": 0, "se_kind": "mobilenetv3", "act": "relu6",
                "round_mid": True}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        k, s = hp["kernel"], hp["stride"]
        return TensorType.map(hp["out"], conv_out(t.height, k, s, k // 2), conv_out(t.width, k, s, k // 2))

    @staticmethod
    def residual(t: TensorType, hp: HParams) -> bool:
        return hp["stride"] == 1 and t.channels == hp["out"]

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        o = self.out_type(t, hp)
        c, mid, k = t.channels, mbconv_mid(t.channels, hp["expand"], hp["round_mid"]), hp["kernel"]
        hw, ohw = t.height * t.width, o.height * o.width
        parts: list[Part] = []
        if hp["expand"] != 1:
            parts += [conv(c, mid, t.height, t.width, 1, h_in=t.height, w_in=t.width), norm(mid, hw),
                      eltwise(mid * hw)]
        parts += [conv(mid, mid, o.height, o.width, k, h_in=t.height, w_in=t.width, groups=mid),
                  norm(mid, ohw), eltwise(mid * ohw)]
        if hp["se"]:
            parts += se_parts(mid, ohw, se_width(c, mid, hp["se"], hp["se_kind"]))
        parts += [conv(mid, o.channels, o.height, o.width, 1, h_in=o.height, w_in=o.width),
                  norm(o.channels, ohw)]
        if self.residual(t, hp):
            parts.append(eltwise(o.numel, 2))
        return parts

    deepmad_block = True

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        mid = mbconv_mid(t.channels, hp["expand"], hp["round_mid"])
        expand: tuple[float, ...] = (t.channels,) if hp["expand"] != 1 else ()
        # the SE gate multiplies by a sigmoid in (0, 1): a data-dependent scale, not a widening map
        return expand + (hp["kernel"] ** 2, mid)

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._conv_blocks import InvertedResidual

        mid = mbconv_mid(t.channels, hp["expand"], hp["round_mid"])
        se = se_width(t.channels, mid, hp["se"], hp["se_kind"]) if hp["se"] else 0
        return InvertedResidual(t.channels, mid, hp["out"], hp["kernel"], hp["stride"], hp["act"], se,
                                self.residual(t, hp), hp["se_kind"])

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(8, 7, 7), {"out": 8, "expand": 3, "kernel": 5, "se": 0.25, "act": "hswish"}),
                (TensorType.map(4, 9, 8), {"out": 6, "expand": 1, "stride": 2, "act": "relu"}),
                (TensorType.map(5, 6, 6), {"out": 5, "expand": 3, "kernel": 7, "round_mid": False}),
                (TensorType.map(6, 11, 11), {"out": 10, "expand": 4, "stride": 2, "se": 0.25, "act": "silu"}),
                (TensorType.map(12, 5, 5), {"out": 12, "expand": 6, "kernel": 5, "se": 0.25, "se_kind": "efficientnet",
                                            "act": "silu", "round_mid": False}),
                (TensorType.map(10, 4, 4), {"out": 8, "expand": 2.3, "stride": 2, "act": "hswish"})]
