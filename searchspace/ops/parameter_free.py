"""Parameter-free ops: ``identity``, ``zero`` (NB201/DARTS "none") and ``channel_shift``."""

from __future__ import annotations

from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OpSpec, register_op
from nas.searchspace.tensor_type import Layout, TensorType


class _SameType(OpSpec):
    """A parameter-free op whose output type is its input type: 0 MACs, 0 params.

    ``bytes`` is the default read + write: the op is charged as one copy of its input, which is what
    it costs wherever its output is materialised (summed into a cell node, made contiguous).
    """

    family = "paramfree"
    domain: dict[str, Any] = {}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return t

    def macs(self, t: TensorType, hp: HParams) -> int:
        return 0

    def params(self, t: TensorType, hp: HParams) -> int:
        return 0


@register_op("identity")
class Identity(_SameType):
    """Returns its input (a skip connection). Accepts any layout; a token mixer (the identity mixer)."""

    accepts = (Layout.MAP, Layout.SEQ, Layout.VEC)
    token_mixer = True

    def build(self, t: TensorType, hp: HParams):
        from torch import nn

        return nn.Identity()

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return ()

    def launches(self, t: TensorType, hp: HParams) -> int:
        return 0

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(3, 4, 5), {}), (TensorType.seq(4, 2, 3), {}), (TensorType.vec(7), {})]


@register_op("zero")
class Zero(_SameType):
    """Zeros of the input's type (NAS-Bench-201 / DARTS ``none``: the edge is absent).

    Not a token mixer: it mixes nothing and a MetaFormer block with it is a plain MLP block.
    """

    accepts = (Layout.MAP, Layout.SEQ)

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._pf_modules import Zero as Module

        return Module()

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return ()

    def launches(self, t: TensorType, hp: HParams) -> int:
        return 1

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(3, 4, 5), {}), (TensorType.seq(4, 2, 3), {})]


def shift_group(channels: int, groups_ratio: float) -> int:
    """Channels in each of the four shifted groups: ⌊C·groups_ratio⌋ // 4 (the rest are not shifted)."""
    return int(channels * groups_ratio) // 4


@register_op("channel_shift")
class ChannelShift(_SameType):
    """Spatial shift of channel groups (ShiftViT-style): four groups of ⌊C·groups_ratio⌋//4 channels each
    move by ``shift`` pixels up, down, left and right, zero-filled; the remaining channels pass unchanged.

    A token mixer with 0 MACs and 0 params; a sequence is shifted through its grid. Needs at least
    one channel per group and ``shift`` smaller than H and W.
    """

    accepts = (Layout.MAP, Layout.SEQ)
    token_mixer = True
    domain = {"shift": (1, 2), "groups_ratio": (0.25, 0.5)}
    defaults = {"shift": 1, "groups_ratio": 0.5}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        if shift_group(t.channels, hp["groups_ratio"]) == 0:
            need = int(4 / hp["groups_ratio"])
            raise NasError(f"channel_shift groups_ratio={hp['groups_ratio']} needs at least {need} channels "
                           f"(4 shifted groups), got {t}")
        if hp["shift"] >= min(t.height, t.width):
            raise NasError(f"channel_shift shift={hp['shift']} must be smaller than H and W of {t}")
        return t

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._pf_modules import ChannelShift as Module
        from nas.searchspace.ops._pf_modules import OnGrid

        module = Module(shift_group(t.channels, hp["groups_ratio"]), hp["shift"])
        return module if t.layout is Layout.MAP else OnGrid(module, t.height, t.width)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return ()

    def launches(self, t: TensorType, hp: HParams) -> int:
        return 5

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(8, 4, 5), {}),
                (TensorType.map(17, 5, 5), {"shift": 2, "groups_ratio": 0.25}),
                (TensorType.seq(8, 3, 4), {"shift": 2})]
