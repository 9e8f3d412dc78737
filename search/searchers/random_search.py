"""Random search: uniform feasible samples, never the same architecture twice when avoidable."""

from __future__ import annotations

from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Searcher
from nas.searchspace.architecture import Architecture


@SEARCHERS.register("random")
class RandomSearch(Searcher):
    """Uniform random search over the space (any number of objectives; ignores what it is told)."""

    name = "random"
    multi_objective = True

    def ask(self) -> Architecture:
        return self.sample()
