"""The nb201-darts benchmark: differentiable searchers on NB201 cells, the derived cells looked up in the table,
and the cost of a search epoch against a training epoch of one network of the same size."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from nas.training.datasets import DatasetSplits


def train_epoch_cost(net: nn.Module, data: DatasetSplits, batch_size: int, lr: float = 0.025,
                     seed: int = 0) -> tuple[float, float]:
    """(seconds, peak tensor MB) of one epoch of plain SGD training of ``net`` on ``data.train``, measured
    like a search epoch (saved-for-backward bytes + weights, gradients and optimizer state)."""
    from nas.search.searchers.darts_engine import _SavedBytes, measured_forward, state_bytes

    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=3e-4)
    gen = torch.Generator().manual_seed(seed)
    meter, peak = _SavedBytes(), 0
    loss_fn = nn.CrossEntropyLoss()
    n = len(data.train)
    steps = max(1, n // batch_size)
    order = torch.randperm(n, generator=gen)
    net.train()
    t0 = time.perf_counter()
    for s in range(steps):
        idx = order[s * batch_size:(s + 1) * batch_size]
        x, y = data.train.x[idx], data.train.y[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(measured_forward(lambda: net(x), meter), y)
        loss.backward()
        opt.step()
        peak = max(peak, meter.peak)
    seconds = time.perf_counter() - t0
    return seconds, (peak + state_bytes(net, opt)) / 2**20


def nb201_darts_rows(methods: Sequence[str], seeds: int, data: str, epochs: int, train_size: int, channels: int,
                     cells: int, options: Mapping[str, Any], *, cost: bool = False, benchmarks: str | None = None,
                     log: Callable[[str], None] = print) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One row per (method, seed): method, seed, arch, cifar10_test, search_seconds, peak_memory_mb; then
    one summary row per method (mean ± std of cifar10_test) and, with ``cost``, the cost ratios."""
    from nas.search.searchers.darts import load_search_data
    from nas.search.searchers.registry import make_searcher
    from nas.searchspace.spaces.nb201 import NB201Space
    from nas.searchspace.spaces.nb201_table import NB201Table

    table = NB201Table.load(benchmarks, latency=False)
    space = NB201Space()
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for method in methods:
        name, extra = ("darts", {"order": 2}) if method == "darts-2nd" else (method, {})
        accs = []
        for seed in range(seeds):
            opts = {"data": data, "epochs": epochs, "train_size": train_size, "channels": channels, "cells": cells,
                    **extra, **dict(options)}
            s = make_searcher(name, space, np.random.default_rng(seed), **opts)
            arch = s.search(progress=False)
            acc = float(table.test("cifar10")[table.index(arch)])
            accs.append(acc)
            rep = s.report
            rows.append({"method": method, "seed": seed, "arch": space.to_string(arch), "cifar10_test": acc,
                         "search_seconds": round(rep["search_seconds"], 2),
                         "peak_memory_mb": round(rep["peak_memory_mb"], 2), "epochs": epochs,
                         "seconds_per_epoch": round(rep["search_seconds"] / epochs, 3),
                         "final_train_loss": round(rep["history"][-1]["train_loss"], 4)})
            log(f"nb201-darts: {method} seed {seed}: {space.to_string(arch)} -> cifar10 test {acc:.2f} "
                f"({rep['search_seconds']:.1f} s)")
            if cost and seed == 0:
                d = load_search_data(data, space, train_size, None)
                small = NB201Space(channels=channels, cells=cells)
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    net = small.resolve(small.make(**arch.genes.to_json())).build()
                bs = int(opts.get("batch_size", 64))
                t_sec, t_mb = train_epoch_cost(net, d, bs)
                s_sec = rep["search_seconds"] / epochs
                summary.append({"method": method, "what": "cost", "search_epoch_seconds": round(s_sec, 3),
                                "train_epoch_seconds": round(t_sec, 3), "time_ratio": round(s_sec / t_sec, 2),
                                "search_peak_mb": round(rep["peak_memory_mb"], 2), "train_peak_mb": round(t_mb, 2),
                                "memory_ratio": round(rep["peak_memory_mb"] / t_mb, 2),
                                "network": f"nb201 C={channels} N={cells}, batch {bs}, {len(d.train)} images"})
        a = np.asarray(accs)
        summary.append({"method": method, "what": "cifar10_test", "mean": round(float(a.mean()), 2),
                        "std": round(float(a.std(ddof=1)) if len(a) > 1 else 0.0, 2), "seeds": seeds})
    return rows, summary
