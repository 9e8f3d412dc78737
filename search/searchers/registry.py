"""The searcher registry. ``SEARCHERS.get(name)(space, rng, **options)`` gives a ``Searcher``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nas.searchspace.registry import Registry


def _load_builtin_searchers() -> None:
    from importlib import import_module
    from pkgutil import iter_modules

    import nas.search.searchers as pkg

    skip = {"registry", "searcher"}
    for m in iter_modules(pkg.__path__):
        if not m.name.startswith("_") and m.name not in skip:
            import_module(f"nas.search.searchers.{m.name}")
    import_module("nas.search.deepmad.searcher")


SEARCHERS: Registry[Callable[..., Any]] = Registry("searcher", loader=_load_builtin_searchers)


def make_searcher(name: str, space, rng: np.random.Generator | int | None = None, **options: Any):
    """Build the registered searcher ``name`` (a one-line NasError lists the names on a typo)."""
    return SEARCHERS.get(name)(space, rng, **options)
