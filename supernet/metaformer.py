"""The elastic MetaFormer block: one weight set per mixer (each itself elastic in width through its op's
own position); the norms and channel MLP (the body) shared by every mixer choice, or one body per mixer."""

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
#: How the blocks' bodies (norms and channel MLP) are held: one for all mixer choices, or one per mixer.
BODIES = ("shared", "per-mixer")


def check_body(body: str) -> str:
    """``body`` when it is one of ``BODIES``, else a one-line NasError naming it and what is allowed."""
    from nas.errors import NasError

    if body not in BODIES:
        raise NasError(f"supernet body {body!r} not allowed; allowed: {', '.join(BODIES)}")
    return body


def _body_hp(hp: HParams) -> HParams:
    return hp.replace(mixer=BODY_MIXER, mixer_hp=HParams())


@ELASTIC.register("metaformer")
class MetaFormerPosition(ElasticPosition):
    """``body``: the block with an identity mixer (norm1, norm2, MLP), sliced in width and MLP ratio,
    one set per layout (map: GroupNorm + 1×1 convs; sequence: LayerNorm + Linear); ``mixers``: one
    elastic position per mixer op. The forward pass is ``MetaFormerModule.forward`` with these parts.

    ``body="per-mixer"`` keeps one body per mixer op (``bodies[op]``) instead of one shared by all: a
    parameter-free mixer then no longer borrows an MLP the other mixers trained, which ranked subnets
    closer to their stand-alone training on hybrid (docs/supernet.md), at the cost of one MLP per mixer."""

    def __init__(self, spec: OpSpec, cases: Sequence[Case], body: str = "shared") -> None:
        super().__init__()
        check_body(body)
        self.spec = spec
        if body == "shared":
            self.body = SlicedPosition(spec, [(t, _body_hp(hp)) for t, hp in cases])
        else:
            per_body: dict[str, list[Case]] = {}
            for t, hp in cases:
                per_body.setdefault(hp["mixer"], []).append((t, _body_hp(hp)))
            self.bodies = nn.ModuleDict({m: SlicedPosition(spec, cs) for m, cs in sorted(per_body.items())})
        per_mixer: dict[str, list[Case]] = {}
        for t, hp in cases:
            full = OPS.get(hp["mixer"]).check(t, hp["mixer_hp"])
            seen = per_mixer.setdefault(hp["mixer"], [])
            if (t, full) not in seen:
                seen.append((t, full))
        self.mixers = nn.ModuleDict({m: build_position(m, cs) for m, cs in sorted(per_mixer.items())})

    def _parts(self, layer: Layer) -> tuple[Layer, SlicedPosition, Layer, ElasticPosition]:
        hp, t = layer.hp, layer.in_type
        body = Layer(layer.name, layer.op, _body_hp(hp), t, t)
        mixer = Layer(f"{layer.name}.mixer", hp["mixer"], OPS.get(hp["mixer"]).check(t, hp["mixer_hp"]), t, t)
        from nas.errors import NasError

        if hp["mixer"] not in self.mixers:
            raise NasError(f"layer {layer.name!r}: mixer {hp['mixer']!r} is outside the supernet")
        body_pos = self.bodies[hp["mixer"]] if hasattr(self, "bodies") else self.body
        return body, body_pos, mixer, self.mixers[hp["mixer"]]

    def check(self, layer: Layer) -> None:
        body, body_pos, mixer, pos = self._parts(layer)
        body_pos.check(body)
        pos.check(mixer)

    def forward(self, x: torch.Tensor, layer: Layer) -> torch.Tensor:
        body, body_pos, mixer, pos = self._parts(layer)
        key, skel = body_pos._skeleton(body)
        skel.train(self.training)
        tensors = body_pos._slices(key, {n: v.shape for n, v in _shared(skel).items()},
                                   body_pos.spec.stacked(body.in_type, body.hp))

        def run(name: str, h: torch.Tensor) -> torch.Tensor:
            sub = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
            return functional_call(getattr(skel, name), sub, (h,), strict=False)

        x = x + pos(run("norm1", x), mixer)
        return x + run("mlp", run("norm2", x))

    def extract(self, layer: Layer) -> nn.Module:
        body, body_pos, mixer, pos = self._parts(layer)
        module = body_pos.extract(body)
        module.mixer = pos.extract(mixer)
        return module.train(self.training)


def _shared(module: nn.Module) -> dict[str, torch.Tensor]:
    from nas.supernet.elastic import shared_tensors

    return shared_tensors(module)
