"""Searchers on NAS-Bench-201 lookups: best-by-validation test accuracy after N queries, and the
hypervolume gap of the found (validation accuracy, latency) front. One query = one distinct
architecture looked up; repeats of an architecture are answered from memory and cost nothing."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas.search.bench.nb201_lookup import NB201Evaluator, hv_reference, hypervolume_2d, true_front
from nas.search.loop.driver import DONE, SearchLoop
from nas.search.loop.evaluation import run_evaluator
from nas.search.searchers.registry import make_searcher
from nas.searchspace.space import get_space
from nas.searchspace.spaces.nb201_table import NB201Table


@dataclass(frozen=True)
class RunTrace:
    """One searcher run: per query count, the test accuracy of the best-by-validation architecture
    (single objective) or the hypervolume gap (several objectives)."""

    strategy: str
    dataset: str
    seed: int
    values: Mapping[int, float]
    queries_made: int
    best_valid: Mapping[int, float] | None = None


def _searcher(strategy: str, seed: int, objectives, directions, options: Mapping[str, Any]):
    return make_searcher(strategy, get_space("nb201"), np.random.default_rng(seed), objectives=objectives,
                         directions=directions, **dict(options))


def _drive(searcher, evaluator: NB201Evaluator, max_queries: int, on_query) -> int:
    """Ask/evaluate/tell until ``max_queries`` distinct architectures were looked up."""
    seen: dict[str, dict[str, Any]] = {}
    if searcher.owns_loop:
        from nas.search.trial import Trial

        def evaluate(arch):
            key = arch.digest()
            out = seen.get(key)
            if out is None and len(seen) >= max_queries:
                raise _Exhausted
            if out is None:
                out = seen[key] = run_evaluator(evaluator, arch)
                on_query(len(seen), out)
            return Trial(len(seen), arch, values=tuple(out["metrics"][o] for o in searcher.objectives),
                         scores=out["metrics"], info=out["info"])

        try:
            searcher.run(evaluate, 100 * max_queries)
        except _Exhausted:
            pass
        return len(seen)
    loop = SearchLoop(searcher, 100 * max_queries)
    while len(seen) < max_queries:
        job = loop.next_job()
        if job == DONE or job is None:
            break
        number, arch = job
        key = arch.digest()
        out = seen.get(key)
        if out is None:
            out = seen[key] = run_evaluator(evaluator, arch)
            on_query(len(seen), out)
        loop.complete(number, out)
    return len(seen)


class _Exhausted(Exception):
    pass


def best_test_trace(strategy: str, table: NB201Table, dataset: str, seed: int, queries: Sequence[int],
                    options: Mapping[str, Any] | None = None) -> RunTrace:
    """Test accuracy of the best-by-validation architecture after each count in ``queries``
    (ties on validation keep the earlier query)."""
    marks = set(queries)
    best = {"valid": -math.inf, "test": math.nan}
    out: dict[int, float] = {}
    out_valid: dict[int, float] = {}

    def on_query(q: int, outcome: Mapping[str, Any]) -> None:
        v = outcome["metrics"]["valid"]
        if v > best["valid"]:
            best["valid"], best["test"] = v, outcome["info"]["test"]
        if q in marks:
            out[q], out_valid[q] = best["test"], best["valid"]

    s = _searcher(strategy, seed, ("valid",), ("maximize",), options or {})
    made = _drive(s, NB201Evaluator(table, dataset), max(queries), on_query)
    return RunTrace(strategy, dataset, seed, out, made, out_valid)


def hv_gap_trace(strategy: str, table: NB201Table, dataset: str, device: str, seed: int, queries: Sequence[int],
                 options: Mapping[str, Any] | None = None) -> RunTrace:
    """Hypervolume gap 1 − HV/HV* of the found (validation accuracy, latency) points after each count
    in ``queries``; HV* is the true front's, the reference point (largest latency, 10% accuracy)."""
    valid, lat = table.valid(dataset), table.latency(device)
    ref = hv_reference(lat)
    f = true_front(valid, lat)
    hv_star = hypervolume_2d(valid[f], lat[f], ref)
    marks = set(queries)
    pts: list[tuple[float, float]] = []
    out: dict[int, float] = {}

    def on_query(q: int, outcome: Mapping[str, Any]) -> None:
        m = outcome["metrics"]
        pts.append((m["valid"], m["latency_ms"]))
        if q in marks:
            v, l_ = zip(*pts)
            out[q] = 1.0 - hypervolume_2d(v, l_, ref) / hv_star

    s = _searcher(strategy, seed, ("valid", "latency_ms"), ("maximize", "minimize"), options or {})
    made = _drive(s, NB201Evaluator(table, dataset, device), max(queries), on_query)
    return RunTrace(strategy, dataset, seed, out, made)


def summarize(traces: Sequence[RunTrace], queries: Sequence[int],
              optimum_valid: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """Rows of strategy, dataset, queries, mean, std (sample std over seeds), seeds, min, max; with
    ``optimum_valid`` (dataset → best validation accuracy of all cells) also ``optimum_found``, the
    number of runs whose best-by-validation architecture is the benchmark's."""
    rows = []
    keys = sorted({(t.strategy, t.dataset) for t in traces}, key=lambda k: (k[1], k[0]))
    for strategy, dataset in keys:
        ts = [t for t in traces if t.strategy == strategy and t.dataset == dataset]
        for q in queries:
            vals = np.array([t.values[q] for t in ts if q in t.values], dtype=float)
            if len(vals) == 0:
                continue
            row = {"strategy": strategy, "dataset": dataset, "queries": q, "mean": float(vals.mean()),
                   "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0, "seeds": len(vals),
                   "min": float(vals.min()), "max": float(vals.max())}
            if optimum_valid is not None and dataset in optimum_valid:
                row["optimum_found"] = sum(1 for t in ts if t.best_valid and q in t.best_valid
                                           and t.best_valid[q] >= optimum_valid[dataset])
            rows.append(row)
    return rows
