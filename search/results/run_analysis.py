"""A finished run folder read back, and the tables its figures and reports are drawn from: trials,
each 2-D projection's non-dominated set, convergence, operation families per stage, per-layer costs.

Pure data (numpy/pandas); the figures live in ``run_figures.py``, the HTML page in ``html_report.py``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nas.errors import NasError
from nas.io import read_json
from nas.search.names import COST_METRICS, Direction, TrialState, signs
from nas.search.trial import SearchResult, Trial, hypervolume, nondominated_mask
from nas.searchspace.architecture import Architecture
from nas.searchspace.netspec import NetSpec
from nas.searchspace.space import SearchSpace

if TYPE_CHECKING:
    import pandas as pd


def report_view(result: SearchResult, cost_names: list[str]) -> SearchResult:
    """The result whose front is reported: the search's own objectives when there are several; for a
    single-objective search, that objective (maximised or minimised as searched) against ``cost_names``."""
    if len(result.objectives) > 1:
        return result
    name, direction = result.objectives[0], result.directions[0]
    costs = [c for c in cost_names if c != name]
    trials = []
    for t in result.trials:
        if t.complete and all(c in t.costs for c in costs):
            t = Trial(t.number, t.arch, t.state, t.costs, (t.values[0], *(t.costs[c] for c in costs)), t.scores,
                      t.duration_s, t.error, t.info)
        elif t.complete:
            t = Trial(t.number, t.arch, TrialState.FAILED, t.costs, (), t.scores, t.duration_s, "costs missing", t.info)
        trials.append(t)
    return SearchResult(trials, (name, *costs), (direction, *[Direction.MINIMIZE] * len(costs)), result.config)


def run_title(config: dict[str, Any]) -> str:
    """One line naming a run from its resolved config: space / strategy / seed / score / budgets / target."""
    budgets = ", ".join(config.get("budgets", [])) or "no budget"
    target = f"target {config['target']}" if config.get("latency_model") else "no target"
    return (f"{config.get('space')} / {config.get('strategy')} / seed {config.get('seed')} / "
            f"{config.get('score')} / {budgets} / {target}")


def min_form(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Objective values turned into values to minimise (maximised ones negated)."""
    return np.asarray(values, dtype=np.float64) * np.array(signs(directions))


