"""The evolutionary solver DeepMAD's released code uses, on the same grid model and score, for comparison.

TinyNAS's search (``configs/classification/deepmad_R50_FLOPs.py``): a population of the best 256
networks; each step mutates one attribute of one stage of a random member (widths by a factor
from {1.5, 1.25, 0.8, 0.6, 0.5}, depth by ±1 or ±2, kernel, block type), rejects it when a budget
is violated, and keeps it when it beats the population's worst. Every generated candidate counts
towards the budget of candidates, feasible or not, as in TinyNAS.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field

import numpy as np

from nas.search.deepmad.problem import DeepMADConstraints, GridModel, sizes

WIDTH_FACTORS = (1.5, 1.25, 0.8, 0.6, 0.5)
DEPTH_STEPS = (-2, -1, 1, 2)


@dataclass
class EAResult:
    """The EA's best row and score, the top of its population, and its counters."""

    best_row: np.ndarray
    best_score: float
    population: list[tuple[float, np.ndarray]]
    candidates: int
    feasible: int
    seconds: float
    trace: list[tuple[int, float]] = field(default_factory=list)   # (candidates so far, best score)


class DeepMADEvolution:
    """Steady-state evolution over a grid model, TinyNAS-style (see the module docstring).

    Contract: ``run(n_candidates, rng)`` generates exactly ``n_candidates`` mutants (the seed row
    counts as the first), evaluates each with the model's exact metrics, and returns the best
    feasible row found. Same seed, same model, same constraints: same result.
    """

    def __init__(self, model: GridModel, cons: DeepMADConstraints, population: int = 256,
                 flops_cap: float | None = None) -> None:
        self.model, self.cons, self.capacity, self.flops_cap = model, cons, population, flops_cap
        self.n_choices = sizes(model)
        self.ordered = np.array([d.ordered for d in model.dims], dtype=bool)
        values = model.values  # type: ignore[attr-defined]
        self.kind = []
        for i, d in enumerate(model.dims):
            name = d.name.split("_", 1)[-1]
            if not d.ordered:
                self.kind.append("choice")
            elif name in ("depth",):
                self.kind.append("depth")
            elif name in ("out", "mid", "width", "stem") or d.name == "stem":
                self.kind.append("width")
            else:
                self.kind.append("choice")
        self.values = [np.asarray(v, dtype=np.float64) for v in values]
        self.groups = self._groups()

    def _groups(self) -> list[list[int]]:
        """Gene columns per stage (prefix before the first '_'); TinyNAS mutates one stage at a time."""
        by: dict[str, list[int]] = {}
        for i, d in enumerate(self.model.dims):
            if len(d.choices) > 1:
                by.setdefault(d.name.split("_", 1)[0], []).append(i)
        return list(by.values())

    def seed_row(self) -> np.ndarray:
        """The smallest network of the space: every ordered gene at its first choice."""
        return self.model.canonical(np.zeros((1, len(self.model.dims)), dtype=np.int64))[0]

    def mutate(self, row: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        child = row.copy()
        group = self.groups[int(rng.integers(len(self.groups)))]
        i = group[int(rng.integers(len(group)))]
        n = int(self.n_choices[i])
        kind = self.kind[i]
        if kind == "width":
            target = self.values[i][row[i]] * WIDTH_FACTORS[int(rng.integers(len(WIDTH_FACTORS)))]
            j = int(np.argmin(np.abs(self.values[i] - target)))
            if j == row[i]:  # the factor rounded back to the same grid value: take one step
                j = min(n - 1, j + 1) if target > self.values[i][row[i]] else max(0, j - 1)
            child[i] = j
        elif kind == "depth":
            child[i] = int(np.clip(row[i] + DEPTH_STEPS[int(rng.integers(len(DEPTH_STEPS)))], 0, n - 1))
        else:
            j = int(rng.integers(n - 1))
            child[i] = j if j < row[i] else j + 1
        return self.model.canonical(child[None])[0]

    def run(self, n_candidates: int, rng: np.random.Generator, seed: np.ndarray | None = None,
            trace_every: int = 0) -> EAResult:
        t0 = time.perf_counter()
        start = self.seed_row() if seed is None else np.asarray(seed, dtype=np.int64)
        heap: list[tuple[float, int, bytes]] = []   # min-heap of (score, tiebreak, row bytes)
        members: dict[bytes, tuple[float, np.ndarray]] = {}
        tick = 0
        best: tuple[float, np.ndarray] | None = None
        feasible = 0
        trace: list[tuple[int, float]] = []
        for c in range(n_candidates):
            if c == 0:
                child = start
            else:
                keys = list(members)
                parent = members[keys[int(rng.integers(len(keys)))]][1] if keys else start
                child = self.mutate(parent, rng)
            key = child.tobytes()
            if key in members:
                continue
            m = self.model.evaluate(child[None])
            if self.cons.violation(m, self.flops_cap)[0] > 0.0:
                continue
            feasible += 1
            s = float(m["score"][0])
            if best is None or s > best[0]:
                best = (s, child)
            if len(heap) < self.capacity:
                tick += 1
                heapq.heappush(heap, (s, tick, key))
                members[key] = (s, child)
            elif s > heap[0][0]:
                tick += 1
                _, _, old = heapq.heapreplace(heap, (s, tick, key))
                del members[old]
                members[key] = (s, child)
            if trace_every and (c + 1) % trace_every == 0:
                trace.append((c + 1, best[0]))
        if best is None:
            raise_no_feasible(self.model)
        pop = sorted(members.values(), key=lambda t: -t[0])
        return EAResult(best[1], best[0], pop, n_candidates, feasible, time.perf_counter() - t0, trace)


def raise_no_feasible(model: GridModel) -> None:
    from nas.errors import NasError

    raise NasError("the evolutionary solver found no feasible network: even the smallest network of the "
                   "space breaks a constraint; loosen the budget")
