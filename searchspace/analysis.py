"""What a search space holds: its size, the cost distribution of seeded samples, the op families used.

Costs come from the resolved NetSpec in closed form (``nas.hw_models.analytic``); nothing here imports
torch, so thousands of samples take seconds.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nas.errors import NasError
from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams
from nas.searchspace.netspec import Layer, NetSpec
from nas.searchspace.op_spec import OPS
from nas.searchspace.space import SearchSpace
from nas.searchspace.tensor_type import TensorType

if TYPE_CHECKING:
    import pandas as pd

#: the per-sample cost columns, their units and what they measure
METRICS: dict[str, tuple[str, str]] = {
    "flops": ("MACs", "FLOPs, one multiply-accumulate counted as one"),
    "params": ("count", "trainable parameters"),
    "memory": ("elements", "activation memory: output elements of all layers, batch 1"),
    "peak_memory": ("elements", "largest input + output elements of one layer, batch 1"),
    "bytes": ("bytes", "memory traffic at fp32: activations read and written plus weights read"),
}
QUANTILES: tuple[tuple[str, float], ...] = (("p10", 10.0), ("median", 50.0), ("p90", 90.0))


@dataclass(frozen=True)
class Distribution:
    """Summary of one metric over the samples: min, p10, median, p90, max and mean.

    Quantiles are numpy's linear interpolation (the pandas ``describe`` convention); ``min`` and
    ``max`` are exact observed integers.
    """

    min: int
    p10: float
    median: float
    p90: float
    max: int
    mean: float

    @classmethod
    def of(cls, values: Sequence[int] | np.ndarray) -> Distribution:
        v = np.asarray(values, dtype=np.float64)
        if v.size == 0:
            raise NasError("no values to summarise; sample at least one architecture")
        q = {name: float(np.percentile(v, p)) for name, p in QUANTILES}
        return cls(min=int(np.min(values)), max=int(np.max(values)), mean=float(v.mean()), **q)

    def to_dict(self) -> dict[str, float | int]:
        return {"min": self.min, "p10": self.p10, "median": self.median, "p90": self.p90, "max": self.max,
                "mean": self.mean}


def has_constraints(space: SearchSpace) -> bool:
    """Whether the space rejects some gene combinations (its class overrides ``is_valid``)."""
    return type(space).is_valid is not SearchSpace.is_valid


def sample_architectures(space: SearchSpace, n: int, rng: np.random.Generator) -> list[Architecture]:
    """``n`` architectures drawn with ``space.sample(rng)`` (repeats allowed: it is a sample)."""
    if n < 1:
        raise NasError(f"--samples must be at least 1, got {n}")
    return [space.sample(rng) for _ in range(n)]


def layer_families(layer: Layer) -> list[str]:
    """The op families a layer contributes to the histogram.

    A layer counts as the families of its op's ``components``: a container of chosen operations as what
    it holds (a ``metaformer`` block as its token mixer, an ``nb201_cell`` as its six edges, each as the
    registered op with the same costs); any other layer once, as its op's family.
    """
    return [OPS.get(name).family for name in OPS.get(layer.op).components(layer.in_type, layer.hp)]


def family_counts(specs: Iterable[NetSpec]) -> dict[str, int]:
    """Layers (or chosen mixers / cell edges, see ``layer_families``) per op family, over all specs."""
    counts: Counter[str] = Counter()
    for spec in specs:
        for layer in spec.layers:
            counts.update(layer_families(layer))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


#: (op, in_type, hp, dtype_bytes) -> (macs, params, bytes) of one layer; ops are pure functions of these
CostCache = dict[tuple[str, TensorType, HParams, int], tuple[int, int, int]]


def spec_costs(spec: NetSpec, dtype_bytes: int = 4, cache: CostCache | None = None) -> dict[str, int]:
    """The ``METRICS`` columns of one resolved network (the sums of ``nas.hw_models.analytic``).

    Pass the same ``cache`` dict across calls to evaluate each distinct (op, input type, hp) once:
    a sampled space repeats the same blocks in many networks (and NB201 repeats each cell five times).
    """
    flops = params = memory = traffic = 0
    peak = spec.input.numel
    for layer in spec.layers:
        key = (layer.op, layer.in_type, layer.hp, dtype_bytes)
        hit = cache.get(key) if cache is not None else None
        if hit is None:
            op = OPS.get(layer.op)
            hit = (op.macs(layer.in_type, layer.hp), op.params(layer.in_type, layer.hp),
                   op.bytes(layer.in_type, layer.hp, dtype_bytes))
            if cache is not None:
                cache[key] = hit
        flops += hit[0]
        params += hit[1]
        traffic += hit[2]
        memory += layer.out_type.numel
        peak = max(peak, layer.in_type.numel + layer.out_type.numel)
    return {"flops": flops, "params": params, "memory": memory, "peak_memory": peak, "bytes": traffic}


@dataclass(frozen=True)
class SpaceAnalysis:
    """The analysis of one space: its size, per-sample costs, their distributions, the family histogram.

    ``rows`` holds one dict per resolved sample (``digest`` plus the ``METRICS`` columns);
    ``failures`` counts samples that do not resolve at ``input`` and ``first_failure`` says why.
    """

    space: str
    size: int
    constrained: bool
    genes: int
    input: TensorType
    seed: int | None
    rows: tuple[Mapping[str, Any], ...]
    families: Mapping[str, int]
    distributions: Mapping[str, Distribution]
    failures: int = 0
    first_failure: str = ""
    seconds: float = 0.0

    @property
    def samples(self) -> int:
        return len(self.rows) + self.failures

    def frame(self) -> pd.DataFrame:
        """One row per resolved sample: ``digest`` and the ``METRICS`` columns."""
        import pandas as pd

        return pd.DataFrame(list(self.rows), columns=["digest", *METRICS])

    def to_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "size": self.size,
            "size_before_constraints": self.constrained,
            "genes": self.genes,
            "input": f"{self.input.channels}x{self.input.height}x{self.input.width}",
            "seed": self.seed,
            "samples": self.samples,
            "resolved": len(self.rows),
            "failures": self.failures,
            **({"first_failure": self.first_failure} if self.failures else {}),
            **{m: self.distributions[m].to_dict() for m in METRICS},
            "units": {m: unit for m, (unit, _) in METRICS.items()},
            "families": dict(self.families),
            "seconds": round(self.seconds, 3),
        }


def analyze_space(
    space: SearchSpace, samples: int, rng: np.random.Generator, *, seed: int | None = None
) -> SpaceAnalysis:
    """Sample ``samples`` architectures with ``rng``, resolve each at ``space.input``, and summarise.

    A sample that does not resolve at this input (say, a window that does not divide the grid) is
    counted in ``failures``; when none resolves the first error is raised.
    """
    start = time.perf_counter()
    archs = sample_architectures(space, samples, rng)
    rows: list[dict[str, Any]] = []
    specs: list[NetSpec] = []
    cache: dict[Architecture, tuple[NetSpec, dict[str, int]]] = {}
    layer_cache: CostCache = {}
    failures, first = 0, ""
    for arch in archs:
        hit = cache.get(arch)
        if hit is None:
            try:
                spec = space.resolve(arch)
            except NasError as e:
                failures += 1
                first = first or str(e)
                continue
            hit = cache[arch] = (spec, spec_costs(spec, cache=layer_cache))
        spec, costs = hit
        specs.append(spec)
        rows.append({"digest": arch.digest(), **costs})
    if not rows:
        raise NasError(f"space {space.name!r}: none of {samples} samples resolves at {space.input}: {first}")
    dists = {m: Distribution.of([r[m] for r in rows]) for m in METRICS}
    return SpaceAnalysis(
        space=space.name, size=space.size(), constrained=has_constraints(space), genes=len(space.dims),
        input=space.input, seed=seed, rows=tuple(rows), families=family_counts(specs), failures=failures,
        first_failure=first, seconds=time.perf_counter() - start, distributions=dists,
    )


def genes_frame(space: SearchSpace) -> pd.DataFrame:
    """One row per gene (dimension): name, number of choices, ordered or not, and the choices."""
    import pandas as pd

    return pd.DataFrame([{"gene": d.name, "choices": len(d.choices), "ordered": d.ordered,
                          "values": ", ".join(str(c) for c in d.choices)} for d in space.dims])
