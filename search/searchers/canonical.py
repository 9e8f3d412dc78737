"""Canonical forms of architectures that compute the same function (so a search queries one of them).

For ``nb201`` a cell is a DAG over nodes 0..3 (3 is the output); an edge whose op is ``none`` carries
nothing. An intermediate node that no non-``none`` path reaches from the input, or that reaches the
output by no non-``none`` path, contributes nothing to the cell's output: every edge into or out of
it is equivalent to ``none``. The canonical form sets those edges to ``none`` (the cheapest member of
the class). Spaces without a rule are their own canonical form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams

_NB201_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))


def canonical_nb201(arch: Architecture) -> Architecture:
    """The NB201 cell with every edge of a dead node (unreachable from the input, or not reaching
    the output) set to ``none``."""
    genes = dict(arch.genes)
    live = {(i, j) for i, j in _NB201_EDGES if genes[f"edge{i}{j}"] != "none"}
    reach_in = {0}
    for j in (1, 2, 3):
        if any((i, j) in live and i in reach_in for i in range(j)):
            reach_in.add(j)
    reach_out = {3}
    for i in (2, 1, 0):
        if any((i, j) in live and j in reach_out for j in range(i + 1, 4)):
            reach_out.add(i)
    useful = reach_in & reach_out
    changed = False
    for i, j in _NB201_EDGES:
        g = f"edge{i}{j}"
        if genes[g] != "none" and not (i in useful and j in useful):
            genes[g] = "none"
            changed = True
    return Architecture(arch.space, HParams(genes)) if changed else arch


CANONICAL: Mapping[str, Callable[[Architecture], Architecture]] = {"nb201": canonical_nb201}


def canonical(arch: Architecture) -> Architecture:
    """The canonical member of ``arch``'s equivalence class (``arch`` itself without a rule)."""
    rule = CANONICAL.get(arch.space)
    return rule(arch) if rule else arch
