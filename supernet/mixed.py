"""Mixed-operation networks for differentiable search (DARTS, GDAS, β-DARTS): typed choices, continuous weights.

A ``ChoicePoint`` is one searchable position of a space: a gene and the candidates of that gene that
accept the position's tensor type. A ``MixedOp`` evaluates the candidates of one position and sums them
weighted by the architecture weights handed to ``forward`` (never held by the module): a soft sum
(DARTS), or one sampled path (GDAS: ``index`` names the candidate to run, its weight carries the
straight-through gradient). The architecture logits live in the searcher.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from nas.errors import NasError
from nas.searchspace.ops.nb201 import NB201_EDGES, NB201_OPS
from nas.searchspace.spaces.nb201 import EDGE_GENES
from nas.searchspace.tensor_type import Layout, TensorType


@dataclass(frozen=True)
class ChoicePoint:
    """One searchable position: ``gene`` of the space, the ``candidates`` allowed there (in the
    dimension's order), and the tensor type the position receives."""

    gene: str
    candidates: tuple[str, ...]
    in_type: TensorType


class MixedOp(nn.Module):
    """Σ_k w_k · op_k(x) over one position's candidates (``None`` = the ``none`` op, zero output).

    ``forward(x, weights, index=None)``: ``weights`` is a 1-D tensor over the candidates. With
    ``index`` only that candidate runs and its output is scaled by ``weights[index]`` (GDAS); candidates
    whose weight is exactly zero and needs no gradient are skipped.
    """

    def __init__(self, candidates: Sequence[nn.Module | None]) -> None:
        super().__init__()
        self.ops = nn.ModuleList([m if m is not None else nn.Identity() for m in candidates])
        self.is_zero = tuple(m is None for m in candidates)

    def _run(self, k: int, x: torch.Tensor) -> torch.Tensor | None:
        return None if self.is_zero[k] else self.ops[k](x)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, index: int | None = None) -> torch.Tensor:
        if weights.shape != (len(self.ops),):
            raise NasError(f"MixedOp has {len(self.ops)} candidates, got weights of shape {tuple(weights.shape)}")
        if index is not None:
            y = self._run(index, x)
            return x * 0.0 * weights[index] if y is None else y * weights[index]
        out: torch.Tensor | None = None
        for k in range(len(self.ops)):
            if self.is_zero[k] or (not weights.requires_grad and float(weights[k]) == 0.0):
                continue
            y = self.ops[k](x) * weights[k]
            out = y if out is None else out + y
        return x * 0.0 if out is None else out


# -- NAS-Bench-201 ------------------------------------------------------------------------------------
class _ReLUConvBN(nn.Sequential):
    def __init__(self, c: int, kernel: int, affine: bool) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(c, c, kernel, 1, kernel // 2, bias=False),
                         nn.BatchNorm2d(c, affine=affine))


def nb201_candidate(op: str, channels: int, affine: bool = False) -> nn.Module | None:
    """The search-network module of one NB201 edge op (BatchNorm without affine, as in DARTS's search)."""
    if op == "nor_conv_1x1":
        return _ReLUConvBN(channels, 1, affine)
    if op == "nor_conv_3x3":
        return _ReLUConvBN(channels, 3, affine)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    if op == "skip_connect":
        return nn.Identity()
    if op == "none":
        return None
    raise NasError(f"unknown NB201 op {op!r}; allowed: {', '.join(NB201_OPS)}")


def nb201_choice_points(space) -> tuple[ChoicePoint, ...]:
    """The six cell edges of an ``nb201`` space; every NB201 op accepts the cell's MAP tensors."""
    t = TensorType.map(space.channels, space.input.height, space.input.width)
    return tuple(ChoicePoint(g, tuple(c for c in space.dims[i].choices if t.layout is Layout.MAP), t)
                 for i, g in enumerate(EDGE_GENES))


