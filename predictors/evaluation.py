"""How well predictors rank architectures: fit on a sample, score Kendall τ, Spearman ρ and precision at
the top 5 % on the rest (the benchmark protocol of the design card).

Pools: ``nb201`` — the 491 NAS-Bench-201 cells of the NAS-Bench-Suite-Zero samples, targets the NB201
table's validation accuracy (cifar10-valid for CIFAR-10), zero-cost features computed by our code
(``nas.predictors.proxies`` on the full NB201 network with a minibatch of ``zc_data``); ``nb101`` /
``nb301`` — the 500 Suite-Zero samples with NASLib's accuracy, zero-cost features = the stored proxy
values (these networks are not in our spaces, so our code cannot build them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.predictors.encodings import ArchView

BENCHMARKS = ("nb201", "nb101", "nb301")
#: the zero-cost proxies our code computes as features on NB201 (DeepMAD has no rule for NB201 cells)
ZC_FEATURES = ("synflow", "snip", "grad_norm", "grasp", "fisher", "jacov", "naswot", "zen", "plain", "l2_norm",
               "epe_nas", "params", "flops")
#: computed on the full NB201 network (5 cells per stage, C=16, 3×32×32)
ZC_FULL = ("synflow", "params", "flops")
#: the others run on a reduced NB201 network, 1 cell per stage, C=8, 3×16×16 (about 80× fewer MACs): on the
#: 2 shared cores here the full network costs about 2 s of CPU per cell and minibatch
ZC_REDUCED = {"input": "3x16x16", "space_options": {"channels": 8, "cells": 1}}


def nb201_zero_cost(data: str | None = "mnist5k", batch_size: int = 16, seed: int = 0, cache: str | None = None):
    """``f(arch) -> {proxy: value}`` for every name of ``ZC_FEATURES`` on an ``nb201`` architecture:
    ``ZC_FULL`` on the full network, the rest on the reduced one (``ZC_REDUCED``) with a minibatch of
    ``data`` (None: random inputs); cached in ``cache``."""
    from nas.predictors.proxy_cache import CachedProxies
    from nas.searchspace import get_space

    space = get_space("nb201")
    full = CachedProxies(ZC_FULL, space, seed=seed, cache=cache)
    reduced = CachedProxies([n for n in ZC_FEATURES if n not in ZC_FULL], space, data=data, batch_size=batch_size,
                            seed=seed, cache=cache, **ZC_REDUCED)

    def values(arch: Any) -> dict[str, float]:
        return {**full(arch), **reduced(arch)}

    values.cached = lambda arch: all(arch.digest() in p.values[n] for p in (full, reduced)  # type: ignore[attr-defined]
                                     for n in p.names)
    return values


@dataclass(frozen=True)
class Pool:
    """Architectures (``archs``: keys the ``view`` understands), their targets ``y`` and a description."""

    benchmark: str
    dataset: str
    archs: tuple[Any, ...]
    y: np.ndarray
    view: ArchView
    description: str


def ranking_metrics(pred: np.ndarray, true: np.ndarray, top: float = 0.05) -> dict[str, float]:
    """Kendall τ (τ-b), Spearman ρ, and precision at the top ``top`` fraction: the share of the
    predicted best ``ceil(top·n)`` that are among the true best ``ceil(top·n)``."""
    from scipy.stats import kendalltau, spearmanr

    k = max(1, int(np.ceil(top * len(true))))
    p_top = set(np.argsort(-pred, kind="stable")[:k].tolist())
    t_top = set(np.argsort(-true, kind="stable")[:k].tolist())
    return {"kendall_tau": float(kendalltau(pred, true).statistic), "spearman": float(spearmanr(pred, true).statistic),
            "precision_at_top5pct": len(p_top & t_top) / k}


def nb201_pool(dataset: str = "cifar10", zc_data: str | None = "mnist5k", batch_size: int = 16,
               cache: str | None = None, benchmarks: str | None = None, log=lambda m: None) -> Pool:
    """The NB201 pool; ``zc_data`` a dataset, ``random`` (or None), or a ``+``-joined list of them (the
    data-dependent features of each, side by side)."""
    from nas.predictors.encodings import space_view
    from nas.predictors.suite_zero import load_suite_zero, nb201_genes
    from nas.searchspace import get_space
    from nas.searchspace.spaces.nb201_table import NB201Table

    sz = load_suite_zero("nb201", dataset, benchmarks)
    space = get_space("nb201")
    archs = tuple(space.make(**nb201_genes(k)) for k in sz.keys)
    table = NB201Table.load(benchmarks, latency=False)
    valid = table.valid(dataset)
    y = np.array([valid[table.index(a)] for a in archs])
    sources = [None if s in ("random", "") else s for s in (zc_data or "random").split("+")]
    feats: dict[Any, np.ndarray] = {a: np.zeros(0) for a in archs}
    for k, src in enumerate(sources):
        zc = nb201_zero_cost(src, batch_size, cache=cache)
        missing = sum(1 for a in archs if not zc.cached(a))
        if missing:
            log(f"computing zero-cost features of {missing} NB201 cells on {src or 'random'} (cached for later runs)")
        names = ZC_FEATURES if k == 0 else [n for n in ZC_FEATURES if n not in ZC_FULL]  # full-net ones once
        feats = {a: np.concatenate([feats[a], [zc(a)[n] for n in names]]) for a in archs}
    view = space_view(space, zc=feats.__getitem__)
    return Pool("nb201", dataset, archs, y, view,
                f"491 Suite-Zero NB201 cells; target NB201 {dataset} validation accuracy; zero-cost features: "
                f"ours ({', '.join(ZC_FULL)} on the full network; the rest on a reduced one, "
                f"1 cell per stage, C=8, 16×16, {zc_data or 'random'} ×{batch_size})")


def suite_pool(benchmark: str, benchmarks: str | None = None) -> Pool:
    from nas.predictors.encodings import suite_view
    from nas.predictors.suite_zero import STORED, load_suite_zero

    sz = load_suite_zero(benchmark, "cifar10", benchmarks)
    feats = {k: np.array([sz.stored[p][i] for p in STORED]) for i, k in enumerate(sz.keys)}
    return Pool(benchmark, "cifar10", sz.keys, sz.accuracy, suite_view(benchmark, zc=feats.__getitem__),
                f"{len(sz)} Suite-Zero {benchmark} samples; target NASLib's CIFAR-10 validation accuracy; "
                "zero-cost features: the stored values")


def parse_predictor(text: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME:ENCODING`` (e.g. ``rf:onehot+zc``)."""
    from nas.predictors.learned import PREDICTORS

    name, _, enc = text.partition(":")
    PREDICTORS.get(name)
    return name, (enc or None)


