"""The torch module behind the ``metaformer`` op."""

from __future__ import annotations

from torch import nn

from nas.searchspace.tensor_type import Layout, TensorType


class MetaFormerModule(nn.Module):
    """x + mixer(norm1(x)); x + mlp(norm2(x)) on a map (GroupNorm(1), 1×1 convs) or a sequence (LayerNorm, Linear)."""

    def __init__(self, t: TensorType, mixer: nn.Module, hidden: int) -> None:
        super().__init__()
        c = t.channels
        if t.layout is Layout.MAP:
            self.norm1, self.norm2 = nn.GroupNorm(1, c), nn.GroupNorm(1, c)
            self.mlp = nn.Sequential(nn.Conv2d(c, hidden, 1), nn.GELU(), nn.Conv2d(hidden, c, 1))
        else:
            self.norm1, self.norm2 = nn.LayerNorm(c), nn.LayerNorm(c)
            self.mlp = nn.Sequential(nn.Linear(c, hidden), nn.GELU(), nn.Linear(hidden, c))
        self.mixer = mixer

    def forward(self, x):
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))
