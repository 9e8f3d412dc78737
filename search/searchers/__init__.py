"""Searchers behind the ask/tell protocol (``searcher.Searcher``) and their registry (``registry.SEARCHERS``).

A searcher knows the space, its rng and the trials it is told; it imports nothing of the loop, the run
folder or the application service."""
