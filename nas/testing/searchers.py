"""Conformance checks every registered searcher must pass (``Searcher``'s contract, made executable).

Each check takes a registered searcher name, runs a few cheap trials of the toy evaluator through the
real driver (``run_search``) and raises AssertionError naming the searcher when the contract breaks.
What a searcher needs is read from its class (or, for a factory, from attributes on the factory):
``needs_budgets`` (it designs under the budgets: the checks pass it one), ``needs_data`` (it trains
networks on a dataset: the checks cannot run it; callers skip it), ``benchmark`` (a tabular benchmark
it reads, e.g. ``"nb201"``: callers make sure the data is there), ``spaces`` (the spaces it supports;
the checks use the first, or ``nb201``) and ``quick_options`` (options that make a dozen trials cheap
while still exercising the searcher's adaptive part).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nas.hw_models.budget import Budget
from nas.searchspace import Architecture, get_space
from nas.searchspace.space import SearchSpace

DEFAULT_SPACE = "nb201"
N_TRIALS = 10


@dataclass(frozen=True)
class ToyScore:
    """The cheapest evaluator: a fixed pseudo-random ``score`` in [0, 1) per architecture (from its digest)
    and a second objective ``cost`` in [0, 1) to minimise; nothing is built or trained."""

    def __call__(self, arch: Architecture) -> dict[str, float]:
        h = hashlib.sha256(arch.digest().encode()).digest()
        return {"score": int.from_bytes(h[:4], "big") / 2**32, "cost": int.from_bytes(h[4:8], "big") / 2**32}


@dataclass
class _Recording:
    """An evaluator that remembers which architectures it was asked to evaluate."""

    inner: Callable[[Architecture], Mapping[str, float]]
    evaluated: list[Architecture] = field(default_factory=list)

    def __call__(self, arch: Architecture) -> Mapping[str, float]:
        self.evaluated.append(arch)
        return self.inner(arch)


@dataclass(frozen=True)
class SearcherTraits:
    """What the conformance checks need to know about one registered searcher."""

    name: str
    cls: type
    needs_budgets: bool
    needs_data: bool
    benchmark: str | None
    spaces: tuple[str, ...] | None
    quick_options: Mapping[str, Any]
    multi_objective: bool

    @property
    def space_name(self) -> str:
        if self.benchmark:
            return self.benchmark
        return self.spaces[0] if self.spaces else DEFAULT_SPACE


def searcher_traits(name: str) -> SearcherTraits:
    """The traits of the registered searcher ``name``: from its class, overridden by attributes of its
    factory function when it is registered as one (``factory.searcher_class`` names the class)."""
    from nas.search.searchers.registry import SEARCHERS

    entry = SEARCHERS.get(name)
    cls = entry if isinstance(entry, type) else getattr(entry, "searcher_class", None)
    if cls is None:
        raise AssertionError(f"searcher {name!r} is registered as a factory without a `searcher_class` attribute")

    def trait(attr: str, default: Any) -> Any:
        return getattr(entry, attr, getattr(cls, attr, default))

    spaces = trait("spaces", None)
    return SearcherTraits(name, cls, bool(trait("needs_budgets", False)), bool(trait("needs_data", False)),
                          trait("benchmark", None), tuple(spaces) if spaces else None,
                          dict(trait("quick_options", {})), bool(trait("multi_objective", False)))


@dataclass
class _Setup:
    traits: SearcherTraits
    space: SearchSpace
    costs: Any
    budgets: tuple[Budget, ...]

    def searcher(self, seed: int, objectives: Sequence[str] = ("score",),
                 directions: Sequence[str] = ("maximize",), budgets: bool | None = None):
        """A fresh searcher, configured as a run configures it (``nas.search.app.run.Plan.searcher``)."""
        from nas.search.loop.evaluation import budget_violation
        from nas.search.searchers.registry import make_searcher

        use = self.budgets if (budgets or (budgets is None and self.traits.needs_budgets)) else ()
        extra = {"budgets": use, "target": None} if self.traits.needs_budgets else {}
        return make_searcher(self.traits.name, self.space, np.random.default_rng(seed), objectives=objectives,
                             directions=directions, constraint=budget_violation(use, self.costs) if use else None,
                             **extra, **self.traits.quick_options)

    def run(self, seed: int, n: int, *, budgets: bool | None = None, store=None, evaluator=None, **kw):
        from nas.search.loop.driver import run_search

        use = self.budgets if (budgets or (budgets is None and self.traits.needs_budgets)) else ()
        s = self.searcher(seed, budgets=budgets, **kw)
        return run_search(s, evaluator or ToyScore(), n, costs=self.costs, budgets=use, store=store)


def _setup(name: str) -> _Setup:
    """The searcher's space with a FLOPs budget at the median of 16 seeded samples (so about half the
    space is over it)."""
    from nas.search.app.space_eval import SpaceCosts
    from nas.search.space_ref import SpaceRef

    traits = searcher_traits(name)
    if traits.needs_data:
        raise AssertionError(f"searcher {name!r} needs a dataset (needs_data); the conformance checks cannot run it")
    space = get_space(traits.space_name)
    costs = SpaceCosts(SpaceRef(space.name))
    rng = np.random.default_rng(0)
    limit = float(np.median([costs(space.sample(rng))["flops"] for _ in range(16)]))
    return _Setup(traits, space, costs, (Budget("flops", limit, f"{limit:.0f}-flops"),))


def _essence(trials) -> list[tuple]:
    """What a run decides (everything but the measured durations)."""
    return [(t.number, t.arch, t.state, t.values, dict(t.scores), dict(t.costs)) for t in trials]


def check_seed_determinism(name: str, n_trials: int = N_TRIALS) -> None:
    """Same seed, same trials; another seed, other trials; every asked architecture is in the space, and
    none is asked twice."""
    s = _setup(name)
    a, b, c = (s.run(seed, n_trials).trials for seed in (3, 3, 4))
    assert len(a) == n_trials, f"{name}: {len(a)} trials of {n_trials}"
    assert _essence(a) == _essence(b), f"{name}: the same seed gave other trials"
    assert [t.arch for t in a] != [t.arch for t in c], f"{name}: seeds 3 and 4 gave the same architectures"
    assert all(s.space.contains(t.arch) for t in a + c), f"{name}: asked an architecture outside {s.space.name!r}"
    assert len({t.arch for t in a}) == len(a), f"{name}: asked an architecture twice in {n_trials} trials"


def check_resumes_from_state_dict(name: str, n_told: int = 6, n_more: int = 4) -> None:
    """``load_state_dict`` of a JSON round trip of ``state_dict()`` continues exactly as the original."""
    from nas.search.trial import Trial

    s = _setup(name)
    f = ToyScore()
    a = s.searcher(7)
    for i in range(n_told):
        arch = a.ask()
        a.tell(Trial(i, arch, values=(f(arch)["score"],)))
    b = s.searcher(7)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    for i in range(n_told, n_told + n_more):
        x, y = a.ask(), b.ask()
        assert x == y, f"{name}: ask {i} after load_state_dict differs from the original searcher's"
        t = Trial(i, x, values=(f(x)["score"],))
        a.tell(t)
        b.tell(t)


def check_resumes_from_stored_trials(name: str, first: int = 4, n_trials: int = N_TRIALS) -> None:
    """A run resumed from the stored trials of an interrupted one (a fresh searcher, same seed) ends with
    the trials of an uninterrupted run, and evaluates none of the stored architectures again."""
    from nas.search.results.storage import MemoryStore

    s = _setup(name)
    store = MemoryStore()
    s.run(5, first, store=store)
    again = _Recording(ToyScore())
    resumed = s.run(5, n_trials, store=store, evaluator=again)
    straight = s.run(5, n_trials)
    assert _essence(resumed.trials) == _essence(straight.trials), f"{name}: the resumed run differs"
    assert len(again.evaluated) <= n_trials - first, f"{name}: the resumed run re-evaluated stored trials"


def check_budget_is_never_exceeded(name: str, n_trials: int = N_TRIALS) -> None:
    """Under a FLOPs budget that half the space exceeds, nothing over it is evaluated, and the searcher
    (given the budget as its constraint) asks only architectures within it."""
    s = _setup(name)
    rec = _Recording(ToyScore())
    r = s.run(0, n_trials, budgets=True, evaluator=rec)
    limit = s.budgets[0].limit
    over = [a.digest() for a in rec.evaluated if s.costs(a)["flops"] > limit]
    assert rec.evaluated and not over, f"{name}: evaluated {over} over the {limit:.4g}-FLOPs budget"
    states = [t.state for t in r.trials]
    assert states == ["complete"] * len(states), f"{name}: asked architectures over its constraint: {states}"


def check_multi_objective_front(name: str, n_trials: int = N_TRIALS) -> None:
    """A multi-objective searcher returns complete trials with one value per objective."""
    from nas.search.trial import nondominated_mask

    s = _setup(name)
    r = s.run(0, n_trials, objectives=("score", "cost"), directions=("maximize", "minimize"))
    assert len(r) == n_trials and all(t.complete and len(t.values) == 2 for t in r.trials), name
    pts = np.array([[-t.values[0], t.values[1]] for t in r.pareto_front()])
    assert len(pts) and nondominated_mask(pts).all(), name


def searcher_checks() -> tuple[Callable[[str], None], ...]:
    """Every check a registered searcher must pass (``check_multi_objective_front`` only for
    searchers with ``multi_objective``)."""
    return (check_seed_determinism, check_resumes_from_state_dict, check_resumes_from_stored_trials,
            check_budget_is_never_exceeded)
