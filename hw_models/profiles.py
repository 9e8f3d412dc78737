"""Device profiles for the roofline model, shipped as data in ``hw_models/profiles/*.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import NasError


@dataclass(frozen=True)
class DeviceProfile:
    """What the roofline model needs to know about one device.

    ``peak_gflops`` maps a dtype (``fp32``, ``tf32``, ``fp16``) to the peak in GFLOP/s, counting a
    multiply-accumulate as two FLOPs (the hardware convention; the project's FLOPs count it as one).
    ``bandwidth_gbs`` is the memory bandwidth in GB/s. The achieved fraction of each is
    ``compute_efficiency`` / ``memory_efficiency``; ``kernel_overhead_us`` is the fixed cost of one
    kernel (launch and framework dispatch). ``source`` says where the numbers come from (datasheet or
    the measurement that produced them).
    """

    name: str
    kind: str
    description: str
    peak_gflops: dict[str, float]
    bandwidth_gbs: float
    compute_efficiency: float
    memory_efficiency: float
    kernel_overhead_us: float
    source: str
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("gpu", "cpu"):
            raise NasError(f"profile {self.name!r}: kind {self.kind!r} not allowed; allowed: gpu, cpu")
        if not self.peak_gflops or min(self.peak_gflops.values()) <= 0 or self.bandwidth_gbs <= 0:
            raise NasError(f"profile {self.name!r}: peaks and bandwidth must be positive")
        for k in ("compute_efficiency", "memory_efficiency"):
            if not 0 < getattr(self, k) <= 1:
                raise NasError(f"profile {self.name!r}: {k}={getattr(self, k)} must be in (0, 1]")

    def peak(self, dtype: str) -> float:
        try:
            return self.peak_gflops[dtype]
        except KeyError:
            raise NasError(f"profile {self.name!r} has no peak for dtype {dtype!r}; "
                           f"allowed: {', '.join(sorted(self.peak_gflops))}") from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DeviceProfile:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise NasError(f"device profile has unknown keys {unknown}; allowed: {', '.join(sorted(known))}")
        return cls(**d)


def _profile_dir() -> Path:
    return Path(__file__).resolve().parent / "profiles"


def profile_names() -> list[str]:
    """Names of the shipped profiles (file stems in ``hw_models/profiles``)."""
    return sorted(p.stem for p in _profile_dir().glob("*.json"))


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """A shipped profile by name, or a profile JSON file by path."""
    p = Path(name_or_path)
    if p.suffix == ".json" and p.is_file():
        return DeviceProfile.from_json(json.loads(p.read_text()))
    f = _profile_dir() / f"{name_or_path}.json"
    if not f.is_file():
        raise NasError(f"unknown device profile {str(name_or_path)!r}; allowed: {', '.join(profile_names())}")
    return DeviceProfile.from_json(json.loads(f.read_text()))
