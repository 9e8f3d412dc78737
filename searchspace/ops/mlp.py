"""Per-position channel MLP (``channel_mlp``): C → round(ratio·C) → GELU → C, with biases."""

from __future__ import annotations

from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import register_op
from nas.searchspace.ops._parts import Part, PartsOp, eltwise, linear
from nas.searchspace.tensor_type import Layout, TensorType


def hidden_width(n: int, ratio: float) -> int:
    """The hidden width of an MLP with expansion ``ratio`` on ``n`` inputs: Python's round(ratio·n), at least 1."""
    return max(1, round(n * ratio))


@register_op("channel_mlp")
class ChannelMLP(PartsOp):
    """Two-layer MLP applied at every position: C → hidden → GELU → C, both layers with bias.

    On a map the layers are 1×1 convolutions, on a sequence Linear layers; costs are the same.
    The output type equals the input type, but it mixes no positions, so it is not a token mixer.
    """

    family = "mlp"
    accepts = (Layout.MAP, Layout.SEQ)
    domain = {"ratio": (1, 2, 3, 4, 6, 8)}
    defaults = {"ratio": 4}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return t

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        c, n = t.channels, t.tokens
        h = hidden_width(c, hp["ratio"])
        return [linear(n, c, h), eltwise(n * h), linear(n, h, c)]

    def build(self, t: TensorType, hp: HParams):
        from torch import nn

        c = t.channels
        h = hidden_width(c, hp["ratio"])
        if t.layout is Layout.MAP:
            return nn.Sequential(nn.Conv2d(c, h, 1), nn.GELU(), nn.Conv2d(h, c, 1))
        return nn.Sequential(nn.Linear(c, h), nn.GELU(), nn.Linear(h, c))

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels, hidden_width(t.channels, hp["ratio"]))

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(4, 5, 6), {}),
                (TensorType.seq(6, 3, 4), {"ratio": 3}),
                (TensorType.map(3, 2, 2), {"ratio": 1})]
