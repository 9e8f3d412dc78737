"""Mamba-style selective-scan state-space block in pure torch (``mamba``)."""

from __future__ import annotations

import math
from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import KernelCost, OpSpec, register_op
from nas.searchspace.ops._formulas import linear_macs, linear_params
from nas.searchspace.tensor_type import Layout, TensorType


def dt_rank(dim: int) -> int:
    """Rank of the Δ projection: ⌈D/16⌉."""
    return math.ceil(dim / 16)


def selective_scan_macs(tokens: int, channels: int, state: int) -> int:
    """MACs of the selective scan (one multiply, with or without its add, counts 1).

    Per token and channel: Δ·u (1) and the skip term y + skip·u (1). Per token, channel and state:
    Δ·A (1; the exp after it is not a MAC), exp(ΔA)·h (1), (Δ·u)·B + (1), the readout y += C·h (1).
    So tokens · channels · (4·state + 2).
    """
    return tokens * channels * (4 * state + 2)


@register_op("mamba")
class Mamba(OpSpec):
    """Mamba mixer: in_proj D→2·E·D (x, gate z), causal depthwise conv1d + SiLU, x_proj E·D→(R+2S),
    dt_proj R→E·D, selective scan over an E·D×S state with A = −exp(A_log) and skip D, y·SiLU(z),
    out_proj E·D→D; R = ⌈D/16⌉, E = ``expand``, S = ``state``. In/out projections and x_proj have no
    bias; conv1d and dt_proj do. On a map the H·W tokens are scanned in raster order and reshaped back.
    MACs = the Linears and the conv1d (counted by torch) + the scan (``selective_scan_macs``, uncounted).
    """

    family = "ssm"
    accepts = (Layout.SEQ, Layout.MAP)
    elastic = ("in",)
    domain = {"state": (4, 8, 16), "expand": (1, 2), "conv_kernel": (2, 3, 4)}
    defaults = {"state": 16, "expand": 2, "conv_kernel": 4}
    token_mixer = True

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return t

    def macs(self, t: TensorType, hp: HParams) -> int:
        n, d, s = t.tokens, t.channels, hp["state"]
        inner, r = hp["expand"] * d, dt_rank(d)
        counted = (linear_macs(n, d, 2 * inner) + n * inner * hp["conv_kernel"] + linear_macs(n, inner, r + 2 * s)
                   + linear_macs(n, r, inner) + linear_macs(n, inner, d))
        return counted + self.uncounted_macs(t, hp)

    def uncounted_macs(self, t: TensorType, hp: HParams) -> int:
        return selective_scan_macs(t.tokens, hp["expand"] * t.channels, hp["state"])

    def params(self, t: TensorType, hp: HParams) -> int:
        d, s = t.channels, hp["state"]
        inner, r = hp["expand"] * d, dt_rank(d)
        return (linear_params(d, 2 * inner, False) + inner * hp["conv_kernel"] + inner
                + linear_params(inner, r + 2 * s, False) + linear_params(r, inner) + inner * s + inner
                + linear_params(inner, d, False))

    def bytes(self, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> int:
        """Activations of every stage (read, then written) plus weights. The pure-torch scan writes and
        reads exp(ΔA), the B term and h for every token (6·N·E·D·S) besides its N·(2·E·D + 2·S) inputs."""
        n, d, s = t.tokens, t.channels, hp["state"]
        i, r = hp["expand"] * d, dt_rank(d)
        elems = (n * d + 2 * n * i          # in_proj
                 + 2 * n * i + 2 * n * i    # padded conv, SiLU
                 + n * i + n * (r + 2 * s)  # x_proj
                 + n * r + n * i + 2 * n * i  # dt_proj, softplus
                 + n * (2 * i + 2 * s) + 6 * n * i * s + n * i  # scan
                 + 3 * n * i + 2 * n * i    # SiLU(z), gate product
                 + n * i + n * d)           # out_proj
        return (elems + self.params(t, hp)) * dtype_bytes

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        # value path: in_proj (D), causal depthwise conv1d (its kernel), the causal scan (mean reach
        # (N + 1)/2), out_proj (E·D). x_proj / dt_proj only produce the scan's data-dependent Δ, B, C
        # (like attention's Q and K) and the SiLU(z) gate is a multiplicative scale: no width.
        return (t.channels, hp["conv_kernel"], (t.tokens + 1) / 2, hp["expand"] * t.channels)

    def kernels(self, t: TensorType, hp: HParams) -> list[KernelCost]:
        """As the fused implementation runs it (mamba-ssm): in_proj, causal conv1d + SiLU, x_proj, dt_proj,
        ONE selective-scan kernel (softplus, scan, skip and SiLU(z) gate fused; the E·D×S state stays
        on chip: it reads u, Δ, z, B, C and writes y), out_proj. No launch per token."""
        n, d, s = t.tokens, t.channels, hp["state"]
        i, r, k = hp["expand"] * d, dt_rank(d), hp["conv_kernel"]
        return [KernelCost(linear_macs(n, d, 2 * i), n * d + 2 * n * i, d * 2 * i),
                KernelCost(n * i * k, 2 * n * i, i * k + i),
                KernelCost(linear_macs(n, i, r + 2 * s), n * i + n * (r + 2 * s), i * (r + 2 * s)),
                KernelCost(linear_macs(n, r, i), n * r + n * i, r * i + i),
                KernelCost(selective_scan_macs(n, i, s), 3 * n * i + 2 * n * s + n * i, i * s + i),
                KernelCost(linear_macs(n, i, d), n * i + n * d, i * d)]

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._ssm_modules import MambaMixer

        return MambaMixer(t.channels, hp["state"], hp["expand"], hp["conv_kernel"])

    def stacked(self, t: TensorType, hp: HParams) -> dict[str, tuple[int, ...]]:
        """in_proj stacks x and the gate z; x_proj stacks Δ's rank-R input, B and C."""
        inner, s = hp["expand"] * t.channels, hp["state"]
        return {"in_proj.weight": (inner, inner), "x_proj.weight": (dt_rank(t.channels), s, s)}

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.seq(16, 4, 4), {"state": 4, "expand": 2, "conv_kernel": 4}),
                (TensorType.map(16, 4, 6), {"state": 8, "expand": 1, "conv_kernel": 3}),
                (TensorType.seq(20, 2, 5), {"state": 16, "expand": 2, "conv_kernel": 2})]
