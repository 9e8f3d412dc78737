"""Analytic costs of a NetSpec: FLOPs (MACs), params, activation memory, bytes moved."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from nas.searchspace.netspec import Layer, NetSpec


@dataclass(frozen=True)
class Costs:
    """Whole-network costs at batch 1. ``flops`` counts one multiply-accumulate as one FLOP
    (fvcore's convention); ``activations`` is the number of output elements of all layers;
    ``bytes`` is memory traffic (activations read and written plus weights read) at ``dtype_bytes``."""

    flops: int
    params: int
    activations: int
    bytes: int
    peak_activation: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class LayerCosts:
    """Per-layer costs (the same units as ``Costs``)."""

    name: str
    op: str
    family: str
    flops: int
    params: int
    activations: int
    bytes: int


def layer_costs(layer: Layer, dtype_bytes: int = 4) -> LayerCosts:
    return LayerCosts(layer.name, layer.op, layer.family, layer.macs(), layer.params(),
                      layer.out_type.numel, layer.bytes(dtype_bytes))


def per_layer(spec: NetSpec, dtype_bytes: int = 4) -> list[LayerCosts]:
    return [layer_costs(layer, dtype_bytes) for layer in spec.layers]


def analytic_costs(spec: NetSpec, dtype_bytes: int = 4) -> Costs:
    """Sum the closed-form per-layer costs. ``peak_activation`` is the largest in+out pair of one layer."""
    rows = per_layer(spec, dtype_bytes)
    peak = max((layer.in_type.numel + layer.out_type.numel for layer in spec.layers), default=spec.input.numel)
    return Costs(
        flops=sum(r.flops for r in rows),
        params=sum(r.params for r in rows),
        activations=sum(r.activations for r in rows),
        bytes=sum(r.bytes for r in rows),
        peak_activation=peak,
    )


def flops(spec: NetSpec) -> int:
    return sum(layer.macs() for layer in spec.layers)


def params(spec: NetSpec) -> int:
    return sum(layer.params() for layer in spec.layers)
