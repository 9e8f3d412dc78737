"""The NAS-Bench-201 cell space (``nb201``): 6 edges × 5 ops = 15,625 cells in a fixed macro network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nas.errors import NasError
from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams
from nas.searchspace.ops.nb201 import NB201_EDGES, NB201_OPS
from nas.searchspace.space import Dimension, SearchSpace, register_space
from nas.searchspace.tensor_type import TensorType

#: Gene names of the six edges, in arch-string order: ``edge{i}{j}`` is the edge from node i to node j.
EDGE_GENES = tuple(f"edge{i}{j}" for i, j in NB201_EDGES)
_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"


@register_space
class NB201Space(SearchSpace):
    """NAS-Bench-201's cell space, network as in its reference code (C=16, N=5, 3×32×32, 10 classes).

    Genes: ``edge01, edge02, edge12, edge03, edge13, edge23`` (the arch-string order), each one of
    ``none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3`` (unordered). Network: stem conv
    3×3 (C, no bias) + BN; N cells at C; ``nb201_reduction`` to 2C; N cells; reduction to 4C; N
    cells; ``nb201_head`` (BN, ReLU, global pool, Linear). ``parse_string``/``to_string`` read and
    write NAS-Bench-201 arch strings exactly; ``to_graph`` gives the 4-node cell DAG.
    """

    name = "nb201"
    default_input = TensorType.map(3, 32, 32)
    default_num_classes = 10

    def __init__(self, input: TensorType | None = None, num_classes: int | None = None, channels: int = 16,
                 cells: int = 5) -> None:
        if channels <= 0 or cells <= 0:
            raise NasError(f"nb201 channels and cells must be positive, got channels={channels} cells={cells}")
        self.channels, self.cells = channels, cells
        super().__init__(input, num_classes)

    def dimensions(self) -> Sequence[Dimension]:
        return [Dimension(g, NB201_OPS, ordered=False) for g in EDGE_GENES]

    def config(self) -> dict[str, Any]:
        return {**super().config(), "channels": self.channels, "cells": self.cells}

    def layers(self, genes: HParams, input: TensorType) -> list[tuple[str, str, Mapping[str, Any]]]:
        edges = tuple(genes[g] for g in EDGE_GENES)
        c = self.channels
        out: list[tuple[str, str, Mapping[str, Any]]] = [
            ("stem", "conv", {"out": c, "kernel": 3, "stride": 1, "norm": True, "act": "none", "bias": False})]
        for stage in range(3):
            if stage:
                out.append((f"reduce{stage}", "nb201_reduction", {"out": c << stage}))
            out += [(f"cell{stage}.{k}", "nb201_cell", {"edges": edges}) for k in range(self.cells)]
        out.append(("head", "nb201_head", {"classes": self.num_classes}))
        return out

    # -- NAS-Bench-201 arch strings ------------------------------------------------------------
    def parse_string(self, text: str) -> Architecture:
        """``|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...~0|...~1|...~2|`` → Architecture."""
        nodes = text.strip().split("+")
        if len(nodes) != 3:
            raise NasError(f"bad NB201 arch string {text!r}: expected 3 nodes joined by '+', as {_FORM}")
        ops: list[str] = []
        for j, node in enumerate(nodes, start=1):
            if len(node) < 2 or node[0] != "|" or node[-1] != "|":
                raise NasError(f"bad NB201 arch string {text!r}: node {node!r} must be wrapped in '|', as {_FORM}")
            tokens = node[1:-1].split("|")
            if len(tokens) != j:
                raise NasError(f"bad NB201 arch string {text!r}: node {j} needs {j} edges, got {node!r}")
            for i, token in enumerate(tokens):
                op, sep, src = token.partition("~")
                if op not in NB201_OPS:
                    raise NasError(f"bad NB201 arch string: unknown op {op!r} in token {token!r}; "
                                   f"allowed: {', '.join(NB201_OPS)}")
                if sep != "~" or src != str(i):
                    raise NasError(f"bad NB201 arch string: token {token!r} of node {j} must read {op}~{i}")
                ops.append(op)
        # the string lists node 1's, node 2's, node 3's inputs: exactly the gene order
        return self.make(**dict(zip(EDGE_GENES, ops)))

    def to_string(self, a: Architecture) -> str:
        self.validate(a)
        parts = []
        for j in (1, 2, 3):
            parts.append("|" + "|".join(f"{a[g]}~{i}" for g, (i, jj) in zip(EDGE_GENES, NB201_EDGES) if jj == j) + "|")
        return "+".join(parts)

    def to_graph(self, a: Architecture):  # -> networkx.DiGraph
        """The cell DAG: nodes 0..3, one edge i→j per non-``none`` op, with attribute ``op``."""
        import networkx as nx

        self.validate(a)
        g = nx.DiGraph(space=self.name, digest=a.digest(), arch=self.to_string(a))
        g.add_nodes_from(range(4))
        for gene, (i, j) in zip(EDGE_GENES, NB201_EDGES):
            if a[gene] != "none":
                g.add_edge(i, j, op=a[gene])
        return g
