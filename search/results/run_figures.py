"""Matplotlib figures of a search run: the front in 2-D projections, parallel coordinates, convergence,
operation families per stage, and a network's per-layer costs. Each function returns a Figure (the
caller saves or shows it); ``save_figure`` writes a PNG atomically."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nas.search.names import Direction, Metric
from nas.search.results.run_analysis import convergence, projection_front
from nas.search.trial import SearchResult

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

_LABELS = {Metric.LATENCY_MS: "latency (ms)", Metric.FLOPS: "MFLOPs (1 MAC = 1 FLOP)", Metric.PARAMS: "params (M)"}
_SCALE = {Metric.FLOPS: 1e-6, Metric.PARAMS: 1e-6}
FAMILY_COLORS = {"conv": "tab:blue", "attention": "tab:orange", "ssm": "tab:green", "mlp": "tab:red",
                 "spectral": "tab:purple", "paramfree": "tab:gray", "adapter": "tab:brown"}


def _plt():
    import matplotlib.pyplot as plt  # matplotlib picks Agg itself where there is no display

    return plt


def label(name: str) -> str:
    return _LABELS.get(name, name)


def _shown(result: SearchResult, trials) -> np.ndarray:
    """Objective values of ``trials`` in display units (FLOPs and params in millions)."""
    k = len(result.objectives)
    vals = np.array([t.values for t in trials], dtype=np.float64).reshape(len(trials), k)
    return vals * np.array([_SCALE.get(o, 1.0) for o in result.objectives])


def _log_if_wide(ax, values: np.ndarray, axis: str) -> None:
    positive = values[values > 0]
    if len(positive) and positive.max() / positive.min() > 30:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


def projections(n_objectives: int) -> list[tuple[int, int]]:
    """Pairs (y, x) of objectives drawn: every pair for up to three objectives, else objective 0 against each."""
    if n_objectives < 2:
        return []
    if n_objectives <= 3:
        return [(0, k) for k in range(1, n_objectives)] + [
            (i, j) for i, j in combinations(range(1, n_objectives), 2)]
    return [(0, k) for k in range(1, n_objectives)]


def front_figure(result: SearchResult, title: str = "") -> Figure:
    """One panel per 2-D projection of the objectives: every complete trial in grey, that projection's
    own non-dominated staircase in red, and the front of all objectives coloured by the objective the
    panel does not show (with three objectives). A single objective plots value against trial number."""
    plt = _plt()
    done = result.complete
    k = len(result.objectives)
    pairs = projections(k)
    fig, axes = plt.subplots(1, max(1, len(pairs)), figsize=(5.4 * max(1, len(pairs)), 4.4), squeeze=False)
    if not done:
        axes[0, 0].text(0.5, 0.5, "no complete trial", ha="center", va="center")
        return fig
    vals = _shown(result, done)
    front_ids = {t.number for t in result.pareto_front()}
    on_front = np.array([t.number in front_ids for t in done])
    if not pairs:
        ax = axes[0, 0]
        ax.plot([t.number for t in done], vals[:, 0], ".", c="0.6", ms=4)
        ax.set_xlabel("trial")
        ax.set_ylabel(label(result.objectives[0]))
    for ax, (i, j) in zip(axes[0], pairs):
        x, y = vals[:, j], vals[:, i]
        ax.scatter(x, y, s=8, c="0.82", label="all trials", zorder=1)
        stair = projection_front(vals[:, [j, i]], [result.directions[j], result.directions[i]])
        order = np.argsort(x[stair])
        sx, sy = x[stair][order], y[stair][order]
        # at each x, the best y among points at least as good in x (left of it when x is minimised)
        ax.step(sx, sy, where="post" if result.directions[j] == Direction.MINIMIZE else "pre",
                c="tab:red", lw=1.2, zorder=2, label=f"non-dominated in this view ({stair.sum()})")
        ax.plot(sx, sy, "o", mfc="none", mec="tab:red", ms=7, zorder=4)
        rest = [m for m in range(k) if m not in (i, j)]
        if len(rest) == 1:
            c = vals[on_front, rest[0]]
            sc = ax.scatter(x[on_front], y[on_front], s=16, c=c, cmap="viridis", zorder=3,
                            norm=_norm(c), label=f"front of all {k} objectives ({on_front.sum()})")
            fig.colorbar(sc, ax=ax, label=label(result.objectives[rest[0]]), pad=0.01)
        else:
            ax.scatter(x[on_front], y[on_front], s=16, c="tab:blue", zorder=3,
                       label=f"front of all {k} objectives ({on_front.sum()})")
        _log_if_wide(ax, x, "x")
        _log_if_wide(ax, y, "y")
        ax.set_xlabel(label(result.objectives[j]) + f" ({result.directions[j][:3]})")
        ax.set_ylabel(label(result.objectives[i]) + f" ({result.directions[i][:3]})")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title or f"{len(done)} complete trials, {len(front_ids)} on the front", fontsize=10)
    fig.tight_layout()
    return fig


def _norm(values: np.ndarray):
    from matplotlib.colors import LogNorm, Normalize

    positive = values[values > 0]
    if len(positive) == len(values) and len(values) and positive.max() / positive.min() > 30:
        return LogNorm(positive.min(), positive.max())
    return Normalize()


def parallel_figure(result: SearchResult, title: str = "") -> Figure:
    """Parallel coordinates of every objective (and nothing else): each axis scaled from worst (bottom)
    to best (top) over the complete trials; all trials in grey, the front coloured by objective 0."""
    plt = _plt()
    done = result.complete
    k = len(result.objectives)
    fig, ax = plt.subplots(figsize=(1.9 * max(k, 3) + 1.5, 4.0))
    if not done:
        ax.text(0.5, 0.5, "no complete trial", ha="center", va="center")
        return fig
    vals = _shown(result, done)
    scaled = np.empty_like(vals)
    ticks = []
    for m in range(k):
        v = vals[:, m]
        logs = v.min() > 0 and v.max() / v.min() > 30
        w = np.log10(v) if logs else v
        finite = w[np.isfinite(w)]  # a score can be ±inf (synflow of a dead network): drawn at its axis' end
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
        w = np.nan_to_num(w, nan=lo, posinf=hi, neginf=lo)
        s = (w - lo) / (hi - lo) if hi > lo else np.full_like(w, 0.5)
        scaled[:, m] = s if result.directions[m] == Direction.MAXIMIZE else 1 - s
        worst, best = (v.min(), v.max()) if result.directions[m] == Direction.MAXIMIZE else (v.max(), v.min())
        ticks.append(f"{label(result.objectives[m])}\nbest {best:.4g}\nworst {worst:.4g}" + ("\n(log)" if logs else ""))
    front_ids = {t.number for t in result.pareto_front()}
    on_front = np.array([t.number in front_ids for t in done])
    xs = np.arange(k)
    for row in scaled[~on_front]:
        ax.plot(xs, row, c="0.85", lw=0.6, zorder=1)
    cmap = plt.get_cmap("viridis")
    f0 = vals[on_front, 0]
    span = np.ptp(f0) or 1.0
    for row, v in zip(scaled[on_front], f0):
        ax.plot(xs, row, c=cmap((v - f0.min()) / span), lw=1.0, alpha=0.9, zorder=2)
    ax.set_xticks(xs, ticks, fontsize=8)
    ax.set_yticks([0, 1], ["worst", "best"])
    for x in xs:
        ax.axvline(x, c="k", lw=0.5)
    ax.set_xlim(-0.1, k - 0.9)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(f0.min(), f0.max()))
    fig.colorbar(sm, ax=ax, label=f"{label(result.objectives[0])} (front)", pad=0.01)
    ax.set_title(title or f"{len(done)} trials (grey), front of {on_front.sum()} (coloured)", fontsize=10)
    fig.tight_layout()
    return fig


def convergence_figure(result: SearchResult, title: str = "", table: pd.DataFrame | None = None) -> Figure:
    """Best objective-0 value so far and normalised hypervolume of the front so far, per trial."""
    plt = _plt()
    df = convergence(result) if table is None else table
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.6))
    axes[0].plot(df["number"], df["best"], c="tab:blue")
    done = [t for t in result.trials if t.complete]
    axes[0].scatter([t.number for t in done], [t.values[0] for t in done], s=4, c="0.75", zorder=0,
                    label="each trial")
    axes[0].set_xlabel("trial")
    axes[0].set_ylabel(f"best {label(result.objectives[0])} so far")
    axes[0].legend(fontsize=7)
    _log_if_wide(axes[0], np.array([t.values[0] for t in done]), "y")
    axes[1].plot(df["number"], df["hypervolume"], c="tab:green")
    axes[1].set_ylabel("hypervolume of the front so far")
    axes[1].set_xlabel("trial (objectives scaled to [0, 1] over all trials; reference point 1.1)")
    last = df["hypervolume"].dropna()
    if len(last):
        axes[1].set_title(f"final {last.iloc[-1]:.4f}", fontsize=9)
    fig.suptitle(title or "convergence", fontsize=10)
    fig.tight_layout()
    return fig


def families_figure(shares: pd.DataFrame, title: str = "", level: str = "family") -> Figure:
    """One panel per stage: share of networks using each family (or operation), front against all trials."""
    plt = _plt()
    stages = sorted(shares["stage"].unique(), key=_natural) if len(shares) else []
    fig, axes = plt.subplots(1, max(1, len(stages)), figsize=(3.2 * max(1, len(stages)), 3.6), squeeze=False,
                             sharex=True)
    names = sorted(shares[level].unique()) if len(shares) else []
    groups = list(dict.fromkeys(shares["group"])) if len(shares) else []
    height = 0.8 / max(1, len(groups))
    for ax, stage in zip(axes[0], stages):
        part = shares[shares["stage"] == stage]
        for g, group in enumerate(groups):
            sub = part[part["group"] == group].set_index(level)["share"]
            ys = np.arange(len(names)) + (g - (len(groups) - 1) / 2) * height
            colors = [FAMILY_COLORS.get(n, "tab:cyan") for n in names] if level == "family" else "tab:blue"
            ax.barh(ys, [sub.get(n, 0.0) for n in names], height=height, color=colors,
                    alpha=1.0 if g == 0 else 0.35, edgecolor="k", lw=0.4, label=group)
        ax.set_yticks(np.arange(len(names)), names if ax is axes[0, 0] else [""] * len(names), fontsize=8)
        ax.set_title(stage, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of networks")
        ax.invert_yaxis()
    if stages:
        axes[0, -1].legend(fontsize=7, loc="lower right", title="solid / pale", title_fontsize=7)
    what = "operation family" if level == "family" else "operation"
    fig.suptitle(title or f"{what} per stage: {' (solid) vs '.join(groups)} (pale)", fontsize=10)
    fig.tight_layout()
    return fig


def _natural(text: str) -> tuple:
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def layers_figure(costs: pd.DataFrame, title: str = "") -> Figure:
    """Per-layer FLOPs and (when present) latency of one network, bars coloured by operation family."""
    plt = _plt()
    metrics = [m.value for m in (Metric.FLOPS, Metric.PARAMS, Metric.LATENCY_MS) if m in costs.columns]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(7.0, 0.22 * len(costs) + 2), 1.9 * len(metrics) + 1),
                             sharex=True, squeeze=False)
    xs = np.arange(len(costs))
    colors = [FAMILY_COLORS.get(f, "tab:cyan") for f in costs["family"]]
    for ax, m in zip(axes[:, 0], metrics):
        v = costs[m].to_numpy(dtype=float) * _SCALE.get(m, 1.0)
        ax.bar(xs, v, color=colors)
        ax.set_ylabel(label(m), fontsize=8)
        ax.set_title(f"{label(m)}: total {v.sum():.4g}", fontsize=8, loc="left")
    axes[-1, 0].set_xticks(xs, [f"{n} {o}" for n, o in zip(costs["layer"], costs["op"])], rotation=90, fontsize=7)
    from matplotlib.patches import Patch

    fams = list(dict.fromkeys(costs["family"]))
    axes[0, 0].legend([Patch(color=FAMILY_COLORS.get(f, "tab:cyan")) for f in fams], fams, fontsize=7, ncol=4)
    fig.suptitle(title or "per-layer costs", fontsize=10)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    from nas.io import atomic_path

    plt = _plt()
    path = Path(path)
    try:
        with atomic_path(path) as tmp:  # a unique temporary name: two writers never share one
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return path


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (closed afterwards)."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


__all__: Sequence[str] = ("front_figure", "parallel_figure", "convergence_figure", "families_figure",
                          "layers_figure", "save_figure", "png_bytes", "projections")
