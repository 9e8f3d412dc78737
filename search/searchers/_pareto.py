"""Non-dominated sorting and crowding distance (Deb et al. 2002), on values to minimise."""

from __future__ import annotations

import numpy as np


def nondominated_ranks(points: np.ndarray) -> np.ndarray:
    """Front index of each row (0 = non-dominated), for objectives to minimise."""
    n = len(points)
    ranks = np.full(n, -1, dtype=int)
    if n == 0:
        return ranks
    le = np.all(points[:, None, :] <= points[None, :, :], axis=2)
    lt = np.any(points[:, None, :] < points[None, :, :], axis=2)
    dominates = le & lt  # dominates[i, j]: i dominates j
    n_dominators = dominates.sum(axis=0)
    front = np.flatnonzero(n_dominators == 0)
    rank = 0
    while front.size:
        ranks[front] = rank
        n_dominators = n_dominators - dominates[front].sum(axis=0)
        n_dominators[ranks >= 0] = -1
        front = np.flatnonzero(n_dominators == 0)
        rank += 1
    return ranks


def crowding_distance(points: np.ndarray) -> np.ndarray:
    """Crowding distance of each row within one front (boundary points get +inf)."""
    n, m = points.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(points[:, k], kind="stable")
        lo, hi = points[order[0], k], points[order[-1], k]
        dist[order[0]] = dist[order[-1]] = np.inf
        if hi == lo:
            continue
        gaps = (points[order[2:], k] - points[order[:-2], k]) / (hi - lo)
        dist[order[1:-1]] += gaps
    return dist
