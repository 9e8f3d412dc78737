"""Cost conventions for DeepMAD's constraints: ours (``analytic``) and TinyNAS's (``tinynas``).

``analytic`` is the project's cost model (``nas.hw_models.analytic``): FLOPs = multiply-accumulates of
every layer, classifier head included; params = every trainable parameter, head included.

``tinynas`` reproduces how TinyNAS (the released DeepMAD code) counts a CNN, so budgets such as
DeepMAD-R50's "4.13 G FLOPs, 25.55 M params" mean what they meant there:

- the classifier head is not counted (TinyNAS searches the backbone; its FLOPs and model size stop
  before global pooling);
- FLOPs = the convolutions' MACs + 2 per BatchNorm output element + 1 per ReLU output element
  + 1 per output element of the residual add, but only in blocks whose shortcut has a projection
  (TinyNAS counts that add with the projection and not on identity shortcuts)
  + C_in·H_in·W_in on a stride-2 block's shortcut (TinyNAS averages 2×2 before its 1×1 projection;
  torchvision's layout, ours, strides the 1×1 conv instead: same params and conv MACs, no pooling);
- params = conv weights + 2 per BatchNorm channel, which is exactly our count without the head.

Layout differences that remain (documented, they do not arise in DeepMAD-R50): TinyNAS projects the
first block of every stage even when C_in = out at stride 1 (ours uses the identity there), and its
basic block strides its second conv (ours, torchvision's, the first).

Only CNN ops have a TinyNAS count (``stem``, ``conv``, ``resnet_bottleneck``, ``resnet_basic``,
``head``); others raise a one-line NasError.
"""

from __future__ import annotations

from collections.abc import Callable

from nas.errors import NasError
from nas.hw_models.analytic import analytic_costs
from nas.searchspace.hparams import HParams
from nas.searchspace.netspec import Layer, NetSpec
from nas.searchspace.tensor_type import Layout, TensorType

CONVENTIONS = ("analytic", "tinynas")


def _bn_relu(channels: int, positions: int, relu: bool = True) -> int:
    return (2 + int(relu)) * channels * positions


def _stem(layer: Layer) -> int:
    hp, o = layer.hp, layer.out_type
    if hp.get("pool"):
        raise NasError("the tinynas cost convention has no stem max-pool; use a plain stem")
    extra = 0
    if hp.get("norm", "bn") != "none":
        extra += 2 * o.numel
    if hp.get("act", "relu") != "none":
        extra += o.numel
    return layer.macs() + extra


def _conv(layer: Layer) -> int:
    hp, o = layer.hp, layer.out_type
    return layer.macs() + (2 * o.numel if hp["norm"] else 0) + (o.numel if hp["act"] != "none" else 0)


def _shortcut(t: TensorType, o: TensorType, hp: HParams) -> int:
    extra = 0
    if hp["stride"] != 1:
        extra += t.numel  # TinyNAS's 2×2 average before the projection
    if hp["stride"] != 1 or t.channels != hp["out"]:
        extra += 2 * o.numel + o.numel  # projection BN, and the add TinyNAS counts with it
    return extra


def _bottleneck(layer: Layer) -> int:
    t, o, hp = layer.in_type, layer.out_type, layer.hp
    mid = hp["mid"]
    return (layer.macs() + _bn_relu(mid, t.tokens) + _bn_relu(mid, o.tokens)
            + _bn_relu(o.channels, o.tokens, relu=False) + o.numel  # conv3 BN; the ReLU after the add
            + _shortcut(t, o, hp))


def _basic(layer: Layer) -> int:
    t, o, hp = layer.in_type, layer.out_type, layer.hp
    mid = hp.get("mid", 0) or hp["out"]
    return (layer.macs() + _bn_relu(mid, o.tokens) + _bn_relu(o.channels, o.tokens, relu=False)
            + o.numel + _shortcut(t, o, hp))


_TINYNAS_FLOPS: dict[str, Callable[[Layer], int]] = {
    "stem": _stem, "conv": _conv, "resnet_bottleneck": _bottleneck, "resnet_basic": _basic,
    "head": lambda layer: 0,
}


def _is_head(layer: Layer) -> bool:
    return layer.out_type.layout is Layout.VEC


def tinynas_flops(spec: NetSpec) -> int:
    """FLOPs as TinyNAS counts them (see the module docstring): backbone only, BN/ReLU elements added."""
    total = 0
    for layer in spec.layers:
        if _is_head(layer):
            continue
        rule = _TINYNAS_FLOPS.get(layer.op)
        if rule is None:
            raise NasError(f"the tinynas cost convention covers {', '.join(sorted(_TINYNAS_FLOPS))}; "
                           f"layer {layer.name!r} is a {layer.op!r}; use --cost-convention analytic")
        total += rule(layer)
    return total


def tinynas_params(spec: NetSpec) -> int:
    """Params as TinyNAS counts them: every parameter of the backbone (the head excluded)."""
    return sum(layer.params() for layer in spec.layers if not _is_head(layer))


def convention_costs(spec: NetSpec, convention: str) -> dict[str, int]:
    """``flops`` and ``params`` of ``spec`` in one convention."""
    if convention == "analytic":
        c = analytic_costs(spec)
        return {"flops": c.flops, "params": c.params}
    if convention == "tinynas":
        return {"flops": tinynas_flops(spec), "params": tinynas_params(spec)}
    raise NasError(f"unknown cost convention {convention!r}; allowed: {', '.join(CONVENTIONS)}")
