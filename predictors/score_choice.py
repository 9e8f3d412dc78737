"""``--score auto``: per space, the training-free score whose ranking of trained accuracy was measured best
(``auto_score``): first the scores measured against networks trained here (``data/score_auto.json``,
``measured_score``), then the table-based measurements below.

The measurements live in ``nas/predictors/data/score_ranking.json``: for each space, the Kendall τ of
each score against trained accuracy, how it was measured, and the options the score ran with. A space
with no measurement falls back to DeepMAD where it has a rule for every op of the space, else synflow,
and says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from nas.errors import NasError

DATA = Path(__file__).parent / "data" / "score_ranking.json"


@dataclass(frozen=True)
class ScoreChoice:
    """The score picked for a space: name, options, its measured Kendall τ (None when not measured) and
    where the measurement comes from."""

    space: str
    score: str
    options: Mapping[str, Any] = field(default_factory=dict)
    kendall_tau: float | None = None
    source: str = ""

    def describe(self) -> str:
        if self.kendall_tau is None:
            return f"{self.score} for space {self.space!r} ({self.source})"
        return (f"{self.score} for space {self.space!r}: Kendall τ {self.kendall_tau:.3f} with trained accuracy "
                f"({self.source})")


@lru_cache(maxsize=1)
def measurements(path: str = str(DATA)) -> dict[str, Any]:
    """The recorded measurements by space (empty when the file is missing)."""
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        doc = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise NasError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
    return dict(doc.get("spaces", {}))


def best_score(space: Any) -> ScoreChoice:
    """The choice for ``space`` (a SearchSpace, or a space name: then no fallback probing)."""
    name = space if isinstance(space, str) else space.name
    entry = measurements().get(name)
    if entry:
        taus = {k: float(v) for k, v in entry["kendall_tau"].items()}
        best = max(sorted(taus), key=lambda k: taus[k])
        opts = dict(entry.get("options", {}).get(best, {}))
        return ScoreChoice(name, best, opts, taus[best], str(entry.get("measured", "")))
    if isinstance(space, str):
        from nas.searchspace.space import get_space

        space = get_space(space)
    import numpy as np

    from nas.predictors.score import SCORES

    try:
        SCORES.get("deepmad")()(space.resolve(space.sample(np.random.default_rng(0))))
    except NasError:
        return ScoreChoice(name, "synflow", {}, None, "not measured for this space: synflow, DeepMAD has no rule")
    return ScoreChoice(name, "deepmad", {}, None, "not measured for this space: DeepMAD, which has a rule")


_COSTS = ("flops", "params", "latency_ms")
MEASURED_SCORES = Path(__file__).parent / "data" / "score_auto.json"
"""Kendall tau of each training-free score with trained accuracy per space
(experiments/benchmarks/score_vs_trained.py writes it)."""


def measured_score(space: str, min_networks: int = 30) -> str | None:
    """The registered score with the best measured Kendall tau against trained test accuracy on ``space``,
    when it was measured on at least ``min_networks`` trained networks; else None."""
    from nas.predictors.score import SCORES

    if not MEASURED_SCORES.is_file():
        return None
    rows = [m for m in json.loads(MEASURED_SCORES.read_text()).get("measurements", ())
            if m.get("space") == space and m.get("networks", 0) >= min_networks]
    if not rows:
        return None
    best = max(rows, key=lambda m: m["networks"])
    # a cost (params, flops) is never the score: the search already trades the score against costs
    taus = {k: v for k, v in best["kendall_tau_test"].items()
            if v is not None and k in SCORES and k not in _COSTS}
    return max(taus, key=taus.get) if taus else None


def auto_score(space: Any) -> str:
    """What ``--score auto`` picks for ``space``: the score measured best against trained accuracy on the
    space (``measured_score``); else the best of the table-based measurements recorded in
    ``nas.predictors.score_choice`` (NB201: Kendall tau against NAS-Bench-201 accuracy); else ``deepmad``
    where it has a rule for the space's ops, else ``synflow``."""
    measured = measured_score(space.name)
    if measured is not None:
        return measured
    return best_score(space).score


def auto_score_source(space: Any) -> str:
    """Where ``auto_score(space)`` comes from, in words."""
    if measured_score(space.name) is not None:
        return f"best Kendall tau against trained accuracy in {MEASURED_SCORES.name}"
    return best_score(space).describe()
