"""Per-sub-layer cost records: one list of parts drives a block's ``macs``, ``params`` and ``bytes``.

A block op lists its sub-layers (each conv, norm, activation, pooling, product, add, concat) as
``Part`` records once; the three costs are sums over that list, so they cannot drift apart.
``bytes`` is the unfused view: every sub-layer reads its inputs and writes its output, and every
weight is read once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import KernelCost, OpSpec
from nas.searchspace.tensor_type import TensorType


@dataclass(frozen=True)
class Part:
    """One sub-layer at batch 1: activation elements read and written, MACs and parameters.

    ``macs`` is what ``torch.utils.flop_counter`` counts (halved): convolutions and matrix products
    without their bias; norms, activations, pooling and elementwise ops have ``macs == 0``.
    """

    reads: int
    writes: int
    macs: int = 0
    params: int = 0


def conv(c_in: int, c_out: int, h_out: int, w_out: int, kh: int, kw: int | None = None, *,
         h_in: int, w_in: int, groups: int = 1, bias: bool = False) -> Part:
    """A (possibly grouped, possibly rectangular kh×kw) 2-D convolution."""
    kw = kh if kw is None else kw
    weights = c_out * (c_in // groups) * kh * kw
    return Part(c_in * h_in * w_in, c_out * h_out * w_out, h_out * w_out * weights,
                weights + (c_out if bias else 0))


def linear(tokens: int, d_in: int, d_out: int, *, bias: bool = True) -> Part:
    """A Linear layer applied to ``tokens`` vectors."""
    return Part(tokens * d_in, tokens * d_out, tokens * d_in * d_out, d_in * d_out + (d_out if bias else 0))


def norm(channels: int, positions: int) -> Part:
    """BatchNorm / LayerNorm with affine weight and bias over ``channels`` at ``positions`` places."""
    n = channels * positions
    return Part(n, n, 0, 2 * channels)


def eltwise(n: int, inputs: int = 1, *, extra_reads: int = 0, params: int = 0) -> Part:
    """An elementwise op writing ``n`` elements from ``inputs`` same-sized operands (activation, add).

    ``extra_reads`` covers a broadcast operand (an SE gate, a per-channel scale held in ``params``).
    """
    return Part(inputs * n + extra_reads, n, 0, params)


def total_macs(parts: Sequence[Part]) -> int:
    return sum(p.macs for p in parts)


def total_params(parts: Sequence[Part]) -> int:
    return sum(p.params for p in parts)


def total_bytes(parts: Sequence[Part], dtype_bytes: int) -> int:
    return sum(p.reads + p.writes + p.params for p in parts) * dtype_bytes


class PartsOp(OpSpec):
    """An ``OpSpec`` whose ``macs``, ``params`` and ``bytes`` are sums over ``parts(t, hp)``.

    Contract: ``parts`` lists every sub-layer of ``build(t, hp)`` exactly once, so ``params`` is
    ``sum(p.numel())`` of the built module and ``macs`` is what torch's flop counter counts, halved.
    """

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        raise NotImplementedError

    def macs(self, t: TensorType, hp: HParams) -> int:
        return total_macs(self.parts(t, hp))

    def params(self, t: TensorType, hp: HParams) -> int:
        return total_params(self.parts(t, hp))

    def bytes(self, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> int:
        return total_bytes(self.parts(t, hp), dtype_bytes)

    def kernels(self, t: TensorType, hp: HParams) -> list[KernelCost]:
        """One kernel per part (the unfused view, as ``bytes``)."""
        return [KernelCost(p.macs, p.reads + p.writes, p.params) for p in self.parts(t, hp)]