def evaluate(pool: Pool, predictor: str, encoding: str | None, train_size: int, seed: int) -> dict[str, Any]:
    """Fit on ``train_size`` architectures drawn by ``seed``, score the ranking of all the others."""
    from nas.predictors.learned import make_predictor

    n = len(pool.archs)
    if not 1 <= train_size < n:
        raise NasError(f"--train-size {train_size} not allowed for {pool.benchmark}: give 1..{n - 1}")
    order = np.random.default_rng(seed).permutation(n)
    tr, te = order[:train_size], order[train_size:]
    model = make_predictor(predictor, pool.view, encoding=encoding, seed=seed)
    start = time.perf_counter()
    model.fit([pool.archs[i] for i in tr], pool.y[tr])
    mean, _ = model.predict([pool.archs[i] for i in te])
    seconds = time.perf_counter() - start
    return {**ranking_metrics(mean, pool.y[te]), "seconds": seconds, "encoding": model.encoding}


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean (and std of τ) over seeds of per-seed results."""
    out: dict[str, Any] = {}
    for k in ("kendall_tau", "spearman", "precision_at_top5pct", "seconds"):
        out[k] = float(np.mean([r[k] for r in rows]))
    out["kendall_tau_std"] = float(np.std([r["kendall_tau"] for r in rows]))
    return out
