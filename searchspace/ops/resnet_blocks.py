"""ResNet blocks: ``resnet_basic`` (BasicBlock) and ``resnet_bottleneck`` (Bottleneck, stride on the k×k)."""

from __future__ import annotations

from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import register_op
from nas.searchspace.ops._formulas import conv_out
from nas.searchspace.ops._parts import Part, PartsOp, conv, eltwise, norm
from nas.searchspace.tensor_type import Layout, TensorType

CHANNELS = range(1, 1 << 16)


def _out(t: TensorType, hp: HParams) -> TensorType:
    k, s = hp["kernel"], hp["stride"]
    return TensorType.map(hp["out"], conv_out(t.height, k, s, k // 2), conv_out(t.width, k, s, k // 2))


def _needs_projection(t: TensorType, hp: HParams) -> bool:
    return hp["stride"] != 1 or t.channels != hp["out"]


def _tail(t: TensorType, o: TensorType, hp: HParams) -> list[Part]:
    """Shortcut (1×1 conv with the stride + BN when needed), the add, and the ReLU after it."""
    parts: list[Part] = []
    if _needs_projection(t, hp):
        parts += [conv(t.channels, o.channels, o.height, o.width, 1, h_in=t.height, w_in=t.width),
                  norm(o.channels, o.height * o.width)]
    return parts + [eltwise(o.numel, 2), eltwise(o.numel)]


def basic_mid(hp: HParams) -> int:
    """The width between a basic block's two convs: ``mid``, or ``out`` when ``mid`` is 0."""
    return hp.get("mid", 0) or hp["out"]


@register_op("resnet_basic")
class ResNetBasic(PartsOp):
    """conv k×k C_in→mid stride → BN → ReLU → conv k×k mid→out → BN, + shortcut, → ReLU.

    ``mid`` = 0 (the default) means mid = ``out``: torchvision's BasicBlock exactly (k = 3); another
    ``mid`` is TinyNAS's ResKXKX block with its bottleneck width. The shortcut is the identity, or a
    1×1 conv with the stride + BN when the stride is not 1 or C_in != ``out``. Submodules are named
    as in torchvision (conv1, bn1, conv2, bn2, downsample).
    """

    family = "conv"
    accepts = (Layout.MAP,)
    domain = {"out": CHANNELS, "mid": range(1 << 16), "kernel": (3, 5, 7), "stride": (1, 2)}
    defaults = {"mid": 0, "kernel": 3, "stride": 1}
    elastic = ("in", "out", "mid", "kernel")

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return _out(t, hp)

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        o, k, mid = _out(t, hp), hp["kernel"], basic_mid(hp)
        pos = o.height * o.width
        return [conv(t.channels, mid, o.height, o.width, k, h_in=t.height, w_in=t.width),
                norm(mid, pos), eltwise(mid * pos),
                conv(mid, o.channels, o.height, o.width, k, h_in=o.height, w_in=o.width),
                norm(o.channels, pos)] + _tail(t, o, hp)

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._conv_blocks import BasicBlock

        return BasicBlock(t.channels, basic_mid(hp), hp["out"], hp["kernel"], hp["stride"],
                          _needs_projection(t, hp))

    deepmad_block = True

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        k = hp["kernel"] ** 2
        mid = hp.get("mid", 0) or hp["out"]  # mid = 0: torchvision's BasicBlock (mid = out)
        return (t.channels * k, mid * k)

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(8, 6, 6), {"out": 8}),
                (TensorType.map(4, 9, 7), {"out": 8, "stride": 2}),
                (TensorType.map(6, 5, 5), {"out": 4, "kernel": 5}),
                (TensorType.map(8, 7, 6), {"out": 8, "mid": 3, "kernel": 5}),
                (TensorType.map(6, 9, 9), {"out": 12, "mid": 20, "stride": 2})]


@register_op("resnet_bottleneck")
class ResNetBottleneck(PartsOp):
    """1×1 C_in→mid BN ReLU → k×k mid→mid stride BN ReLU → 1×1 mid→out BN, + shortcut, → ReLU.

    torchvision's Bottleneck (ResNet v1.5: stride on the k×k conv) at k = 3, with the bottleneck
    width ``mid`` given directly. Shortcut as in ``resnet_basic``; torchvision's submodule names.
    """

    family = "conv"
    accepts = (Layout.MAP,)
    domain = {"out": CHANNELS, "mid": CHANNELS, "kernel": (3, 5, 7), "stride": (1, 2)}
    defaults = {"kernel": 3, "stride": 1}
    elastic = ("in", "out", "mid", "kernel")

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return _out(t, hp)

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        o, k, mid = _out(t, hp), hp["kernel"], hp["mid"]
        hw, pos = t.height * t.width, o.height * o.width
        return [conv(t.channels, mid, t.height, t.width, 1, h_in=t.height, w_in=t.width),
                norm(mid, hw), eltwise(mid * hw),
                conv(mid, mid, o.height, o.width, k, h_in=t.height, w_in=t.width),
                norm(mid, pos), eltwise(mid * pos),
                conv(mid, o.channels, o.height, o.width, 1, h_in=o.height, w_in=o.width),
                norm(o.channels, pos)] + _tail(t, o, hp)

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._conv_blocks import Bottleneck

        return Bottleneck(t.channels, hp["mid"], hp["out"], hp["kernel"], hp["stride"],
                          _needs_projection(t, hp))

    deepmad_block = True

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels, hp["mid"] * hp["kernel"] ** 2, hp["mid"])

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(16, 5, 5), {"out": 16, "mid": 4}),
                (TensorType.map(8, 9, 9), {"out": 16, "mid": 4, "stride": 2}),
                (TensorType.map(6, 7, 6), {"out": 12, "mid": 3, "kernel": 5})]
