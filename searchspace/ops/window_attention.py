"""Swin-style attention inside non-overlapping windows of a token grid (``window_attention``)."""

from __future__ import annotations

from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OpSpec, register_op
from nas.searchspace.ops.attention import (
    HEADS,
    attention_elems,
    attention_macs,
    check_heads,
    qkv_proj_macs,
    qkv_proj_params,
    qkv_stacked,
)
from nas.searchspace.tensor_type import Layout, TensorType


@register_op("window_attention")
class WindowAttention(OpSpec):
    """Multi-head self-attention within each w×w window of the sequence's H×W grid (no shift).

    H and W must be multiples of ``window`` and ``heads`` must divide D. The qkv (D→3D, with bias) and
    output (D→D) Linears run on every token; attention costs 2·w²·w²·D MACs per window, so
    MACs = N·D·3D + N·D·D + 2·N·w²·D. ``rel_pos`` adds a learnable (2w−1)²×heads bias table; ``shift``
    shifts the windows by w/2 with Swin's mask (same costs; no shift on a grid of one window).
    """

    family = "attention"
    accepts = (Layout.SEQ,)
    elastic = ("in", "heads")
    domain = {"window": (2, 4, 7, 8, 14, 16), "heads": HEADS, "rel_pos": (False, True), "shift": (False, True)}
    defaults = {"window": 7, "rel_pos": False, "shift": False}
    token_mixer = True

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        w = hp["window"]
        if t.height % w or t.width % w:
            raise NasError(f"window_attention window={w} must divide the grid {t.height}x{t.width} "
                           f"(height and width)")
        check_heads(self.name, t.channels, hp["heads"])
        return t

    @staticmethod
    def _windows(t: TensorType, hp: HParams) -> int:
        return (t.height // hp["window"]) * (t.width // hp["window"])

    def macs(self, t: TensorType, hp: HParams) -> int:
        self.out_type(t, hp)
        return qkv_proj_macs(t.tokens, t.channels) + self._windows(t, hp) * attention_macs(hp["window"] ** 2,
                                                                                            t.channels)

    def uncounted_macs(self, t: TensorType, hp: HParams) -> int:
        """QKᵀ and AV inside ``F.scaled_dot_product_attention``, which torch's counter does not see."""
        return self._windows(t, hp) * attention_macs(hp["window"] ** 2, t.channels)

    def params(self, t: TensorType, hp: HParams) -> int:
        table = (2 * hp["window"] - 1) ** 2 * hp["heads"] if hp["rel_pos"] else 0
        return qkv_proj_params(t.channels, True) + table

    def bytes(self, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> int:
        """Per-window attention traffic, plus window partition and reverse (each reads and writes N·D);
        with ``rel_pos`` the gathered h×w²×w² bias is written once and added to every window's scores."""
        w2, h = hp["window"] ** 2, hp["heads"]
        elems = self._windows(t, hp) * attention_elems(w2, t.channels, h) + 4 * t.numel
        if hp["rel_pos"]:
            elems += h * w2 * w2 + 2 * h * t.tokens * w2
        return (elems + self.params(t, hp)) * dtype_bytes

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._attention_modules import WindowSelfAttention

        self.out_type(t, hp)
        return WindowSelfAttention(t.channels, hp["heads"], hp["window"], t.height, t.width, hp["rel_pos"],
                                   hp["shift"])

    def stacked(self, t: TensorType, hp: HParams) -> dict[str, tuple[int, ...]]:
        return qkv_stacked(t.channels, True)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels, t.channels)  # value and output projections

    def launches(self, t: TensorType, hp: HParams) -> int:
        return 13

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.seq(16, 4, 4), {"window": 2, "heads": 2}),
                (TensorType.seq(16, 4, 8), {"window": 4, "heads": 4, "rel_pos": True}),
                (TensorType.seq(12, 8, 4), {"window": 2, "heads": 6, "rel_pos": True}),
                (TensorType.seq(6, 8, 8), {"window": 4, "heads": 3, "rel_pos": True, "shift": True}),
                (TensorType.seq(4, 4, 8), {"window": 2, "heads": 1, "shift": True})]
