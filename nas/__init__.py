"""nas: neural architecture search under real hardware budgets.

The public API, imported lazily so that ``nas --help`` stays fast::

    import nas
    space = nas.get_space("hybrid")
    arch = space.sample(numpy.random.default_rng(0))
    spec = space.resolve(arch)
    nas.analytic_costs(spec).flops
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Architecture": "nas.searchspace",
    "HParams": "nas.searchspace",
    "Layout": "nas.searchspace",
    "NetSpec": "nas.searchspace",
    "OPS": "nas.searchspace",
    "OpSpec": "nas.searchspace",
    "SPACES": "nas.searchspace",
    "SearchSpace": "nas.searchspace",
    "TensorType": "nas.searchspace",
    "get_space": "nas.searchspace",
    "load_architecture": "nas.searchspace",
    "save_architecture": "nas.searchspace",
    "reference_net": "nas.searchspace.reference",
    "REFERENCES": "nas.searchspace.reference",
    "Budget": "nas.hw_models",
    "Costs": "nas.hw_models",
    "analytic_costs": "nas.hw_models",
    "NasError": "nas.errors",
    "SearchConfig": "nas.search.app.config",
    "make_searcher": "nas.search",
    "run_search": "nas.search",
    "SearchResult": "nas.search",
    "RunResult": "nas.search.app.result",
    "Trial": "nas.search",
    "SEARCHERS": "nas.search",
    "get_target": "nas.hw_models.targets",
    "SCORES": "nas.predictors.score",
    "load_model": "nas.supernet.export",
    "build_supernet": "nas.supernet",
}

__all__ = list(_EXPORTS)  # noqa: PLE0605
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'nas' has no attribute {name!r}")
