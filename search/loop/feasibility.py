"""Can a space meet a budget at all? Checked before a search starts, with a one-line answer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nas.errors import NasError
from nas.hw_models.budget import Budget, BudgetGate
from nas.search.loop.evaluation import CostFn
from nas.search.names import Metric
from nas.searchspace.architecture import Architecture
from nas.searchspace.space import SearchSpace


def smallest(space: SearchSpace, metric: str, costs: CostFn, rng: np.random.Generator,
             starts: int = 3, max_rounds: int = 20) -> tuple[Architecture, float]:
    """The architecture of least ``metric`` found by coordinate descent (every value of every gene,
    repeated until nothing improves) from a few random starts. Exact when the cost is a sum of
    per-gene terms, as FLOPs and params of chain networks nearly are."""
    best: tuple[Architecture, float] | None = None
    for _ in range(starts):
        cur = space.sample(rng)
        cur_v = costs(cur)[metric]
        for _ in range(max_rounds):
            improved = False
            for d in space.dims:
                for c in d.choices:
                    if c == cur.genes[d.name]:
                        continue
                    cand = Architecture(space.name, cur.genes.replace(**{d.name: c}))
                    if not space.is_valid(cand.genes):
                        continue
                    v = costs(cand)[metric]
                    if v < cur_v:
                        cur, cur_v, improved = cand, v, True
            if not improved:
                break
        if best is None or cur_v < best[1]:
            best = (cur, cur_v)
    assert best is not None
    return best


def _fmt(metric: str, v: float) -> str:
    if metric == Metric.FLOPS:
        return f"{v / 1e6:,.1f} M FLOPs"
    if metric == Metric.PARAMS:
        return f"{v / 1e6:,.3f} M params"
    return f"{v:.3g} ms"


def check_budgets(space: SearchSpace, budgets: Sequence[Budget], costs: CostFn, rng: np.random.Generator,
                  samples: int = 64) -> Architecture | None:
    """None if random samples meet every budget; else a feasible architecture found by descent.

    Raises a one-line NasError when a budget is below the smallest architecture of the space.
    """
    if not budgets:
        return None
    gate = BudgetGate(tuple(budgets))
    for _ in range(samples):
        a = space.sample(rng)
        try:
            c = costs(a)
        except NasError:  # a sample that does not resolve says nothing about the budget
            continue
        if gate.check(c).ok:
            return None
    where = f"at input {space.input.channels}x{space.input.height}x{space.input.width}"
    for b in budgets:
        _, v = smallest(space, b.metric, costs, rng)
        if not BudgetGate((b,)).check({b.metric: v}).ok:
            raise NasError(f"budget {b} cannot be met by space {space.name!r} {where}: its smallest "
                           f"architecture has {_fmt(b.metric, v)} ({b.describe()})")
    if len(budgets) == 1:
        return smallest(space, budgets[0].metric, costs, rng)[0]
    return None
