"""Roofline latency: per kernel the larger of compute and memory time at the device's achieved peak,
plus a fixed per-kernel overhead; a layer is the sum of its kernels, a network the sum of its layers.

A layer's kernels come from its op's ``parts`` (ops built on ``PartsOp`` list every sub-layer), from
the MetaFormer block's known layout, or, for the other ops, from the whole layer's MACs and bytes with
an estimated kernel count (``KERNEL_COUNTS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nas.errors import NasError
from nas.hw_models.profiles import DeviceProfile
from nas.searchspace.hparams import HParams
from nas.searchspace.netspec import Layer, NetSpec
from nas.searchspace.op_spec import OPS
from nas.searchspace.tensor_type import TensorType

DTYPE_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2}


@dataclass(frozen=True)
class Kernel:
    """One kernel (or a group of ``count`` launches treated as one) at batch 1: MACs, activation bytes
    (read + written; they scale with the batch) and weight bytes (read once per call)."""

    macs: int
    act_bytes: int
    weight_bytes: int
    count: int = 1


@dataclass(frozen=True)
class LayerTerms:
    """A layer's roofline terms in ms at one batch size: compute-bound time, memory-bound time, the
    per-kernel overhead, the roofline total (per kernel max(compute, memory) + overhead) and launches."""

    compute_ms: float
    memory_ms: float
    overhead_ms: float
    total_ms: float
    kernels: int


def _nb201_cell_count(t: TensorType, hp: HParams) -> int:
    edges = hp["edges"]
    convs = sum(e.startswith("nor_conv") for e in edges)
    pools = sum(e == "avg_pool_3x3" for e in edges)
    return 3 * convs + pools + 3


#: Estimated launches of ops without a parts list (by op name), then by family.
KERNEL_COUNTS: dict[str, Callable[[TensorType, HParams], int]] = {
    "conv": lambda t, hp: 1 + int(hp["norm"]) + int(hp["act"] != "none"),
    "mhsa": lambda t, hp: 9,
    "window_attention": lambda t, hp: 13,
    "linear_attention": lambda t, hp: 11,
    "mamba": lambda t, hp: 7 * t.tokens + 12,  # the pure-torch selective scan runs one step per token
    "s4d": lambda t, hp: 10,
    "identity": lambda t, hp: 0,
    "zero": lambda t, hp: 1,
    "channel_shift": lambda t, hp: 5,
    "map_to_seq": lambda t, hp: 1,
    "seq_to_map": lambda t, hp: 1,
    "nb201_cell": _nb201_cell_count,
}
FAMILY_KERNELS = {"conv": 3, "attention": 9, "ssm": 10, "mlp": 3, "spectral": 4, "paramfree": 1, "adapter": 2}


def op_kernels(op: str, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> list[Kernel]:
    """The kernels of op ``op`` applied to ``t`` with full hyper-parameters ``hp``, at batch 1."""
    spec = OPS.get(op)
    parts = getattr(spec, "parts", None)
    if callable(parts):
        return [Kernel(p.macs, (p.reads + p.writes) * dtype_bytes, p.params * dtype_bytes) for p in parts(t, hp)]
    if op == "metaformer":
        return _metaformer_kernels(t, hp, dtype_bytes)
    count_fn = KERNEL_COUNTS.get(op)
    count = count_fn(t, hp) if count_fn else FAMILY_KERNELS.get(spec.family, 2)
    if count == 0:
        return []
    weights = spec.params(t, hp) * dtype_bytes
    return [Kernel(spec.macs(t, hp), max(0, spec.bytes(t, hp, dtype_bytes) - weights), weights, count)]


def _metaformer_kernels(t: TensorType, hp: HParams, dtype_bytes: int) -> list[Kernel]:
    from nas.searchspace.ops.metaformer import mlp_hidden

    mixer = OPS.get(hp["mixer"])
    mhp = mixer.check(t, hp["mixer_hp"])
    n, c = t.numel, t.channels
    hidden = mlp_hidden(c, hp["mlp_ratio"])
    nh = hidden * t.tokens
    db = dtype_bytes
    return [
        Kernel(0, 2 * n * db, 2 * c * db),                                   # norm1
        *op_kernels(hp["mixer"], t, mhp, dtype_bytes),                       # token mixer
        Kernel(0, 3 * n * db, 0),                                            # residual add
        Kernel(0, 2 * n * db, 2 * c * db),                                   # norm2
        Kernel(t.tokens * c * hidden, (n + nh) * db, (c * hidden + hidden) * db),  # fc1
        Kernel(0, 2 * nh * db, 0),                                           # GELU
        Kernel(t.tokens * hidden * c, (nh + n) * db, (hidden * c + c) * db),  # fc2
        Kernel(0, 3 * n * db, 0),                                            # residual add
    ]


def layer_kernels(layer: Layer, dtype_bytes: int = 4) -> list[Kernel]:
    return op_kernels(layer.op, layer.in_type, layer.hp, dtype_bytes)


class RooflineModel:
    """Roofline latency of a NetSpec on one ``DeviceProfile`` at one dtype.

    Contract: ``layer_terms(layer, batch)`` gives the terms of one layer; ``per_layer_ms(spec, batch)``
    one total per layer; ``latency_ms`` their sum. Compute time counts 2 FLOPs per MAC against the
    profile's peak × ``compute_efficiency``; memory time is bytes (activations × batch + weights)
    against bandwidth × ``memory_efficiency``; each launch adds ``kernel_overhead_us``.
    """

    def __init__(self, profile: DeviceProfile, dtype: str = "fp32") -> None:
        if dtype not in DTYPE_BYTES:
            raise NasError(f"unknown dtype {dtype!r}; allowed: {', '.join(DTYPE_BYTES)}")
        self.profile = profile
        self.dtype = dtype
        self.dtype_bytes = DTYPE_BYTES[dtype]
        self._flops_per_ms = profile.peak(dtype) * 1e6 * profile.compute_efficiency
        self._bytes_per_ms = profile.bandwidth_gbs * 1e6 * profile.memory_efficiency
        self._overhead_ms = profile.kernel_overhead_us * 1e-3

    def kernel_ms(self, k: Kernel, batch: int = 1) -> tuple[float, float, float]:
        """(compute ms, memory ms, overhead ms) of one kernel at ``batch``."""
        compute = 2.0 * k.macs * batch / self._flops_per_ms
        memory = (k.act_bytes * batch + k.weight_bytes) / self._bytes_per_ms
        return compute, memory, k.count * self._overhead_ms

    def layer_terms(self, layer: Layer, batch: int = 1) -> LayerTerms:
        compute = memory = overhead = total = 0.0
        launches = 0
        for k in layer_kernels(layer, self.dtype_bytes):
            c, m, o = self.kernel_ms(k, batch)
            compute += c
            memory += m
            overhead += o
            total += max(c, m) + o
            launches += k.count
        return LayerTerms(compute, memory, overhead, total, launches)

    def per_layer_ms(self, spec: NetSpec, batch: int = 1) -> list[float]:
        return [self.layer_terms(layer, batch).total_ms for layer in spec.layers]

    def latency_ms(self, spec: NetSpec, batch: int = 1) -> float:
        return float(sum(self.per_layer_ms(spec, batch)))

    def describe(self) -> str:
        p = self.profile
        return (f"roofline on {p.name} ({p.description}): {p.peak(self.dtype):,.0f} GFLOP/s {self.dtype} x "
                f"{p.compute_efficiency:g}, {p.bandwidth_gbs:,.0f} GB/s x {p.memory_efficiency:g}, "
                f"{p.kernel_overhead_us:g} us per kernel")
