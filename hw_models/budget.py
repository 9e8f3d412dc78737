"""Budgets such as ``600M-flops``, ``4.1G-macs``, ``25M-params``, ``5ms-latency``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from nas.errors import NasError

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_METRIC_ALIASES = {"flops": "flops", "macs": "flops", "params": "params", "latency": "latency_ms"}
_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kmgt]?)(ms)?\s*-\s*([a-z]+)\s*$", re.IGNORECASE)
ACCEPTED = "NUMBER[K|M|G]-flops, NUMBER[K|M|G]-macs, NUMBER[K|M|G]-params, NUMBERms-latency (e.g. 600M-flops, 4.1G-macs, 25M-params, 5ms-latency)"


@dataclass(frozen=True)
class Budget:
    """An upper bound on one cost metric: ``flops`` (MACs; one multiply-accumulate = one FLOP),
    ``params`` or ``latency_ms``. ``text`` is how the user wrote it; ``describe()`` says how it was read."""

    metric: str
    limit: float
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Budget:
        m = _RE.match(text)
        if not m:
            raise NasError(f"bad budget {text!r}; accepted forms: {ACCEPTED}")
        number, suffix, ms, metric = m.groups()
        metric = metric.lower()
        if metric not in _METRIC_ALIASES:
            raise NasError(f"bad budget {text!r}: unknown metric {metric!r}; accepted forms: {ACCEPTED}")
        key = _METRIC_ALIASES[metric]
        if key == "latency_ms":
            if not ms or suffix:
                raise NasError(f"bad budget {text!r}: a latency budget is in ms; accepted forms: {ACCEPTED}")
            value = float(number)
        else:
            if ms:
                raise NasError(f"bad budget {text!r}: 'ms' only applies to latency; accepted forms: {ACCEPTED}")
            value = float(number) * _SUFFIX[suffix.lower()]
        if not math.isfinite(value):
            raise NasError(f"bad budget {text!r}: the limit must be a finite number; accepted forms: {ACCEPTED}")
        if value <= 0:
            raise NasError(f"bad budget {text!r}: the limit must be positive")
        return cls(key, value, text.strip())

    def allows(self, value: float) -> bool:
        return value <= self.limit

    def describe(self) -> str:
        if self.metric == "flops":
            return f"FLOPs <= {_count(self.limit)} (one multiply-accumulate counts as one FLOP)"
        if self.metric == "params":
            return f"params <= {_count(self.limit)}"
        return f"latency <= {self.limit:g} ms"

    def __str__(self) -> str:
        return self.text or f"{self.limit:g}-{self.metric}"


def _count(value: float) -> str:
    """``600 M``, ``4.1 G``, ``1 K``, ``12``: a count in the unit that keeps its significant digits."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:,.4g} {unit}"
    return f"{value:,.4g}"
