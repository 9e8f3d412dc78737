"""Global multi-head self-attention on a token sequence (``mhsa``), plus the cost pieces it shares."""

from __future__ import annotations

from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OpSpec, register_op
from nas.searchspace.ops._formulas import linear_macs, linear_params
from nas.searchspace.tensor_type import Layout, TensorType

#: any head count that divides the token dimension (checked by ``check_heads``)
HEADS = range(1, 1025)


def check_heads(op: str, dim: int, heads: int) -> None:
    """Raise a one-line NasError unless ``heads`` divides the token dimension."""
    if dim % heads:
        raise NasError(f"{op} heads={heads} must divide the token dimension D={dim}")


def attention_macs(tokens: int, dim: int) -> int:
    """MACs of softmax attention over ``tokens`` tokens: QKᵀ (N·N·D) + AV (N·N·D), heads summed."""
    return 2 * tokens * tokens * dim


def qkv_proj_macs(tokens: int, dim: int) -> int:
    """The qkv Linear D→3D and the output Linear D→D on every token."""
    return linear_macs(tokens, dim, 3 * dim) + linear_macs(tokens, dim, dim)


def qkv_proj_params(dim: int, qkv_bias: bool) -> int:
    return linear_params(dim, 3 * dim, qkv_bias) + linear_params(dim, dim, True)


def qkv_stacked(dim: int, qkv_bias: bool) -> dict[str, tuple[int, ...]]:
    """``OpSpec.stacked`` of a fused ``qkv`` Linear D→3D: its weight (and bias) stack q, k and v."""
    return {"qkv.weight": (dim,) * 3, **({"qkv.bias": (dim,) * 3} if qkv_bias else {})}


def attention_elems(tokens: int, dim: int, heads: int) -> int:
    """Elements read and written by one attention over ``tokens`` tokens (weights excluded).

    x read; qkv written; q, k read; scores written (h·N²); softmax reads and writes them; probabilities
    and v read; context written; proj reads it and writes the output: 10·N·D + 4·h·N².
    """
    nd, nn_h = tokens * dim, heads * tokens * tokens
    return nd + 3 * nd + 2 * nd + nn_h + 2 * nn_h + (nn_h + nd) + nd + 2 * nd


@register_op("mhsa")
class MultiHeadSelfAttention(OpSpec):
    """Global multi-head self-attention on a sequence: qkv Linear D→3D, softmax(QKᵀ/√d)V, Linear D→D.

    ``heads`` must divide D. MACs = N·D·3D + 2·N·N·D + N·D·D (softmax and scaling are not MACs);
    the torch module uses explicit matmuls so ``torch.utils.flop_counter`` counts it exactly
    (it counts nothing for ``F.scaled_dot_product_attention`` on CPU).
    """

    family = "attention"
    accepts = (Layout.SEQ,)
    elastic = ("in", "heads")
    domain = {"heads": HEADS, "qkv_bias": (True, False)}
    defaults = {"qkv_bias": True}
    token_mixer = True

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        check_heads(self.name, t.channels, hp["heads"])
        return t

    def macs(self, t: TensorType, hp: HParams) -> int:
        return qkv_proj_macs(t.tokens, t.channels) + attention_macs(t.tokens, t.channels)

    def uncounted_macs(self, t: TensorType, hp: HParams) -> int:
        return attention_macs(t.tokens, t.channels)

    def params(self, t: TensorType, hp: HParams) -> int:
        return qkv_proj_params(t.channels, hp["qkv_bias"])

    def bytes(self, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> int:
        elems = attention_elems(t.tokens, t.channels, hp["heads"])
        return (elems + self.params(t, hp)) * dtype_bytes

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._attention_modules import SelfAttention

        check_heads(self.name, t.channels, hp["heads"])
        return SelfAttention(t.channels, hp["heads"], hp["qkv_bias"])

    def stacked(self, t: TensorType, hp: HParams) -> dict[str, tuple[int, ...]]:
        return qkv_stacked(t.channels, hp["qkv_bias"])

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels, t.channels)  # value and output projections; softmax averaging adds no width

    def launches(self, t: TensorType, hp: HParams) -> int:
        return 9

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.seq(16, 4, 4), {"heads": 2}),
                (TensorType.seq(16, 4, 6), {"heads": 4, "qkv_bias": False}),
                (TensorType.seq(12, 3, 5), {"heads": 6})]
