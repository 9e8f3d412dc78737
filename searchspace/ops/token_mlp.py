"""MLP-Mixer's token-mixing MLP (``token_mlp``): N → round(ratio·N) → GELU → N across tokens, per channel."""

from __future__ import annotations

from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import register_op
from nas.searchspace.ops._parts import Part, PartsOp, eltwise, linear
from nas.searchspace.ops.mlp import hidden_width
from nas.searchspace.tensor_type import Layout, TensorType


@register_op("token_mlp")
class TokenMLP(PartsOp):
    """Token mixing as in MLP-Mixer, without its LayerNorm: for each channel, the N = H·W values go
    through Linear(N → hidden) → GELU → Linear(hidden → N), both with bias; hidden = round(ratio·N).

    On a sequence it mixes the N tokens, on a map the H·W positions. Its weights have the size of N,
    so unlike convolutions or attention it is not resolution-agnostic: a network resolved at one
    input size has different params (and cannot load the weights) at another.
    """

    family = "mlp"
    accepts = (Layout.SEQ, Layout.MAP)
    token_mixer = True
    elastic = ("in",)
    domain = {"ratio": (0.5, 1, 2, 4)}
    defaults = {"ratio": 1}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return t

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        c, n = t.channels, t.tokens
        h = hidden_width(n, hp["ratio"])
        return [linear(c, n, h), eltwise(c * h), linear(c, h, n)]

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._pf_modules import TokenMLP as Module

        return Module(t.tokens, hidden_width(t.tokens, hp["ratio"]), seq=t.layout is Layout.SEQ)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.tokens, hidden_width(t.tokens, hp["ratio"]))

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.seq(4, 3, 3), {}),
                (TensorType.seq(3, 2, 5), {"ratio": 0.5}),
                (TensorType.map(5, 4, 3), {"ratio": 2})]
