"""NAS-Bench-201 as a lookup evaluator: validation accuracy (the search signal), test accuracy
(reported, never shown to the searcher) and HELP latencies, for all 15,625 cells; the true front and
the hypervolume the NB201 search benchmark reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nas.search.loop.evaluation import Evaluation
from nas.searchspace.architecture import Architecture
from nas.searchspace.spaces.nb201_table import NB201Table


@dataclass(frozen=True)
class NB201Evaluator:
    """One query = one architecture looked up: returns the dataset's validation accuracy as metric
    ``valid`` (and ``latency_ms`` on ``device`` when given); the test accuracy only as ``info``."""

    table: NB201Table
    dataset: str = "cifar10"
    device: str | None = None

    def __call__(self, arch: Architecture) -> Evaluation:
        i = self.table.index(arch)
        metrics = {"valid": float(self.table.valid(self.dataset)[i])}
        if self.device:
            metrics["latency_ms"] = float(self.table.latency(self.device)[i])
        return Evaluation(metrics, {"test": float(self.table.test(self.dataset)[i]), "index": i})


def true_front(valid: np.ndarray, latency: np.ndarray) -> np.ndarray:
    """Indices of the cells no other cell beats on both higher validation accuracy and lower latency."""
    order = np.lexsort((-valid, latency))
    front, best = [], -np.inf
    for i in order:
        if valid[i] > best:
            front.append(int(i))
            best = valid[i]
    return np.asarray(front)


def hv_reference(latency: np.ndarray) -> tuple[float, float]:
    """The issue's reference point: (largest latency, 10% accuracy)."""
    return float(latency.max()), 10.0


def hypervolume_2d(valid: Sequence[float], latency: Sequence[float], reference: tuple[float, float]) -> float:
    """Area dominated by points (maximise valid, minimise latency) up to ``reference`` (latency, valid)."""
    from nas.search.trial import hypervolume

    pts = np.column_stack([np.asarray(latency, float), -np.asarray(valid, float)])
    return hypervolume(pts, np.array([reference[0], -reference[1]]))
