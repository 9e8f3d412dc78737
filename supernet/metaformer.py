"""The elastic MetaFormer block: norms and channel MLP shared by every mixer choice, one weight set per
mixer (each itself elastic in width through its op's own position)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call

from nas.searchspace.hparams import HParams
from nas.searchspace.netspec import Layer
from nas.searchspace.op_spec import OPS, OpSpec
from nas.supernet.elastic import ELASTIC, Case, ElasticPosition, SlicedPosition, build_position

BODY_MIXER = "identity"


def _body_hp(hp: HParams) -> HParams:
    return hp.replace(mixer=BODY_MIXER, mixer_hp=HParams())


@ELASTIC.register("metaformer")
class MetaFormerPosition(ElasticPosition):
    """``body``: the block with an identity mixer (norm1, norm2, MLP), sliced in width and MLP ratio,
    one set per layout (map: GroupNorm + 1×1 convs; sequence: LayerNorm + Linear); ``mixers``: one
    elastic position per mixer op. The forward pass is ``MetaFormerModule.forward`` with these parts."""

    def __init__(self, spec: OpSpec, cases: Sequence[Case]) -> None:
        super().__init__()
        self.spec = spec
        self.body = SlicedPosition(spec, [(t, _body_hp(hp)) for t, hp in cases])
        per_mixer: dict[str, list[Case]] = {}
        for t, hp in cases:
            full = OPS.get(hp["mixer"]).check(t, hp["mixer_hp"])
            seen = per_mixer.setdefault(hp["mixer"], [])
            if (t, full) not in seen:
                seen.append((t, full))
        self.mixers = nn.ModuleDict({m: build_position(m, cs) for m, cs in sorted(per_mixer.items())})

    def _parts(self, layer: Layer) -> tuple[Layer, Layer, ElasticPosition]:
        hp, t = layer.hp, layer.in_type
        body = Layer(layer.name, layer.op, _body_hp(hp), t, t)
        mixer = Layer(f"{layer.name}.mixer", hp["mixer"], OPS.get(hp["mixer"]).check(t, hp["mixer_hp"]), t, t)
        from nas.errors import NasError

        if hp["mixer"] not in self.mixers:
            raise NasError(f"layer {layer.name!r}: mixer {hp['mixer']!r} is outside the supernet")
        return body, mixer, self.mixers[hp["mixer"]]

    def check(self, layer: Layer) -> None:
        body, mixer, pos = self._parts(layer)
        self.body.check(body)
        pos.check(mixer)

    def forward(self, x: torch.Tensor, layer: Layer) -> torch.Tensor:
        body, mixer, pos = self._parts(layer)
        key, skel = self.body._skeleton(body)
        skel.train(self.training)
        tensors = self.body._slices(key, {n: v.shape for n, v in _shared(skel).items()})

        def run(name: str, h: torch.Tensor) -> torch.Tensor:
            sub = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
            return functional_call(getattr(skel, name), sub, (h,), strict=False)

        x = x + pos(run("norm1", x), mixer)
        return x + run("mlp", run("norm2", x))

    def extract(self, layer: Layer) -> nn.Module:
        body, mixer, pos = self._parts(layer)
        module = self.body.extract(body)
        module.mixer = pos.extract(mixer)
        return module.train(self.training)


def _shared(module: nn.Module) -> dict[str, torch.Tensor]:
    from nas.supernet.elastic import shared_tensors

    return shared_tensors(module)
