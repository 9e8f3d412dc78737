"""The elastic NAS-Bench-201 cell: on every edge, one weight set per operation choice."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nas.errors import NasError
from nas.searchspace.netspec import Layer
from nas.searchspace.op_spec import OpSpec
from nas.searchspace.ops.nb201 import NB201_EDGES, NB201_OPS, check_edges
from nas.supernet.elastic import ELASTIC, Case, ElasticPosition, _quiet_build


@ELASTIC.register("nb201_cell")
class NB201CellPosition(ElasticPosition):
    """Edges ``j_i`` each hold a module per parametric op (``nor_conv_1x1``, ``nor_conv_3x3``); the
    parameter-free ops (skip, average pool, none) are shared by construction. The forward pass follows
    ``Cell.forward`` edge by edge with the chosen modules."""

    def __init__(self, spec: OpSpec, cases: Sequence[Case]) -> None:
        super().__init__()
        from nas.searchspace.ops._nb201_modules import _edge

        types = {t for t, _ in cases}
        if len(types) != 1:
            raise NasError(f"nb201_cell position sees several input types {sorted(map(str, types))}")
        self.in_type = types.pop()
        c = self.in_type.channels
        self.edges = nn.ModuleDict()
        for i, j in NB201_EDGES:
            self.edges[f"{j}_{i}"] = nn.ModuleDict({op: _edge(op, c) for op in NB201_OPS if op != "none"})
        self.spec = spec

    def check(self, layer: Layer) -> None:
        if layer.in_type != self.in_type:
            raise NasError(f"layer {layer.name!r}: input {layer.in_type} is outside the supernet ({self.in_type})")
        check_edges(layer.hp["edges"])

    def forward(self, x: torch.Tensor, layer: Layer) -> torch.Tensor:
        edges = dict(zip(NB201_EDGES, layer.hp["edges"]))
        nodes = [x]
        for j in (1, 2, 3):
            acc: torch.Tensor | None = None
            for i in range(j):
                op = edges[(i, j)]
                if op != "none":
                    y = self.edges[f"{j}_{i}"][op](nodes[i])
                    acc = y if acc is None else acc + y
            nodes.append(torch.zeros_like(x) if acc is None else acc)
        return nodes[3]

    def extract(self, layer: Layer) -> nn.Module:
        self.check(layer)
        cell = _quiet_build(self.spec, layer.in_type, layer.hp)
        state = {}
        for key in cell.edges:
            j, i = (int(v) for v in key.split("_"))
            op = dict(zip(NB201_EDGES, layer.hp["edges"]))[(i, j)]
            for n, v in self.edges[key][op].state_dict().items():
                state[f"edges.{key}.{n}"] = v.clone()
        cell.load_state_dict(state)
        return cell.train(self.training)
