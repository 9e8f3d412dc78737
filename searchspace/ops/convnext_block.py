"""ConvNeXt block (``convnext_block``), as in timm's convnext_tiny."""

from __future__ import annotations

from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import register_op
from nas.searchspace.ops._parts import Part, PartsOp, conv, eltwise, linear, norm
from nas.searchspace.tensor_type import Layout, TensorType


@register_op("convnext_block")
class ConvNeXtBlock(PartsOp):
    """x + gamma · Linear(GELU(Linear(LayerNorm(DWConv_k(x))))), channels-last inside; keeps the type.

    DW k×k conv with bias (padding k//2) → LayerNorm over channels (eps 1e-6) → Linear C→mlp_ratio·C
    → GELU → Linear back to C → per-channel layer scale ``gamma`` (C parameters, when ``layer_scale``)
    → residual add. Submodules are named as in timm (conv_dw, norm, mlp.fc1, mlp.fc2, gamma).
    """

    family = "conv"
    accepts = (Layout.MAP,)
    domain = {"kernel": (3, 5, 7, 9, 11, 13), "mlp_ratio": (2, 3, 4), "layer_scale": (True, False)}
    defaults = {"kernel": 7, "mlp_ratio": 4, "layer_scale": True}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return t

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        c, h, w, n = t.channels, t.height, t.width, t.numel
        hidden, pos = c * hp["mlp_ratio"], t.height * t.width
        parts = [conv(c, c, h, w, hp["kernel"], h_in=h, w_in=w, groups=c, bias=True), norm(c, pos),
                 linear(pos, c, hidden), eltwise(hidden * pos), linear(pos, hidden, c)]
        if hp["layer_scale"]:
            parts.append(eltwise(n, extra_reads=c, params=c))
        return parts + [eltwise(n, 2)]

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._conv_blocks import ConvNeXtBlockModule

        return ConvNeXtBlockModule(t.channels, hp["kernel"], t.channels * hp["mlp_ratio"], hp["layer_scale"])

    deepmad_block = True

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (hp["kernel"] ** 2, t.channels, t.channels * hp["mlp_ratio"])

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(8, 7, 7), {}),
                (TensorType.map(6, 5, 6), {"kernel": 3, "mlp_ratio": 2, "layer_scale": False}),
                (TensorType.map(4, 4, 4), {"kernel": 13, "mlp_ratio": 3})]
