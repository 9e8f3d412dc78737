"""DeepMAD's structural rules (DeepMADConstraints.practical): resolution-aware kernels and depths, minimum
mid widths; the restricted grid model stays exact, designs obey every rule, and the rules are opt-in."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nas.hw_models.analytic import analytic_costs
from nas.predictors.deepmad import breakdown
from nas.search.deepmad.design import design
from nas.search.deepmad.problem import DeepMADConstraints
from nas.search.deepmad.resnet import PRACTICAL, ResNetModel
from nas.searchspace import TensorType, get_space

SIDES_28 = {1: 7, 2: 4, 3: 2, 4: 2, 5: 1}  # each stage's output side at 1x28x28 (stem stride 2)


@pytest.fixture(scope="module")
def space28():
    return get_space("resnet", input=TensorType.map(1, 28, 28), num_classes=10)


def test_restricted_grid_keeps_only_allowed_choices_and_stays_exact(space28) -> None:
    model = ResNetModel(space28, rules=PRACTICAL)
    dims = {d.name: d.choices for d in model.dims}
    for s, side in SIDES_28.items():
        assert max(dims[f"s{s}_kernel"]) <= max(3, side)
        assert max(dims[f"s{s}_depth"]) == max(1, side)
        assert min(dims[f"s{s}_mid"]) == 16
    assert dims["s1_kernel"] == (3, 5, 7) and dims["s5_depth"] == (1,)
    rng = np.random.default_rng(0)
    n = np.array([len(d.choices) for d in model.dims])
    rows = rng.integers(0, n, size=(12, len(n)))
    m = model.evaluate(rows)
    for i, row in enumerate(rows):
        arch = model.arch(row)
        spec = space28.resolve(arch)
        assert m["flops_analytic"][i] == analytic_costs(spec).flops
        assert math.isclose(m["score"][i], breakdown(spec).score, rel_tol=1e-9)
        ratio = sum(max(arch.genes[f"s{s}_out"] / (4 * arch.genes[f"s{s}_mid"]) - 1, 0) for s in SIDES_28)
        assert math.isclose(m["mid_excess"][i], ratio, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("budget", [1e6, 0.6e6])
def test_practical_designs_obey_every_rule(space28, budget) -> None:
    d = design(space28, DeepMADConstraints(flops=budget, rho=0.5, practical=True), rng=0, top_k=3)
    assert d.verified["flops"] <= budget
    for _, a in d.top:
        g = a.genes
        for s, side in SIDES_28.items():
            assert g[f"s{s}_kernel"] <= max(3, side) and g[f"s{s}_depth"] <= max(1, side)
            assert g[f"s{s}_mid"] >= 16 and 4 * g[f"s{s}_mid"] >= g[f"s{s}_out"]


def test_rules_are_opt_in(space28) -> None:
    """Without them the program's grid is the space's (the published DeepMAD-R50 setting is unchanged)."""
    assert ResNetModel(space28).dims == space28.dims
    assert DeepMADConstraints().practical is False
