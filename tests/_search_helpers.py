"""Shared fixtures of the search tests: a deterministic evaluator over the nb201 space (no data needed)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from nas.searchspace import Architecture

OP_VALUE = {"none": 0.0, "skip_connect": 1.0, "avg_pool_3x3": 1.5, "nor_conv_1x1": 2.0, "nor_conv_3x3": 3.0}


@dataclass(frozen=True)
class ToyNB201Score:
    """A deterministic, picklable score of an nb201 architecture: the sum of per-edge op values plus a
    small digest-derived jitter (so ties are rare); ``cost`` a second objective to minimise."""

    sleep_s: float = 0.0
    log: str | None = None

    def __call__(self, arch: Architecture) -> dict[str, float]:
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.log:
            with open(self.log, "a") as f:
                f.write(arch.digest() + "\n")
                f.flush()
        jitter = int(hashlib.sha256(arch.digest().encode()).hexdigest()[:6], 16) / 16**6
        value = sum(OP_VALUE[v] for v in arch.genes.values()) + jitter
        cost = sum(OP_VALUE[v] ** 2 for v in arch.genes.values())
        return {"score": value, "cost": cost}
