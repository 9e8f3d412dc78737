"""Training-free scores of a resolved network, and their registry.

A score maps a NetSpec (and, for data-dependent proxies, the built module) to one float where higher
is better. DeepMAD's entropy, zero-cost proxies (synflow, ...) and simple baselines register here so
that ``nas search --score NAME`` and the searchers can use any of them.
"""

from __future__ import annotations

from typing import Protocol

from nas.searchspace.netspec import NetSpec
from nas.searchspace.registry import Registry


class Score(Protocol):
    """Contract: ``name``; ``__call__(spec) -> float`` (higher is better), deterministic for a given spec
    (proxies that need random inputs take a seed at construction); ``description`` says what it is."""

    name: str
    description: str

    def __call__(self, spec: NetSpec) -> float: ...


def _load_builtin_scores() -> None:
    from importlib import import_module
    from pkgutil import iter_modules

    import nas.predictors as pkg

    for m in iter_modules(pkg.__path__):
        if not m.name.startswith("_") and m.name != "score":
            import_module(f"nas.predictors.{m.name}")


SCORES: Registry[type] = Registry("score", loader=_load_builtin_scores)
"""Score classes by name; ``SCORES.get(name)(**options)`` gives a ``Score``."""
