"""Small torch building blocks shared by operations (imported only when a module is built)."""

from __future__ import annotations

from torch import nn


def make_act(name: str) -> nn.Module:
    """An activation module by name; ``none`` is the identity."""
    return {
        "relu": nn.ReLU, "relu6": nn.ReLU6, "gelu": nn.GELU, "silu": nn.SiLU, "hswish": nn.Hardswish,
        "hsigmoid": nn.Hardsigmoid, "sigmoid": nn.Sigmoid, "none": nn.Identity,
    }[name]()


class ChannelsLastLayerNorm(nn.Module):
    """LayerNorm over C of a B×C×H×W map (ConvNeXt's channels-first LayerNorm)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class MapToSeq(nn.Module):
    """B×C×H×W → B×(H·W)×C."""

    def forward(self, x):
        return x.flatten(2).transpose(1, 2)


class SeqToMap(nn.Module):
    """B×(H·W)×C → B×C×H×W for a known grid."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        self.height, self.width = height, width

    def forward(self, x):
        b, n, c = x.shape
        return x.transpose(1, 2).reshape(b, c, self.height, self.width)
