"""Softmax-free linear attention with an ELU+1 feature map (``linear_attention``)."""

from __future__ import annotations

from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OpSpec, register_op
from nas.searchspace.ops.attention import HEADS, check_heads, qkv_proj_macs, qkv_proj_params, qkv_stacked
from nas.searchspace.tensor_type import Layout, TensorType


@register_op("linear_attention")
class LinearAttention(OpSpec):
    """Global linear attention (Katharopoulos et al.): φ(Q)(φ(K)ᵀV) normalised by φ(Q)·Σφ(K), φ = ELU+1.

    ``heads`` must divide D; d = D/heads. MACs = N·D·3D (qkv) + N·D·d (φ(K)ᵀV, N·d·d per head)
    + N·D·d (φ(Q)(KᵀV)) + N·D (the normaliser φ(Q)·Σφ(K), an einsum torch counts) + N·D·D (proj).
    The sum over tokens, ELU and the division are elementwise and count 0.
    """

    family = "attention"
    accepts = (Layout.SEQ,)
    elastic = ("in", "heads")
    domain = {"heads": HEADS}
    defaults: dict[str, Any] = {}
    token_mixer = True

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        check_heads(self.name, t.channels, hp["heads"])
        return t

    def macs(self, t: TensorType, hp: HParams) -> int:
        n, d = t.tokens, t.channels
        head_dim = d // hp["heads"]
        return qkv_proj_macs(n, d) + 2 * n * d * head_dim + n * d

    def params(self, t: TensorType, hp: HParams) -> int:
        return qkv_proj_params(t.channels, True)

    def bytes(self, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> int:
        """x read, qkv written, φ reads and writes q and k, KᵀV reads k, v and writes h·d², Σk reads k and
        writes h·d, the normaliser reads q and writes N·h, the product reads q, KᵀV and writes N·D,
        the division reads and writes N·D, proj reads N·D and writes N·D."""
        n, d, h = t.tokens, t.channels, hp["heads"]
        kv = d * (d // h)
        nd = n * d
        elems = nd + 3 * nd + 4 * nd + (2 * nd + kv) + (nd + d) + (nd + n * h) + (nd + kv + nd) + 2 * nd + 2 * nd
        return (elems + self.params(t, hp)) * dtype_bytes

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._attention_modules import LinearSelfAttention

        check_heads(self.name, t.channels, hp["heads"])
        return LinearSelfAttention(t.channels, hp["heads"])

    def stacked(self, t: TensorType, hp: HParams) -> dict[str, tuple[int, ...]]:
        return qkv_stacked(t.channels, True)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels, t.channels)  # value and output projections

    def launches(self, t: TensorType, hp: HParams) -> int:
        return 11

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.seq(16, 4, 4), {"heads": 2}),
                (TensorType.seq(16, 4, 6), {"heads": 4}),
                (TensorType.seq(12, 2, 5), {"heads": 1})]
