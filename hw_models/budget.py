"""Budgets such as ``600M-flops``, ``4.1G-macs``, ``25M-params``, ``5ms-latency``, and the one gate
(``BudgetGate``) through which every hard budget is enforced."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


def relative_excess(value: Any, limit: float) -> Any:
    """How far ``value`` is over ``limit``, relative to it: ``value / limit - 1`` (a float or an array)."""
    return value / limit - 1.0


@dataclass(frozen=True)
class Violation:
    """One broken budget: the cost ``value`` of its metric is over its limit."""

    budget: Budget
    value: float

    @property
    def excess(self) -> float:
        return relative_excess(self.value, self.budget.limit)

    def __str__(self) -> str:
        return f"{self.budget.metric} {self.value:.4g} > {self.budget.limit:.4g}"


@dataclass(frozen=True)
class Verdict:
    """What the gate says of one set of costs: ``ok`` when no budget is broken; ``excess`` the largest
    relative excess over the broken ones (0.0 when ok); ``str()`` the violations, ``; ``-joined."""

    violations: tuple[Violation, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def excess(self) -> float:
        return max([0.0] + [v.excess for v in self.violations])

    def __str__(self) -> str:
        return "; ".join(map(str, self.violations))


@dataclass(frozen=True)
class BudgetGate:
    """The one place hard budgets are enforced: the search loop, the searchers' constraint, the
    feasibility check, DeepMAD's limits and the differentiable searchers' repair all ask it.

    Contract: ``check(costs)`` reads each budget's metric from ``costs`` (a missing metric is a KeyError)
    and returns a ``Verdict``; a value equal to its limit is allowed (``Budget.allows``);
    ``limits()`` is the tightest limit per metric.
    """

    budgets: tuple[Budget, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "budgets", tuple(self.budgets))

    def check(self, costs: Mapping[str, float]) -> Verdict:
        return Verdict(tuple(Violation(b, float(costs[b.metric])) for b in self.budgets
                             if not b.allows(costs[b.metric])))

    def limits(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for b in self.budgets:
            out[b.metric] = min(b.limit, out.get(b.metric, float("inf")))
        return out


def _count(value: float) -> str:
    """``600 M``, ``4.1 G``, ``1 K``, ``12``: a count in the unit that keeps its significant digits."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:,.4g} {unit}"
    return f"{value:,.4g}"
