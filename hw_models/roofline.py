"""Roofline latency: per kernel the larger of compute and memory time at the device's achieved peak,
plus a fixed per-kernel overhead; a layer is the sum of its kernels, a network the sum of its layers.

A layer's kernels are what its op declares (``OpSpec.kernels``: one per sub-layer for ops built on
``PartsOp``, the mixer's plus the MLP's for a MetaFormer block, the fused scan for Mamba, and by
default the whole layer's MACs and bytes over ``OpSpec.launches`` kernels).
"""

from __future__ import annotations

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


def op_kernels(op: str, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> list[Kernel]:
    """The kernels of op ``op`` applied to ``t`` with full hyper-parameters ``hp``, at batch 1: the op's
    own ``OpSpec.kernels`` declaration, in bytes at ``dtype_bytes`` per element."""
    return [Kernel(k.macs, k.act_elems * dtype_bytes, k.weights * dtype_bytes, k.count)
            for k in OPS.get(op).kernels(t, hp)]


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
