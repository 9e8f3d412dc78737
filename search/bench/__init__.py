"""Benchmark harnesses: NAS-Bench-201 lookups and the NB201 search benchmark (``nb201_lookup``,
``benchmark``), the differentiable searchers on NB201 (``darts_bench``), ``nas bench train``
(``train_bench``: sampled networks of every space trained with one schedule) and ``nas bench supernet``
(``supernet_bench``: parity, step cost, ranking, inheritance and DDP of a supernet)."""
