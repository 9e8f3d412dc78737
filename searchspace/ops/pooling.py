"""Pooling: ``maxpool``, ``avgpool`` and PoolFormer's ``pool_mixer`` (avgpool − x)."""

from __future__ import annotations

from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import register_op
from nas.searchspace.ops._formulas import conv_out
from nas.searchspace.ops._parts import Part, PartsOp, eltwise
from nas.searchspace.tensor_type import Layout, TensorType


def pool_padding(kernel: int) -> int:
    """k//2 for an odd kernel (keeps the size at stride 1, ceil-halves at stride 2); 0 for an even one."""
    return kernel // 2 if kernel % 2 else 0


class _Pool(PartsOp):
    """A k×k pooling window at stride 1 or 2 on a map; 0 MACs, 0 params.

    Padding is k//2 for odd k, so stride 1 keeps H×W and stride 2 gives ⌈H/2⌉×⌈W/2⌉; an even k has
    no padding and is allowed only at stride 2 (⌊(H−k)/2⌋+1). Pooling is not a multiply-accumulate
    (fvcore's convention, which torch's counter shares), so ``macs`` is 0; ``bytes`` is the input
    read plus the output written.
    """

    family = "paramfree"
    accepts = (Layout.MAP,)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return ()

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        k, s = hp["kernel"], hp["stride"]
        if k % 2 == 0 and s == 1:
            raise NasError(f"{self.name} kernel={k} is even: it cannot keep the size at stride 1; "
                           f"use stride 2 or an odd kernel (3, 5, 7)")
        p = pool_padding(k)
        h, w = conv_out(t.height, k, s, p), conv_out(t.width, k, s, p)
        if h <= 0 or w <= 0:
            raise NasError(f"{self.name} kernel={k} stride={s} leaves no output on {t}")
        return TensorType.map(t.channels, h, w)

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        return [Part(t.numel, self.out_type(t, hp).numel)]


@register_op("maxpool")
class MaxPool(_Pool):
    """Max pooling k×k at stride 1 or 2 (padding and costs as documented on the pooling base)."""

    domain = {"kernel": (2, 3, 5, 7), "stride": (1, 2)}
    defaults = {"kernel": 3, "stride": 1}

    def build(self, t: TensorType, hp: HParams):
        from torch import nn

        return nn.MaxPool2d(hp["kernel"], hp["stride"], pool_padding(hp["kernel"]))

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(3, 5, 5), {}),
                (TensorType.map(2, 7, 6), {"kernel": 5, "stride": 2}),
                (TensorType.map(2, 6, 7), {"kernel": 2, "stride": 2})]


@register_op("avgpool")
class AvgPool(_Pool):
    """Average pooling k×k at stride 1 or 2; ``count_include_pad`` (False by default) says whether the
    padded zeros count in the mean. Padding and costs as documented on the pooling base."""

    domain = {"kernel": (2, 3, 5, 7), "stride": (1, 2), "count_include_pad": (False, True)}
    defaults = {"kernel": 3, "stride": 1, "count_include_pad": False}

    def build(self, t: TensorType, hp: HParams):
        from torch import nn

        return nn.AvgPool2d(hp["kernel"], hp["stride"], pool_padding(hp["kernel"]),
                            count_include_pad=hp["count_include_pad"])

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(3, 5, 5), {}),
                (TensorType.map(2, 8, 7), {"kernel": 7, "stride": 2, "count_include_pad": True}),
                (TensorType.map(2, 4, 4), {"kernel": 2, "stride": 2})]


@register_op("pool_mixer")
class PoolMixer(PartsOp):
    """PoolFormer's token mixer: avgpool k×k(x, stride 1, padding k//2, count_include_pad=False) − x.

    Shape-preserving; a sequence is pooled through its grid. 0 MACs, 0 params; ``bytes`` counts the
    pool (read x, write the mean) and the subtraction (read both, write the result).
    """

    family = "paramfree"
    accepts = (Layout.MAP, Layout.SEQ)
    token_mixer = True
    domain = {"kernel": (3, 5, 7)}
    defaults = {"kernel": 3}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return t

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        n = t.numel
        return [Part(n, n), eltwise(n, 2)]

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._pf_modules import OnGrid
        from nas.searchspace.ops._pf_modules import PoolMixer as Module

        module = Module(hp["kernel"])
        return module if t.layout is Layout.MAP else OnGrid(module, t.height, t.width)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return ()

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(3, 5, 5), {}),
                (TensorType.map(2, 6, 4), {"kernel": 5}),
                (TensorType.seq(4, 3, 4), {"kernel": 7})]
