"""The shipped conformance suites (``nas.testing``) over every registered searcher and space: a searcher
or space registered later is covered without touching this file."""

from __future__ import annotations

import numpy as np
import pytest
from _benchmark_data import load_benchmark

from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Searcher
from nas.searchspace import SPACES, Architecture
from nas.testing import (
    check_budget_is_never_exceeded,
    check_multi_objective_front,
    check_seed_determinism,
    check_space,
    searcher_checks,
    searcher_traits,
)

SEARCHER_NAMES = SEARCHERS.names()


def _runnable(name: str) -> None:
    """Skip a searcher that trains on a dataset (declared by ``needs_data``); make sure the tabular
    benchmark a searcher declares is there (skips locally, fails under CI=true)."""
    traits = searcher_traits(name)
    if traits.needs_data:
        pytest.skip(f"searcher {name!r} trains on a dataset (needs_data): not runnable without --data")
    if traits.benchmark == "nb201":
        from nas.searchspace.spaces.nb201_table import NB201Table

        load_benchmark(NB201Table.load)


def test_every_registered_searcher_is_checked() -> None:
    assert {"random", "evolution", "local", "nsga2", "hvi", "proxy-local", "deepmad", "optuna-tpe"} <= set(
        SEARCHER_NAMES)
    assert all(searcher_traits(n).cls for n in SEARCHER_NAMES)


@pytest.mark.parametrize("check", searcher_checks(), ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("name", SEARCHER_NAMES)
def test_searcher_conforms(name: str, check) -> None:
    _runnable(name)
    check(name)


@pytest.mark.parametrize("name", [n for n in SEARCHER_NAMES if searcher_traits(n).multi_objective])
def test_multi_objective_searcher_returns_a_front(name: str) -> None:
    _runnable(name)
    check_multi_objective_front(name)


@pytest.mark.parametrize("name", SPACES.names())
def test_space_conforms(name: str) -> None:
    check_space(name, samples=8)


class _Unseeded(Searcher):
    """Breaks the contract: draws from a generator of its own, whatever the seed."""

    name = "unseeded"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.own = np.random.default_rng()

    def ask(self) -> Architecture:
        return self._mark(self.space.sample(self.own))


class _Unconstrained(Searcher):
    """Breaks the contract: ignores its constraint."""

    name = "unconstrained"

    def ask(self) -> Architecture:
        return self._mark(self.space.sample(self.rng))


@pytest.mark.parametrize(("cls", "check", "message"), [
    (_Unseeded, check_seed_determinism, "the same seed gave other trials"),
    (_Unconstrained, check_budget_is_never_exceeded, "asked architectures over its constraint"),
])
def test_checks_catch_a_searcher_that_breaks_the_contract(monkeypatch, cls, check, message) -> None:
    monkeypatch.setitem(SEARCHERS._items, cls.name, cls)
    with pytest.raises(AssertionError, match=f"{cls.name}: {message}"):
        check(cls.name)
