"""Torch modules behind the MLP, spectral, parameter-free and adapter ops (imported only by ``build``)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class OnGrid(nn.Module):
    """Run a map module on a B×N×D sequence through its grid: view as B×D×H×W, apply, flatten back.

    The inner module may change the channels and the grid (a downsample); the output is B×N'×D'.
    """

    def __init__(self, inner: nn.Module, height: int, width: int) -> None:
        super().__init__()
        self.inner, self.height, self.width = inner, height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, d = x.shape
        y = self.inner(x.transpose(1, 2).reshape(b, d, self.height, self.width))
        return y.flatten(2).transpose(1, 2)


class TokenMLP(nn.Module):
    """MLP-Mixer's token-mixing MLP: Linear(N→hidden) → GELU → Linear(hidden→N) along the token axis."""

    def __init__(self, tokens: int, hidden: int, seq: bool) -> None:
        super().__init__()
        self.seq = seq
        self.fc1, self.act, self.fc2 = nn.Linear(tokens, hidden), nn.GELU(), nn.Linear(hidden, tokens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.seq:  # B×N×D: mix along N for every channel
            return self.fc2(self.act(self.fc1(x.transpose(1, 2)))).transpose(1, 2)
        b, c, h, w = x.shape
        return self.fc2(self.act(self.fc1(x.reshape(b, c, h * w)))).reshape(b, c, h, w)


class GlobalFilter(nn.Module):
    """GFNet's global filter on a B×C×H×W map: irfft2(rfft2(x) · K) with a learnable complex K (C×H×(W//2+1))."""

    def __init__(self, channels: int, height: int, width: int) -> None:
        super().__init__()
        self.height, self.width = height, width
        self.weight = nn.Parameter(torch.randn(channels, height, width // 2 + 1, 2) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.fft.rfft2(x.float(), dim=(2, 3), norm="ortho")
        spec = spec * torch.view_as_complex(self.weight.contiguous())  # channels-last moves 4-D params
        return torch.fft.irfft2(spec, s=(self.height, self.width), dim=(2, 3), norm="ortho").to(x.dtype)


class PoolMixer(nn.Module):
    """PoolFormer's token mixer: avgpool k×k (stride 1, same padding, padding excluded) minus the input."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, self.kernel, 1, self.kernel // 2, count_include_pad=False) - x


class ChannelShift(nn.Module):
    """Shift four groups of ``group`` channels by ``shift`` up, down, left, right (zero fill); keep the rest."""

    def __init__(self, group: int, shift: int) -> None:
        super().__init__()
        self.group, self.shift = group, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g, s = self.group, self.shift
        out = torch.zeros_like(x)
        out[:, 0 * g:1 * g, :-s, :] = x[:, 0 * g:1 * g, s:, :]   # up
        out[:, 1 * g:2 * g, s:, :] = x[:, 1 * g:2 * g, :-s, :]   # down
        out[:, 2 * g:3 * g, :, :-s] = x[:, 2 * g:3 * g, :, s:]   # left
        out[:, 3 * g:4 * g, :, s:] = x[:, 3 * g:4 * g, :, :-s]   # right
        out[:, 4 * g:] = x[:, 4 * g:]
        return out


class Zero(nn.Module):
    """Zeros of the input's shape (NAS-Bench-201 / DARTS ``none``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


class SeqLayerNorm(nn.Module):
    """Map B×D×H×W → sequence B×(H·W)×D, then an optional LayerNorm over D (ViT's patch embedding tail)."""

    def __init__(self, dim: int, norm: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.flatten(2).transpose(1, 2))


class TokenEmbed(nn.Module):
    """ViT patch embedding: p×p conv at stride p → tokens → [LayerNorm] → [prepend a class token] →
    [+ a learned position embedding of ``pos_tokens`` × D] (timm's ``patch_embed``, ``cls_token``,
    ``pos_embed``)."""

    def __init__(self, c_in: int, dim: int, patch: int, norm: bool, cls_token: bool, pos_tokens: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(c_in, dim, patch, patch)
        self.norm = nn.LayerNorm(dim) if norm else nn.Identity()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cls_token else None
        self.pos_embed = nn.Parameter(torch.randn(1, pos_tokens, dim) * 0.02) if pos_tokens else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.proj(x).flatten(2).transpose(1, 2))
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x if self.pos_embed is None else x + self.pos_embed


class Head(nn.Module):
    """Global average pool over positions (or a sequence's first, class token when ``cls``) →
    [Linear → act] → [LayerNorm] → Linear classifier."""

    def __init__(self, channels: int, hidden: int, act: nn.Module, norm: bool, classes: int, seq: bool,
                 cls: bool = False) -> None:
        super().__init__()
        self.seq, self.cls = seq, cls
        d = hidden or channels
        self.pre = nn.Sequential(nn.Linear(channels, hidden), act) if hidden else nn.Identity()
        self.norm = nn.LayerNorm(d) if norm else nn.Identity()
        self.fc = nn.Linear(d, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, 0] if self.cls else x.mean(1) if self.seq else x.mean((2, 3))
        return self.fc(self.norm(self.pre(x)))
