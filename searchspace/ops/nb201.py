"""NAS-Bench-201's building blocks: ``nb201_cell``, ``nb201_reduction`` and ``nb201_head``.

Layouts follow NAS-Bench-201's reference network (``TinyNetwork`` / ``InferCell``, Dong & Yang 2020):
``nor_conv_k`` is ReLU → conv k×k (no bias) → BatchNorm (affine), ``avg_pool_3x3`` is
AvgPool2d(3, 1, 1, count_include_pad=False), ``skip_connect`` the identity and ``none`` an absent edge.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OPS, OpSpec, register_op
from nas.searchspace.ops._parts import Part, PartsOp, conv, eltwise, linear, norm
from nas.searchspace.tensor_type import Layout, TensorType

#: NAS-Bench-201's five edge operations, in its own order.
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: The six edges (from node, to node) in arch-string order: |1←0|+|2←0|2←1|+|3←0|3←1|3←2|.
NB201_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
CHANNELS = range(1, 1 << 16)
CLASSES = range(1, 1 << 20)


def edge_equivalent(op: str, channels: int) -> tuple[str, dict[str, Any]]:
    """The registered op with the same MACs and params as one cell edge at ``channels`` channels.

    ``nor_conv_k`` runs ReLU before the conv rather than after; the costs are the same as ``conv``
    with BatchNorm and no activation.
    """
    if op == "nor_conv_1x1" or op == "nor_conv_3x3":
        return "conv", {"out": channels, "kernel": 1 if op == "nor_conv_1x1" else 3, "norm": True, "act": "none",
                        "bias": False}
    if op == "avg_pool_3x3":
        return "avgpool", {"kernel": 3, "stride": 1, "count_include_pad": False}
    if op == "skip_connect":
        return "identity", {}
    return "zero", {}


@lru_cache(maxsize=1024)
def edge_costs(op: str, t: TensorType, dtype_bytes: int = 4) -> tuple[int, int, int, int]:
    """(macs, uncounted_macs, params, bytes) of one cell edge on ``t``, from its registered equivalent."""
    name, hp = edge_equivalent(op, t.channels)
    spec = OPS.get(name)
    full = spec.check(t, hp)
    return (spec.macs(t, full), spec.uncounted_macs(t, full), spec.params(t, full),
            spec.bytes(t, full, dtype_bytes))


def check_edges(edges: Any) -> tuple[str, ...]:
    """The six edge op names, or a one-line NasError naming the bad value."""
    if not isinstance(edges, tuple) or len(edges) != len(NB201_EDGES):
        raise NasError(f"nb201_cell edges must be a tuple of {len(NB201_EDGES)} op names, got {edges!r}")
    for e in edges:
        if e not in NB201_OPS:
            raise NasError(f"nb201_cell edge op {e!r} not allowed; allowed: {', '.join(NB201_OPS)}")
    return edges


@register_op("nb201_cell")
class NB201Cell(OpSpec):
    """One NAS-Bench-201 cell: 4 nodes, node j = Σ_{i<j} edge(i→j)(node i), output = node 3.

    ``edges`` is a tuple of 6 op names from ``NB201_OPS`` in arch-string order (``NB201_EDGES``).
    Shape-preserving (C×H×W in and out). A node with no incoming non-``none`` edge is zeros, and
    those zeros still flow through the later edges (as in NAS-Bench-201, where ``none`` multiplies by 0).
    MACs and params are the sums over the edges of the equivalent registered ops (``edge_equivalent``);
    ``bytes`` adds each nor_conv's ReLU pass, the node sums and the zero nodes.
    """

    family = "conv"
    accepts = (Layout.MAP,)
    domain = {"edges": tuple}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        check_edges(hp["edges"])
        return t

    def macs(self, t: TensorType, hp: HParams) -> int:
        return sum(edge_costs(e, t)[0] for e in check_edges(hp["edges"]))

    def uncounted_macs(self, t: TensorType, hp: HParams) -> int:
        return sum(edge_costs(e, t)[1] for e in check_edges(hp["edges"]))

    def params(self, t: TensorType, hp: HParams) -> int:
        return sum(edge_costs(e, t)[2] for e in check_edges(hp["edges"]))

    def bytes(self, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> int:
        edges = check_edges(hp["edges"])
        total = sum(edge_costs(e, t, dtype_bytes)[3] for e in edges if e != "none")
        relus = sum(e.startswith("nor_conv") for e in edges)
        fan_in = [sum(e != "none" for e, (_, j) in zip(edges, NB201_EDGES) if j == node) for node in (1, 2, 3)]
        adds = sum(max(0, f - 1) for f in fan_in)
        zeros = sum(f == 0 for f in fan_in)  # a node fed only by none edges is written as zeros
        return total + (relus * 2 + adds * 3 + zeros) * t.numel * dtype_bytes

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._nb201_modules import Cell

        return Cell(t.channels, tuple((op, i, j) for op, (i, j) in zip(check_edges(hp["edges"]), NB201_EDGES)))

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        raise NasError("DeepMAD has no entropy term for op 'nb201_cell': a cell is a DAG of summed edges, "
                       "not a chain of linear maps")

    def launches(self, t: TensorType, hp: HParams) -> int:
        edges = check_edges(hp["edges"])
        convs = sum(e.startswith("nor_conv") for e in edges)  # ReLU, conv, BN each
        pools = sum(e == "avg_pool_3x3" for e in edges)
        return 3 * convs + pools + 3                          # + the node sums

    def components(self, t: TensorType, hp: HParams) -> tuple[str, ...]:
        """The six edges, each as the registered op with the same costs (``edge_equivalent``)."""
        return tuple(edge_equivalent(e, t.channels)[0] for e in check_edges(hp["edges"]))

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(4, 6, 6), {"edges": ("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3",
                                                     "skip_connect", "none", "nor_conv_3x3")}),
                (TensorType.map(3, 5, 4), {"edges": ("none", "skip_connect", "nor_conv_1x1", "none",
                                                     "avg_pool_3x3", "nor_conv_3x3")}),
                (TensorType.map(2, 4, 4), {"edges": ("none",) * 6})]


@register_op("nb201_reduction")
class NB201Reduction(PartsOp):
    """NAS-Bench-201's residual reduction block (``ResNetBasicblock`` at stride 2).

    ReLU → conv 3×3/2 → BN → ReLU → conv 3×3 → BN, plus the shortcut AvgPool2d(2, 2) → conv 1×1
    (no bias, no BN). H and W must be even (the two branches must agree); out = ``out`` × H/2 × W/2.
    """

    family = "conv"
    accepts = (Layout.MAP,)
    domain = {"out": CHANNELS}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        if t.height % 2 or t.width % 2:
            raise NasError(f"nb201_reduction halves H and W: both must be even, got {t}")
        return TensorType.map(hp["out"], t.height // 2, t.width // 2)

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        o = self.out_type(t, hp)
        c, out, h, w = t.channels, o.channels, o.height, o.width
        return [eltwise(t.numel), conv(c, out, h, w, 3, h_in=t.height, w_in=t.width), norm(out, h * w),
                eltwise(o.numel), conv(out, out, h, w, 3, h_in=h, w_in=w), norm(out, h * w),
                Part(t.numel, c * h * w), conv(c, out, h, w, 1, h_in=h, w_in=w),
                eltwise(o.numel, 2)]

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._nb201_modules import Reduction

        return Reduction(t.channels, hp["out"])

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels * 9, hp["out"] * 9)  # the main path's two 3×3 convs

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(4, 8, 8), {"out": 8}), (TensorType.map(3, 6, 4), {"out": 5})]


@register_op("nb201_head")
class NB201Head(PartsOp):
    """NAS-Bench-201's classifier: BatchNorm → ReLU → global average pool → Linear(C, ``classes``) with bias."""

    family = "adapter"
    accepts = (Layout.MAP,)
    domain = {"classes": CLASSES}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return TensorType.vec(hp["classes"])

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        c = t.channels
        return [norm(c, t.tokens), eltwise(t.numel), Part(t.numel, c), linear(1, c, hp["classes"])]

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._nb201_modules import Head

        return Head(t.channels, hp["classes"])

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels,)

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(8, 4, 4), {"classes": 10}), (TensorType.map(5, 3, 2), {"classes": 3})]
