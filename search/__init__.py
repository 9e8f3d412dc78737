"""Searchers behind one ask/tell protocol, the driver, and results (``nas.search``).

    from nas.search import make_searcher, run_search
    searcher = make_searcher("evolution", space, seed, objectives=("score",))
    result = run_search(searcher, evaluator, n_trials=200)   # SearchResult
    result.pareto_front(), result.to_dataframe()

Optuna and Ray are imported only when a searcher or store that needs them is used.
"""

from nas.search.loop.driver import SearchLoop, run_search
from nas.search.loop.evaluation import Evaluation, Evaluator, budget_violation
from nas.search.results.storage import MemoryStore, OptunaStore, TrialStore, sqlite_url
from nas.search.searchers.registry import SEARCHERS, make_searcher
from nas.search.searchers.searcher import Searcher
from nas.search.trial import SearchResult, Trial, hypervolume

__all__ = [
    "SEARCHERS",
    "Evaluation",
    "Evaluator",
    "MemoryStore",
    "OptunaStore",
    "SearchLoop",
    "SearchResult",
    "Searcher",
    "Trial",
    "TrialStore",
    "budget_violation",
    "hypervolume",
    "make_searcher",
    "run_search",
    "sqlite_url",
]
