"""The run folder: resolved config, all trials (CSV + JSON), the Pareto front as JSON with one
architecture JSON per network (readable by ``nas cost``), and a PNG plot of the front."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.io import write_json_atomic, write_text_atomic
from nas.search.names import Metric, TrialState
from nas.search.results.front import Front, FrontRecord
from nas.search.results.run_analysis import report_view, run_title
from nas.search.trial import SearchResult
from nas.searchspace.architecture import save_architecture


def write_front(view: SearchResult, arch_dir: Path, space_config: dict[str, Any]) -> Front:
    """The front of ``view`` as records, each front network's architecture JSON written in ``arch_dir``
    (readable by ``nas cost``)."""
    records = tuple(
        FrontRecord.from_trial(t, view.objectives,
                               str(save_architecture(arch_dir / f"{t.arch.digest()}.json", t.arch, **space_config)))
        for t in view.pareto_front())
    return Front(tuple(view.objectives), tuple(view.directions), records)


def summary(result: SearchResult) -> dict[str, Any]:
    states = {s.value: sum(t.state == s for t in result.trials) for s in TrialState}
    errors = sorted({t.error for t in result.trials if t.state == TrialState.FAILED})
    return {"trials": len(result), **states, "failed_errors": errors[:5]}


def _write_json(path: Path, obj: Any) -> None:
    write_json_atomic(path, obj, indent=2)


def plot_front(result: SearchResult, path: Path, title: str = "") -> Path | None:
    """The front in every 2-D projection of the objectives, each with its own non-dominated staircase
    and the remaining objective as colour (``run_figures.front_figure``); None without a complete trial."""
    import sys

    if "matplotlib.pyplot" not in sys.modules:  # a command-line run draws off-screen
        import matplotlib

        matplotlib.use("Agg")
    from nas.search.results.run_figures import front_figure, save_figure

    if not result.complete:
        return None
    return save_figure(front_figure(result, title), path)


def write_run_folder(out: Path, result: SearchResult, *, config: dict[str, Any], arch_config: dict[str, Any],
                     latency: bool) -> Front:
    """Write everything a user keeps from a run (``config``: its resolved config; ``arch_config``: what
    each front architecture's JSON records of the space; ``latency``: a target model gave latencies);
    returns the reported front (``front.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    result.save(out / "trials.json")
    write_text_atomic(out / "trials.csv", result.to_dataframe().to_csv(index=False))
    view = report_view(result, [Metric.LATENCY_MS, Metric.FLOPS] if latency else [Metric.FLOPS])
    front = write_front(view, out / "archs", arch_config)
    _write_json(out / "front.json", front.to_json())
    plot_front(view, out / "front.png", run_title(config))
    return front
