"""Which subnets a supernet step trains: uniform, FLOPs-stratified or op-fair draws, plus the sandwich
extremes. Every sampler's ``draw(rng, n)`` gives the ``n`` random subnets of one step."""

from __future__ import annotations

import numpy as np

from nas.errors import NasError
from nas.hw_models.analytic import flops
from nas.searchspace.architecture import Architecture
from nas.searchspace.space import SearchSpace
from nas.supernet.network import runnable_arch

SAMPLERS = ("uniform", "flops", "fair")


class _DrawEach:
    """``draw``: ``n`` independent ``sample`` calls."""

    def sample(self, rng: np.random.Generator) -> Architecture:
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, n: int) -> list[Architecture]:
        return [self.sample(rng) for _ in range(n)]


class UniformSampler(_DrawEach):
    """Every gene drawn by the space's own ``sample`` (uniform over each dimension's choices)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    def sample(self, rng: np.random.Generator) -> Architecture:
        return self.space.sample(rng)


class FlopsStratifiedSampler(_DrawEach):
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


class FairSampler:
    """Strict fairness over operation choices (the idea of Chu et al.'s FairNAS): within one step, every
    unordered gene (an op choice) runs through a fresh random permutation of its choices, so with
    ``n`` equal to the number of choices each op is trained exactly once per step (cycled when ``n`` is
    larger); ordered genes (depth, width, ...) are drawn uniformly. Uniform draws train some ops more
    often than others within a step, and the ops a supernet trains more are the ones it overrates.
    A combination the space cannot run is redrawn in its ordered genes (``tries`` times), then replaced
    by a uniform draw."""

    def __init__(self, space: SearchSpace, tries: int = 100) -> None:
        self.space, self.tries = space, tries

    def draw(self, rng: np.random.Generator, n: int) -> list[Architecture]:
        dims = self.space.dims
        perms = {d.name: [d.choices[i] for i in rng.permutation(len(d.choices))] for d in dims if not d.ordered}
        out: list[Architecture] = []
        for j in range(n):
            a = None
            for _ in range(self.tries):
                genes = {d.name: perms[d.name][j % len(d.choices)] if not d.ordered
                         else d.choices[int(rng.integers(len(d.choices)))] for d in dims}
                a = runnable_arch(self.space, genes)
                if a is not None:
                    break
            out.append(a if a is not None else self.space.sample(rng))
        return out


def make_sampler(name: str, space: SearchSpace,
                 seed: int = 0) -> UniformSampler | FlopsStratifiedSampler | FairSampler:
    if name == "uniform":
        return UniformSampler(space)
    if name == "flops":
        return FlopsStratifiedSampler(space, seed=seed)
    if name == "fair":
        return FairSampler(space)
    raise NasError(f"sampler {name!r} not allowed; allowed: {', '.join(SAMPLERS)}")