def projection_front(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Mask of the rows of ``values`` (n × k, the objectives' own units) that no other row dominates
    in these ``k`` objectives alone: a 2-D projection's own non-dominated staircase."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    return nondominated_mask(min_form(values, directions))


def objective_bounds(results: Sequence[SearchResult]) -> tuple[np.ndarray, np.ndarray]:
    """(best, worst) of each objective over the complete trials of ``results`` (same objectives and
    directions), in minimisation form: pass to ``convergence`` to compare runs on one scale."""
    pts = [min_form(np.array([t.values for t in r.complete]).reshape(-1, len(r.objectives)), r.directions)
           for r in results]
    allp = np.vstack(pts)
    if len(allp) == 0:
        raise NasError("no complete trial in these results")
    finite = np.where(np.isfinite(allp), allp, np.nan)  # a ±inf score is off the scale, not its end
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an objective with no finite value: bounds 0, 0
        lo, hi = np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)
    return np.nan_to_num(lo), np.nan_to_num(hi)


def convergence(result: SearchResult, bounds: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per trial in number order: ``number``, ``state``, ``best`` (best value of objective 0
    among complete trials so far) and ``hypervolume`` of the front so far.

    The hypervolume is computed on objectives scaled to [0, 1] by the range of all complete trials
    (best = 0, worst = 1) with the reference point at 1.1 in each, so the value lies in [0, 1.1^k];
    ``bounds`` (from ``objective_bounds`` over several runs) puts several runs on one scale. NaN until
    the first complete trial.
    """
    import pandas as pd

    done = result.complete
    k = len(result.objectives)
    if done:
        lo, hi = bounds if bounds is not None else objective_bounds([result])
        span = np.where(hi > lo, hi - lo, 1.0)
    ref = np.full(k, 1.1)
    front = np.empty((0, k))
    best, hv = np.nan, np.nan
    sign = result.directions[0].sign
    rows = []
    for t in result.trials:
        if t.complete:
            v0 = t.values[0]
            best = v0 if np.isnan(best) or sign * v0 < sign * best else best
            p = (min_form(np.array(t.values), result.directions) - lo) / span
            # the front changes only when p is finite and not dominated
            if np.all(np.isfinite(p)) and not np.any(np.all(front <= p, axis=1)):
                front = np.vstack([front, p])
                front = front[nondominated_mask(front)]
                hv = hypervolume(front, ref)
        rows.append({"number": t.number, "state": t.state, "best": best, "hypervolume": hv})
    return pd.DataFrame(rows, columns=["number", "state", "best", "hypervolume"])


def _operations(layer) -> list[tuple[str, str]]:
    """(operation, family) of each registered op a layer holds (``OpSpec.components``: a MetaFormer
    block's token mixer, an NB201 cell's edges as their equivalent ops, else the layer's own op)."""
    from nas.searchspace.op_spec import OPS

    return [(name, OPS.get(name).family) for name in layer.spec.components(layer.in_type, layer.hp)]


def stage_of(layer_name: str) -> str | None:
    """The stage a layer belongs to (``stage3`` of ``stage3.2``, ``cell1`` of ``cell1.4``); None for
    layers outside a repeated stage (stem, downsampling, head)."""
    stage, dot, _ = layer_name.partition(".")
    return stage if dot else None


def stage_operations(spec: NetSpec) -> dict[str, set[tuple[str, str]]]:
    """Per stage, the set of (operation, family) its layers use; adapters (layout changes) left out."""
    out: dict[str, set[tuple[str, str]]] = {}
    for layer in spec.layers:
        stage = stage_of(layer.name)
        if stage is None:
            continue
        for op, family in _operations(layer):
            if family != "adapter":
                out.setdefault(stage, set()).add((op, family))
    return out


def family_shares(space: SearchSpace, groups: dict[str, Sequence[Architecture]], level: str = "family") -> pd.DataFrame:
    """Long table ``group, stage, <level>, networks, share``: for each group of architectures (e.g.
    "front" and "all trials") and each stage, the fraction of the group's networks whose stage uses
    that family (``level="family"``) or operation (``level="op"``). Shares of one stage sum to 1 when
    each stage uses one operation, as in ``hybrid``."""
    import pandas as pd

    if level not in ("family", "op"):
        raise NasError(f"level {level!r} not allowed; allowed: family, op")
    rows = []
    cache: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for group, archs in groups.items():
        counts: dict[tuple[str, str], int] = {}
        for a in archs:
            key = a.digest()
            if key not in cache:
                cache[key] = stage_operations(space.resolve(a))
            for stage, ops in cache[key].items():
                for name in {op if level == "op" else fam for op, fam in ops}:
                    counts[(stage, name)] = counts.get((stage, name), 0) + 1
        for (stage, name), n in sorted(counts.items()):
            rows.append({"group": group, "stage": stage, level: name, "networks": n,
                         "share": n / max(1, len(archs))})
    return pd.DataFrame(rows, columns=["group", "stage", level, "networks", "share"])


def layer_costs(spec: NetSpec, target: Any | None = None) -> pd.DataFrame:
    """One row per layer: ``layer, op, family, out`` (output type), ``flops`` (MACs), ``params`` and,
    with a target, ``latency_ms`` from its per-layer model."""
    import pandas as pd

    rows = []
    for layer in spec.layers:
        inner = _operations(layer)
        op, family = inner[0] if len(inner) == 1 else (layer.op, layer.family)
        rows.append({"layer": layer.name, "op": op, "family": family, "out": str(layer.out_type),
                     "flops": layer.macs(), "params": layer.params()})
    df = pd.DataFrame(rows)
    if target is not None:
        df["latency_ms"] = target.per_layer_ms(spec)
    return df


@dataclass(frozen=True)
class RunFolder:
    """A run folder written by ``nas search`` (``config.json``, ``trials.json``, ``front.json``), read
    back. ``result`` holds the trials as searched; ``view`` the same trials over the objectives the
    front was reported on (``front.json``'s, e.g. score against costs for a single-objective search)."""

    folder: Path
    result: SearchResult
    view: SearchResult
    config: dict[str, Any]

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> RunFolder:
        path = Path(folder)
        if not path.is_dir():
            raise NasError(f"run folder {str(path)!r} does not exist or is not a folder")
        missing = [n for n in ("config.json", "trials.json", "front.json") if not (path / n).is_file()]
        if missing:
            raise NasError(f"{str(path)!r} is not a finished `nas search` run folder: no {', '.join(missing)}")
        config = read_json(path / "config.json", "run config")
        front = read_json(path / "front.json", "front")
        result = SearchResult.load(path / "trials.json")
        if not isinstance(config, dict) or not isinstance(front, dict) or "objectives" not in front:
            raise NasError(f"{str(path)!r}: config.json or front.json is not what `nas search` writes")
        view = result if len(result.objectives) > 1 else report_view(result, list(front["objectives"][1:]))
        return cls(path, result, view, config)

    @cached_property
    def space(self) -> SearchSpace:
        from nas.search.space_ref import SpaceRef, settings_of
        from nas.searchspace.space import own_settings

        sc = self.config.get("space_config", {})
        settings = own_settings(sc) or self.config.get("space_options")
        return SpaceRef(self.config.get("space", sc.get("space", "")), sc.get("input"), sc.get("num_classes"),
                        settings_of(settings)).space

    @cached_property
    def target(self) -> Any | None:
        """The latency target the run used (None when it had none)."""
        from nas.search.space_ref import load_target

        return load_target(self.config.get("target")) if self.config.get("latency_model") else None

    @cached_property
    def progress(self) -> pd.DataFrame:
        """``convergence`` of the reported view."""
        return convergence(self.view)

    def front(self) -> list[Trial]:
        """The reported front, best first on its first objective (the order of ``front.json``)."""
        return self.view.pareto_front()

    def title(self) -> str:
        return run_title(self.config)

    def summary(self) -> dict[str, Any]:
        """Counts by state, the front's size and its objectives."""
        states = {s.value: sum(t.state == s for t in self.result.trials) for s in TrialState}
        return {"trials": len(self.result), **states, "front": len(self.front()),
                "objectives": [f"{o} ({d[:3]})" for o, d in zip(self.view.objectives, self.view.directions)]}

    def front_frame(self) -> pd.DataFrame:
        """One row per front network: trial, digest, each objective, FLOPs/params/latency, the genes."""
        import pandas as pd

        rows = []
        for t in self.front():
            row: dict[str, Any] = {"trial": t.number, "digest": t.arch.digest()}
            row.update(zip(self.view.objectives, t.values))
            for k in COST_METRICS:
                if k in t.costs:
                    row.setdefault(k, t.costs[k])
            row.update(t.arch.genes.to_json())
            rows.append(row)
        return pd.DataFrame(rows)

    def families(self, level: str = "family") -> pd.DataFrame:
        """``family_shares`` of the front against all complete trials."""
        return family_shares(self.space, {"front": [t.arch for t in self.front()],
                                          "all trials": [t.arch for t in self.view.complete]}, level)

    def chosen(self, index: int = 0) -> Trial:
        """The front network at ``index`` (0 = best on the first objective)."""
        front = self.front()
        if not front:
            raise NasError(f"run {str(self.folder)!r} has no complete trial, so no front")
        if not 0 <= index < len(front):
            raise NasError(f"front index {index} out of range; allowed: 0..{len(front) - 1} "
                           f"(the front has {len(front)} networks)")
        return front[index]

    def layer_costs(self, trial: Trial) -> pd.DataFrame:
        return layer_costs(self.space.resolve(trial.arch), self.target)
