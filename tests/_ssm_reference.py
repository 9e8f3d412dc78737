"""The token-by-token selective scan that ``nas.searchspace.ops._ssm_modules.selective_scan`` replaced:
the oracle for its tests and the baseline of experiments/benchmarks/ssm_attention_speed.py."""

from __future__ import annotations

import torch


def naive_selective_scan(u: torch.Tensor, delta: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                         c: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """h ← exp(Δ_t·A) ⊙ h + (Δ_t·u_t) ⊗ B_t; y_t = h·C_t + skip ⊙ u_t, one token at a time (autograd
    through every step). u, delta: B×L×C; a: C×S; b, c: B×L×S; skip: C."""
    batch, length, channels = u.shape
    h = u.new_zeros(batch, channels, a.shape[-1])
    du = delta * u
    ys = []
    for t in range(length):
        h = torch.exp(delta[:, t, :, None] * a) * h + du[:, t, :, None] * b[:, t, None, :]
        ys.append((h * c[:, t, None, :]).sum(dim=-1))
    return torch.stack(ys, dim=1) + u * skip