class _SearchCell(nn.Module):
    def __init__(self, channels: int, ops: Sequence[str]) -> None:
        super().__init__()
        self.edges = nn.ModuleList([MixedOp([nb201_candidate(o, channels) for o in ops]) for _ in NB201_EDGES])

    def forward(self, x: torch.Tensor, weights: torch.Tensor, index: Sequence[int] | None) -> torch.Tensor:
        nodes = [x]
        for j in (1, 2, 3):
            acc = None
            for e, (i, jj) in enumerate(NB201_EDGES):
                if jj != j:
                    continue
                y = self.edges[e](nodes[i], weights[e], None if index is None else int(index[e]))
                acc = y if acc is None else acc + y
            nodes.append(acc)
        return nodes[3]


class NB201SearchNet(nn.Module):
    """The NB201 macro network with a mixed cell (one set of edge weights shared by all cells).

    Same layout as NAS-Bench-201's network (stem conv + BN, ``cells`` cells per stage, residual
    reductions to 2C and 4C, BN-ReLU-pool-linear head) at ``channels`` C and ``cells`` N, which a
    search on a small machine reduces. ``forward(x, weights, index=None)``: ``weights`` is 6×5 over
    (edge, op); ``index`` (6 ints) runs one op per edge (GDAS).
    """

    def __init__(self, in_channels: int, num_classes: int, channels: int = 16, cells: int = 5,
                 ops: Sequence[str] = NB201_OPS) -> None:
        super().__init__()
        from nas.searchspace.ops._nb201_modules import Head, Reduction

        if channels < 1 or cells < 1:
            raise NasError(f"search network channels and cells must be >= 1, got {channels} and {cells}")
        self.ops = tuple(ops)
        c = channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        layers: list[nn.Module] = []
        for stage in range(3):
            if stage:
                layers.append(Reduction(c << (stage - 1), c << stage))
            layers += [_SearchCell(c << stage, self.ops) for _ in range(cells)]
        self.layers = nn.ModuleList(layers)
        self.head = Head(c << 2, num_classes)

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor] | torch.Tensor,
                index: Sequence[int] | None = None) -> torch.Tensor:
        if not isinstance(weights, torch.Tensor):
            weights = torch.stack(list(weights))
        if weights.shape != (len(NB201_EDGES), len(self.ops)):
            raise NasError(f"NB201SearchNet needs weights of shape (6, {len(self.ops)}), got {tuple(weights.shape)}")
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x, weights, index) if isinstance(layer, _SearchCell) else layer(x)
        return self.head(x)


@dataclass
class MixedProblem:
    """A space made differentiable: the search network, its choice points, and the derivation.

    ``net(x, weights, index=None)`` takes one 1-D weight tensor per point (in ``points`` order);
    ``derive(choices)`` turns one candidate index per point into an Architecture of the space, with the
    genes that are not searched set from ``fixed``; ``notes`` say what the search network reduces.
    """

    space: object
    net: nn.Module
    points: tuple[ChoicePoint, ...]
    fixed: dict[str, object]
    notes: tuple[str, ...] = ()
    fix: Callable[[dict], dict] | None = None

    def genes(self, choices: Sequence[int]) -> dict:
        genes = dict(self.fixed)
        for p, k in zip(self.points, choices, strict=True):
            genes[p.gene] = p.candidates[int(k)]
        return genes

    def derive(self, choices: Sequence[int]):
        """The architecture of one candidate index per point (made valid by ``fix`` where the space has
        constraints the per-point choices can break)."""
        genes = self.genes(choices)
        return self.space.make(**(self.fix(genes) if self.fix is not None else genes))


def nb201_problem(space, num_classes: int, channels: int = 16, cells: int = 5) -> MixedProblem:
    """The NB201 space's mixed network at ``channels``/``cells`` (reduced from the space's C and N to
    search on a small machine; the derived cell is the same cell)."""
    if space.name != "nb201":
        raise NasError(f"nb201_problem needs the nb201 space, got {space.name!r}")
    points = nb201_choice_points(space)
    net = NB201SearchNet(space.input.channels, num_classes, channels, cells, points[0].candidates)
    notes = ()
    if (channels, cells) != (space.channels, space.cells):
        notes = (f"search network reduced to C={channels}, N={cells} cells per stage "
                 f"(the space's network: C={space.channels}, N={space.cells})",)
    return MixedProblem(space, net, points, {}, notes)
