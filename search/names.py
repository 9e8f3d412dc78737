"""The names search uses as identifiers: trial states, objective directions and metrics.

They are ``StrEnum``s: each member equals, hashes, prints (``str``, ``repr``, f-strings) and serialises
(JSON, CSV, Optuna) as its plain string value, so stored runs (``study.db``, ``trials.json``,
``front.json``) read the same.
"""

from __future__ import annotations

from enum import Enum

try:
    from enum import StrEnum
except ImportError:  # Python 3.10

    class StrEnum(str, Enum):  # type: ignore[no-redef]
        def __str__(self) -> str:
            return str(self.value)


class Name(StrEnum):
    """A ``StrEnum`` whose ``repr`` is its value's, so messages and stored errors read as before."""

    def __repr__(self) -> str:
        return repr(self.value)


class TrialState(Name):
    """A trial's outcome: evaluated (``complete``), over a hard budget and never evaluated
    (``infeasible``), or the evaluator raised / the architecture did not resolve (``failed``)."""

    COMPLETE = "complete"
    INFEASIBLE = "infeasible"
    FAILED = "failed"


class Direction(Name):
    """Whether an objective is maximised or minimised (Optuna's spelling)."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"

    @property
    def sign(self) -> float:
        """The factor that turns a value of this direction into one to minimise."""
        return -1.0 if self is Direction.MAXIMIZE else 1.0


class Metric(Name):
    """Metric names the search reads as identifiers: the evaluator's ``score`` and the analytic costs
    (``flops``: MACs, ``params``, ``latency_ms`` on a target)."""

    SCORE = "score"
    FLOPS = "flops"
    PARAMS = "params"
    LATENCY_MS = "latency_ms"


#: The costs every trial records (minimised by default when they are objectives).
COST_METRICS: tuple[Metric, ...] = (Metric.FLOPS, Metric.PARAMS, Metric.LATENCY_MS)


def signs(directions) -> list[float]:
    """``Direction(d).sign`` for each direction (strings or members)."""
    return [Direction(d).sign for d in directions]
