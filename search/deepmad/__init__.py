"""DeepMAD: network design by a mathematical program (``design``) over a space's grid model
(``resnet``, ``hybrid``), its costs (``costs``), constraints and score (``problem``), the integer
program (``program``), the TinyNAS-style evolution (``ea``), and the ``deepmad`` searcher (``searcher``)."""

from nas.search.deepmad.searcher import SOLVERS, DeepMADSearcher, constraints_from

__all__ = ["SOLVERS", "DeepMADSearcher", "constraints_from"]
