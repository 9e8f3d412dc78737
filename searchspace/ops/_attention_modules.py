"""The torch modules behind the attention ops (imported only when a module is built).

Softmax attention runs through ``F.scaled_dot_product_attention`` (fused kernels where the device has
them), which ``torch.utils.flop_counter`` does not count on CPU: ``mhsa`` and ``window_attention``
declare QKᵀ and AV as ``uncounted_macs``. The projections and linear attention's einsums are counted.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _split_heads(qkv: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """B×N×3D → three B×h×N×(D/h) tensors (q, k, v), heads taken as consecutive channel blocks."""
    b, n, three_d = qkv.shape
    qkv = qkv.reshape(b, n, 3, heads, three_d // (3 * heads)).permute(2, 0, 3, 1, 4)
    return qkv[0], qkv[1], qkv[2]


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """B×h×N×d → B×N×(h·d)."""
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


class SelfAttention(nn.Module):
    """Multi-head softmax self-attention over all tokens of a B×N×D sequence.

    Submodules ``qkv`` (D→3D) and ``proj`` (D→D) have the layout of ``nn.MultiheadAttention``'s
    ``in_proj`` / ``out_proj``; an optional additive bias of shape 1×h×N×N is added to the scores.
    """

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def attend(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = _split_heads(self.qkv(x), self.heads)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
        return self.proj(_merge_heads(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attend(x)


def relative_position_index(window: int) -> torch.Tensor:
    """w²×w² indices into a (2w−1)² table: the relative (dy, dx) of every pair of tokens in a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :] + (window - 1)
    return rel[0] * (2 * window - 1) + rel[1]


def shifted_window_mask(height: int, width: int, window: int, shift: int) -> torch.Tensor:
    """(windows)×w²×w² additive mask of Swin's cyclically shifted windows: 0 between tokens of the same
    region of the unshifted map, −100 between tokens that the roll brought together."""
    region = torch.zeros(height, width)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for i, (hs, ws) in enumerate((hs, ws) for hs in cuts for ws in cuts):
        region[hs, ws] = i
    w = region.reshape(height // window, window, width // window, window).transpose(1, 2).reshape(-1, window * window)
    return (w[:, None, :] != w[:, :, None]).float() * -100.0


class WindowSelfAttention(SelfAttention):
    """Self-attention inside non-overlapping w×w windows of a B×(H·W)×D sequence on an H×W grid.

    The grid is raster-ordered; H and W are multiples of w. With ``rel_pos`` a learnable
    (2w−1)²×h table of relative position biases (Swin) is added to the scores. With ``shift`` the grid is
    rolled by −w/2 first (and back after), and a mask keeps the rolled-together regions apart (Swin's
    shifted windows); a grid of one window is never shifted, as in Swin.
    """

    def __init__(self, dim: int, heads: int, window: int, height: int, width: int, rel_pos: bool,
                 shift: bool = False) -> None:
        super().__init__(dim, heads, qkv_bias=True)
        self.window, self.height, self.width = window, height, width
        self.shift = window // 2 if shift and (height > window or width > window) else 0
        self.rel_table: nn.Parameter | None = None
        if rel_pos:
            self.rel_table = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads) * 0.02)
            self.register_buffer("rel_index", relative_position_index(window), persistent=False)
        if self.shift:
            self.register_buffer("shift_mask", shifted_window_mask(height, width, window, self.shift)[:, None],
                                 persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        w, gh, gw, s = self.window, self.height // self.window, self.width // self.window, self.shift
        if s:
            x = x.reshape(b, self.height, self.width, d).roll((-s, -s), dims=(1, 2))
        windows = x.reshape(b, gh, w, gw, w, d).permute(0, 1, 3, 2, 4, 5).reshape(b * gh * gw, w * w, d)
        bias = None
        if self.rel_table is not None:
            # 1×h×w²×w²: a 4-D mask keeps SDPA on its fused CPU kernel (a 3-D one falls back to matmuls)
            bias = self.rel_table[self.rel_index.reshape(-1)].reshape(w * w, w * w, -1).permute(2, 0, 1)[None]
        if s:
            mask = self.shift_mask.repeat(b, 1, 1, 1)
            bias = mask if bias is None else bias + mask
        out = self.attend(windows, bias).reshape(b, gh, gw, w, w, d).permute(0, 1, 3, 2, 4, 5)
        if s:
            out = out.reshape(b, self.height, self.width, d).roll((s, s), dims=(1, 2))
        return out.reshape(b, n, d)


class LinearSelfAttention(nn.Module):
    """Softmax-free attention (Katharopoulos et al. 2020) with the feature map φ(x) = ELU(x) + 1.

    out_i = φ(q_i)ᵀ (Σ_j φ(k_j) v_jᵀ) / (φ(q_i)ᵀ Σ_j φ(k_j) + eps), per head; cost linear in N.
    """

    def __init__(self, dim: int, heads: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.heads, self.eps = heads, eps
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = _split_heads(self.qkv(x), self.heads)
        q, k = F.elu(q) + 1, F.elu(k) + 1
        kv = torch.einsum("bhnd,bhne->bhde", k, v)
        norm = torch.einsum("bhnd,bhd->bhn", q, k.sum(dim=2)) + self.eps
        out = torch.einsum("bhnd,bhde->bhne", q, kv) / norm.unsqueeze(-1)
        return self.proj(_merge_heads(out))
