"""Torch modules behind the NAS-Bench-201 ops (imported only by ``build``)."""

from __future__ import annotations

import torch
from torch import nn


class ReLUConvBN(nn.Sequential):
    """ReLU → conv k×k (no bias, padding k//2) → BatchNorm, NAS-Bench-201's ``nor_conv_k``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out))


def _edge(op: str, channels: int) -> nn.Module | None:
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    if op == "skip_connect":
        return nn.Identity()
    return None


class Cell(nn.Module):
    """node j = Σ_{i<j} edge(i→j)(node i); output node 3. ``none`` edges hold no module; a node with
    only ``none`` inputs is zeros (NAS-Bench-201's Zero op gives x·0)."""

    def __init__(self, channels: int, edges: tuple[tuple[str, int, int], ...]) -> None:
        super().__init__()
        self.edges = nn.ModuleDict()
        for op, i, j in edges:  # (op, from node i, to node j)
            m = _edge(op, channels)
            if m is not None:
                self.edges[f"{j}_{i}"] = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in (1, 2, 3):
            acc: torch.Tensor | None = None
            for i in range(j):
                key = f"{j}_{i}"
                if key in self.edges:
                    y = self.edges[key](nodes[i])
                    acc = y if acc is None else acc + y
            nodes.append(torch.zeros_like(x) if acc is None else acc)
        return nodes[3]


class Reduction(nn.Module):
    """NAS-Bench-201's ResNetBasicblock at stride 2 with the AvgPool + 1×1 conv shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class Head(nn.Module):
    """BatchNorm → ReLU → global average pool → Linear."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())
        self.classifier = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.lastact(x).mean((2, 3)))
