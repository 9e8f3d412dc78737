"""Benchmark harnesses on external tables: NAS-Bench-201 lookups (``nb201_table``, ``benchmark``) and the
differentiable searchers on NB201 (``darts_bench``)."""
