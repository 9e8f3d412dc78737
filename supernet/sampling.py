"""Which subnets a supernet step trains: uniform or FLOPs-stratified draws, plus the sandwich extremes."""

from __future__ import annotations

import numpy as np

from nas.errors import NasError
from nas.hw_models.analytic import flops
from nas.searchspace.architecture import Architecture
from nas.searchspace.space import SearchSpace

SAMPLERS = ("uniform", "flops")


class UniformSampler:
    """Every gene drawn by the space's own ``sample`` (uniform over each dimension's choices)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    def sample(self, rng: np.random.Generator) -> Architecture:
        return self.space.sample(rng)


class FlopsStratifiedSampler:
    """Equal chances for each of ``strata`` FLOPs bands: the band edges are quantiles of ``probe``
    uniform draws (seeded, so every process and every resume sees the same bands); a draw picks a band
    uniformly, then draws uniform architectures until one falls in it (at most ``tries``; the last
    draw otherwise). Uniform draws crowd the middle of the FLOPs range; this spreads training over it."""

    def __init__(self, space: SearchSpace, strata: int = 5, probe: int = 300, tries: int = 200,
                 seed: int = 0) -> None:
        if strata < 1:
            raise NasError(f"strata={strata} not allowed; give an integer >= 1")
        self.space, self.tries = space, tries
        rng = np.random.default_rng(seed)
        values = np.array([self.flops(space.sample(rng)) for _ in range(probe)], dtype=np.float64)
        self.edges = np.quantile(values, np.linspace(0.0, 1.0, strata + 1))

    def flops(self, a: Architecture) -> int:
        return flops(self.space.resolve(a))

    def sample(self, rng: np.random.Generator) -> Architecture:
        k = int(rng.integers(len(self.edges) - 1))
        lo, hi = self.edges[k], self.edges[k + 1]
        a = self.space.sample(rng)
        for _ in range(self.tries):
            if lo <= self.flops(a) <= hi:
                return a
            a = self.space.sample(rng)
        return a


def make_sampler(name: str, space: SearchSpace, seed: int = 0) -> UniformSampler | FlopsStratifiedSampler:
    if name == "uniform":
        return UniformSampler(space)
    if name == "flops":
        return FlopsStratifiedSampler(space, seed=seed)
    raise NasError(f"sampler {name!r} not allowed; allowed: {', '.join(SAMPLERS)}")
