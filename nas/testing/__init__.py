"""Conformance suites for plug-ins, shipped with the package (as Optuna ships its sampler tests).

A new searcher or space is conformant when these checks pass for it; ``tests/test_conformance.py``
runs them over every registered name, and a plug-in package can call them from its own tests::

    from nas.testing import searcher_checks
    for check in searcher_checks():
        check("my-searcher")

Searchers declare what they need through class attributes (``Searcher.needs_budgets``,
``needs_data``, ``benchmark``, ``spaces``, ``quick_options``); the checks read those, never names.
"""

from nas.testing.searchers import (
    ToyScore,
    check_budget_is_never_exceeded,
    check_multi_objective_front,
    check_resumes_from_state_dict,
    check_resumes_from_stored_trials,
    check_seed_determinism,
    searcher_checks,
    searcher_traits,
)
from nas.testing.spaces import check_space, run_forward, tiny_spec

__all__ = [
    "ToyScore", "check_budget_is_never_exceeded", "check_multi_objective_front", "check_resumes_from_state_dict",
    "check_resumes_from_stored_trials", "check_seed_determinism", "check_space", "run_forward", "searcher_checks",
    "searcher_traits", "tiny_spec",
]
