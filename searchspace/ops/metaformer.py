"""MetaFormer block (``metaformer``): x + mixer(norm(x)); x + MLP(norm(x)), any token mixer in the slot."""

from __future__ import annotations

from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OPS, KernelCost, OpSpec, register_op
from nas.searchspace.ops._formulas import linear_macs, linear_params, norm_params
from nas.searchspace.tensor_type import Layout, TensorType


def mlp_hidden(channels: int, ratio: float) -> int:
    return max(1, int(round(channels * ratio)))


@register_op("metaformer")
class MetaFormerBlock(OpSpec):
    """Pre-norm residual block with a pluggable token mixer and a channel MLP (PoolFormer / MetaFormer).

    ``mixer`` names a registered op with ``token_mixer = True`` and ``mixer_hp`` its hyper-parameters.
    On a map the norms are GroupNorm(1, C) and the MLP is two 1×1 convs; on a sequence they are
    LayerNorm and two Linear layers. ``mlp_ratio`` sets the MLP's hidden width (round(C × ratio)).
    """

    family = "adapter"
    accepts = (Layout.MAP, Layout.SEQ)
    elastic = ("in", "mlp_ratio", "mixer_hp")
    domain = {"mixer": str, "mixer_hp": HParams, "mlp_ratio": (1, 1.5, 2, 3, 4, 6, 8)}
    defaults = {"mixer_hp": HParams(), "mlp_ratio": 4}

    def _mixer(self, t: TensorType, hp: HParams) -> tuple[OpSpec, HParams]:
        mixer = OPS.get(hp["mixer"])
        if not mixer.token_mixer:
            raise NasError(f"metaformer mixer {hp['mixer']!r} is not a token mixer")
        return mixer, mixer.check(t, hp["mixer_hp"], where=f"mixer {hp['mixer']}")

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        mixer, mhp = self._mixer(t, hp)
        if mixer.out_type(t, mhp) != t:
            raise NasError(f"metaformer mixer {hp['mixer']!r} changes the type of {t}")
        return t

    def macs(self, t: TensorType, hp: HParams) -> int:
        mixer, mhp = self._mixer(t, hp)
        hidden = mlp_hidden(t.channels, hp["mlp_ratio"])
        return mixer.macs(t, mhp) + linear_macs(t.tokens, t.channels, hidden) + linear_macs(t.tokens, hidden, t.channels)

    def uncounted_macs(self, t: TensorType, hp: HParams) -> int:
        mixer, mhp = self._mixer(t, hp)
        return mixer.uncounted_macs(t, mhp)

    def params(self, t: TensorType, hp: HParams) -> int:
        mixer, mhp = self._mixer(t, hp)
        c, hidden = t.channels, mlp_hidden(t.channels, hp["mlp_ratio"])
        return mixer.params(t, mhp) + 2 * norm_params(c) + linear_params(c, hidden) + linear_params(hidden, c)

    def bytes(self, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> int:
        mixer, mhp = self._mixer(t, hp)
        n, hidden = t.numel, mlp_hidden(t.channels, hp["mlp_ratio"]) * t.tokens
        # two norms (read + write), two residual adds (read 2, write 1), MLP (in, hidden out+in, out)
        elems = 2 * 2 * n + 2 * 3 * n + (n + 2 * hidden + n)
        mlp_w = linear_params(t.channels, hidden // t.tokens) + linear_params(hidden // t.tokens, t.channels)
        return mixer.bytes(t, mhp, dtype_bytes) + (elems + mlp_w + 2 * norm_params(t.channels)) * dtype_bytes

    # -- consumer hooks: a MetaFormer block is known by its mixer --------------------------------
    deepmad_block = True

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        mixer, mhp = self._mixer(t, hp)
        return mixer.fan_ins(t, mhp) + (t.channels, mlp_hidden(t.channels, hp["mlp_ratio"]))

    def kernels(self, t: TensorType, hp: HParams) -> list[KernelCost]:
        mixer, mhp = self._mixer(t, hp)
        n, c = t.numel, t.channels
        hidden = mlp_hidden(c, hp["mlp_ratio"])
        nh = hidden * t.tokens
        return [
            KernelCost(0, 2 * n, 2 * c),                                            # norm1
            *mixer.kernels(t, mhp),                                                 # token mixer
            KernelCost(0, 3 * n, 0),                                                # residual add
            KernelCost(0, 2 * n, 2 * c),                                            # norm2
            KernelCost(t.tokens * c * hidden, n + nh, c * hidden + hidden),         # fc1
            KernelCost(0, 2 * nh, 0),                                               # GELU
            KernelCost(t.tokens * hidden * c, nh + n, hidden * c + c),              # fc2
            KernelCost(0, 3 * n, 0),                                                # residual add
        ]

    def components(self, t: TensorType, hp: HParams) -> tuple[str, ...]:
        return (hp["mixer"],)

    def variant(self, t: TensorType, hp: HParams) -> str:
        return f"{self.name}/{hp['mixer']}"

    def latency_group(self, t: TensorType, hp: HParams) -> str:
        return OPS.get(hp["mixer"]).family

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._metaformer_module import MetaFormerModule

        mixer, mhp = self._mixer(t, hp)
        return MetaFormerModule(t, mixer.build(t, mhp), mlp_hidden(t.channels, hp["mlp_ratio"]))

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(8, 6, 6), {"mixer": "pool_mixer", "mlp_ratio": 2}),
                (TensorType.map(8, 6, 6), {"mixer": "dwconv", "mixer_hp": {"kernel": 5}, "mlp_ratio": 4}),
                (TensorType.seq(16, 4, 4), {"mixer": "mhsa", "mixer_hp": {"heads": 2}, "mlp_ratio": 3})]
