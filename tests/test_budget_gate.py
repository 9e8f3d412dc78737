"""One budget gate: ``BudgetGate.check`` is the rule, and every consumer of hard budgets asks it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from _search_helpers import ToyNB201Score

from nas.hw_models import budget as budget_mod
from nas.hw_models.budget import Budget, BudgetGate, Verdict

ROOT = Path(__file__).resolve().parents[1]
FLOPS_100 = Budget("flops", 100.0, "100-flops")


def test_gate_contract() -> None:
    gate = BudgetGate((FLOPS_100, Budget.parse("2M-params"), Budget("flops", 80.0)))
    ok = gate.check({"flops": 80.0, "params": 2e6})  # equal to the limit is allowed
    assert ok == Verdict(())
    assert ok.ok and ok.excess == 0.0 and str(ok) == ""
    v = gate.check({"flops": 120.0, "params": 4e6})
    assert not v.ok
    assert [(x.budget.metric, x.budget.limit) for x in v.violations] == [("flops", 100.0), ("params", 2e6),
                                                                          ("flops", 80.0)]
    assert v.excess == 1.0  # the largest of 120 / 100 - 1, 4e6 / 2e6 - 1, 120 / 80 - 1
    assert str(v) == "flops 120 > 100; params 4e+06 > 2e+06; flops 120 > 80"
    assert gate.limits() == {"flops": 80.0, "params": 2e6}
    assert BudgetGate().check({}).ok
    with pytest.raises(KeyError):
        gate.check({"flops": 1.0})  # a budget's metric must be among the costs


@pytest.fixture
def spy(monkeypatch):
    """Counts the gate's verdicts; the rule itself is unchanged."""
    calls: list[tuple[str, ...]] = []
    check, limits = BudgetGate.check, BudgetGate.limits

    def counting_check(self, costs):
        calls.append(tuple(b.metric for b in self.budgets))
        return check(self, costs)

    def counting_limits(self):
        calls.append(("limits",))
        return limits(self)

    monkeypatch.setattr(BudgetGate, "check", counting_check)
    monkeypatch.setattr(BudgetGate, "limits", counting_limits)
    return calls


def _consumers():
    """Every consumer of hard budgets, each run once on costs at or over a 100-FLOPs budget;
    returns what each decided."""
    from nas.search.deepmad.searcher import constraints_from
    from nas.search.loop.driver import run_search
    from nas.search.loop.evaluation import budget_violation
    from nas.search.loop.feasibility import check_budgets
    from nas.search.searchers.registry import make_searcher
    from nas.searchspace import get_space
    from nas.supernet.expected_cost import violation

    space = get_space("nb201")
    at_limit = lambda a: {"flops": 100.0}  # noqa: E731
    over = lambda a: {"flops": 150.0}  # noqa: E731
    arch = space.sample(np.random.default_rng(0))
    opts = {"convention": "analytic", "max_layers": None, "rho": None, "nondecreasing": True,
            "max_feature_map": None, "practical": True}
    loop = run_search(make_searcher("random", space, 0), ToyNB201Score(), 2, costs=over, budgets=(FLOPS_100,))
    return {
        "driver": [(t.state, t.error) for t in loop.trials],
        "budget_violation": budget_violation((FLOPS_100,), over)(arch),
        "check_budgets": check_budgets(space, (FLOPS_100,), at_limit, np.random.default_rng(0), samples=1),
        "expected_cost.violation": violation({"flops": 150.0}, (FLOPS_100,)),
        "deepmad.constraints_from": constraints_from((FLOPS_100, Budget("flops", 90.0)), None, opts, space).flops,
    }


def test_every_consumer_asks_the_gate(spy) -> None:
    out = _consumers()
    assert out["driver"] == [("infeasible", "over budget: flops 150 > 100")] * 2
    assert out["budget_violation"] == pytest.approx(0.5, abs=1e-12)
    assert out["check_budgets"] is None
    assert out["expected_cost.violation"] == pytest.approx(0.5, abs=1e-12)
    assert out["deepmad.constraints_from"] == 90.0
    # driver: one verdict per trial; budget_violation, check_budgets, expected_cost: one each; deepmad: limits
    assert spy.count(("flops",)) == 5 and spy.count(("limits",)) == 1


def test_a_rule_change_in_the_gate_changes_every_consumer(monkeypatch) -> None:
    """A stricter rule (a value equal to the limit is over it) set on ``Budget.allows`` alone reaches
    the loop and the feasibility check."""
    from nas.errors import NasError
    from nas.search.loop.driver import run_search
    from nas.search.loop.feasibility import check_budgets
    from nas.search.searchers.registry import make_searcher
    from nas.searchspace import get_space

    space = get_space("nb201")
    at_limit = lambda a: {"flops": 100.0}  # noqa: E731
    r = run_search(make_searcher("random", space, 0), ToyNB201Score(), 1, costs=at_limit, budgets=(FLOPS_100,))
    assert [t.state for t in r.trials] == ["complete"]
    monkeypatch.setattr(Budget, "allows", lambda self, v: v < self.limit)
    r = run_search(make_searcher("random", space, 0), ToyNB201Score(), 1, costs=at_limit, budgets=(FLOPS_100,))
    assert [t.state for t in r.trials] == ["infeasible"]
    with pytest.raises(NasError, match="cannot be met"):
        check_budgets(space, (FLOPS_100,), at_limit, np.random.default_rng(0), samples=1)


def test_no_budget_rule_outside_the_gate() -> None:
    """``Budget.allows`` and the relative excess ``value / limit - 1`` are called only in
    ``hw_models/budget.py``; every other module goes through ``BudgetGate``."""
    rule = re.compile(r"\.allows\(|\.limit\s*-\s*1\b")
    folders = ("nas", "searchspace", "hw_models", "predictors", "search", "supernet", "training", "experiments")
    hits = [f"{p.relative_to(ROOT)}:{i}" for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if rule.search(line) and p != Path(budget_mod.__file__)]
    assert not hits, f"budget rules outside BudgetGate: {hits}"
