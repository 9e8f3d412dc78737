"""Write ``space_analysis.ipynb`` (outputs cleared) from the cell sources below.

Run ``python experiments/notebooks/build_space_analysis.py`` after editing a cell here; the notebook
in git is this script's output, so the two never drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling helper: builders run as scripts and tests load them by path
from _notebook_cells import notebook_from_cells  # noqa: E402

NOTEBOOK = HERE / "space_analysis.ipynb"

CELLS: list[tuple[str, str, list[str]]] = [
    ("md", """\
# What the search spaces hold

1. **Contents**: each registered space's size, genes and operation families.
2. **Cost distributions**: FLOPs (one multiply-accumulate = one FLOP) and params of seeded samples,
   computed in closed form on the resolved `NetSpec` (no torch).
3. **NAS-Bench-201**: the benchmark's CIFAR-10 test accuracy of all 15,625 cells against our FLOPs,
   with the Spearman rank correlation.

The data for part 3 is found by `nas.settings.benchmarks_dir()` (`NAS_BENCHMARKS`, or `../shared/benchmarks`).""", []),
    ("code", """\
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from nas.searchspace import SPACES, get_space
from nas.searchspace.analysis import analyze_space, genes_frame, spec_costs
from nas.settings import benchmarks_dir

SEED = 0          # every sample below comes from numpy.random.default_rng(SEED)
SAMPLES = 300     # per space
SPACE_NAMES = SPACES.names()
pd.set_option("display.max_colwidth", 80)
SPACE_NAMES""", []),
    ("md", "## 1. What the spaces contain", []),
    ("code", """\
analyses = {name: analyze_space(get_space(name), SAMPLES, np.random.default_rng(SEED), seed=SEED)
            for name in SPACE_NAMES}
overview = pd.DataFrame([{
    "space": a.space,
    "size": f"{a.size:,}" + (" (before constraints)" if a.constrained else ""),
    "genes": a.genes,
    "input": a.to_dict()["input"],
    "classes": get_space(a.space).num_classes,
    "families (layers in the samples)": ", ".join(f"{f} {c}" for f, c in a.families.items()),
} for a in analyses.values()]).set_index("space")
overview""", []),
    ("code", """\
for name in SPACE_NAMES:
    g = genes_frame(get_space(name))
    print(f"{name}: {len(g)} genes")
    display(g.head(12))""", []),
    ("md", """\
## 2. Cost distributions

Each space sampled `SAMPLES` times with the same seed. Medians and 10-90% ranges below; the
histograms use a log scale because widths and depths multiply.""", []),
    ("code", """\
summary = pd.DataFrame([{
    "space": name,
    "FLOPs p10 (M)": a.distributions["flops"].p10 / 1e6,
    "FLOPs median (M)": a.distributions["flops"].median / 1e6,
    "FLOPs p90 (M)": a.distributions["flops"].p90 / 1e6,
    "params median (M)": a.distributions["params"].median / 1e6,
    "activations median (M el.)": a.distributions["memory"].median / 1e6,
    "resolve + cost (ms / sample)": 1e3 * a.seconds / a.samples,
} for name, a in analyses.items()]).set_index("space")
summary.round(3)""", []),
    ("code", """\
fig, axes = plt.subplots(2, len(SPACE_NAMES), figsize=(3.6 * len(SPACE_NAMES), 5.5), squeeze=False)
for j, name in enumerate(SPACE_NAMES):
    frame = analyses[name].frame()
    for i, (col, unit) in enumerate([("flops", "FLOPs (M)"), ("params", "params (M)")]):
        values = frame[col].to_numpy() / 1e6
        ax = axes[i, j]
        lo, hi = values.min(), values.max()
        bins = np.geomspace(lo, hi * 1.0001, 30) if hi > lo * 1.5 else 30
        ax.hist(values, bins=bins, color="C0" if i == 0 else "C1")
        if hi > lo * 1.5:
            ax.set_xscale("log")
        ax.set_xlabel(unit)
        if i == 0:
            ax.set_title(f"{name} (n={len(values)})")
axes[0, 0].set_ylabel("samples")
axes[1, 0].set_ylabel("samples")
fig.tight_layout()""", []),
    ("md", """\
## 3. NAS-Bench-201: test accuracy against our FLOPs

All 15,625 cells of `nb201_merged.csv` (see its `SOURCE.md`): `cifar10_test_nats` is the CIFAR-10 test
accuracy of the cell trained on train+valid for 200 epochs (mean over seeds). Each arch string is parsed
by our `nb201` space and its FLOPs computed on the resolved NetSpec.""", []),
    ("code", """\
data = benchmarks_dir() / "nb201_accuracy" / "nb201_merged.csv"
bench = pd.read_csv(data)
nb201 = get_space("nb201")
start = time.perf_counter()
cache = {}  # each distinct (op, input type, hp) costed once: NB201 repeats every cell five times
costs = [spec_costs(nb201.resolve(nb201.parse_string(s)), cache=cache) for s in bench["arch_str"]]
bench["flops"] = [c["flops"] for c in costs]
bench["params"] = [c["params"] for c in costs]
print(f"{len(bench):,} cells from {data}; resolved and costed in {time.perf_counter() - start:.1f} s")
bench[["flops", "params"]].describe().round(0)""", []),
    ("code", """\
rho_flops = float(spearmanr(bench["flops"], bench["cifar10_test_nats"]).statistic)
rho_params = float(spearmanr(bench["params"], bench["cifar10_test_nats"]).statistic)
rho_c100 = float(spearmanr(bench["flops"], bench["cifar100_test"]).statistic)
rho_in16 = float(spearmanr(bench["flops"], bench["imagenet16_test"]).statistic)
print(f"Spearman rho(FLOPs, CIFAR-10 test accuracy)   = {rho_flops:.4f}")
print(f"Spearman rho(params, CIFAR-10 test accuracy)  = {rho_params:.4f}  (same ranking as FLOPs, see below)")
print(f"Spearman rho(FLOPs, CIFAR-100 test accuracy)  = {rho_c100:.4f}")
print(f"Spearman rho(FLOPs, ImageNet16-120 test acc.) = {rho_in16:.4f}")

fig, ax = plt.subplots(figsize=(6.5, 4.5))
ax.scatter(bench["flops"] / 1e6, bench["cifar10_test_nats"], s=3, alpha=0.25)
ax.set_xlabel("our FLOPs (M, one MAC = one FLOP)")
ax.set_ylabel("CIFAR-10 test accuracy (%)")
ax.set_title(f"NAS-Bench-201, {len(bench):,} cells: Spearman rho = {rho_flops:.3f}")
ax.set_ylim(bottom=max(0, bench["cifar10_test_nats"].quantile(0.01) - 5))
best = bench.loc[bench["cifar10_test_nats"].idxmax()]
ax.annotate(f"best {best['cifar10_test_nats']:.2f}%", (best["flops"] / 1e6, best["cifar10_test_nats"]))
fig.tight_layout()""", []),
    ("md", """\
Why FLOPs and params rank the cells identically: the stem, the two reduction blocks and the head are
the same in every cell, and each stage doubles C while halving H and W, so a k×k conv edge costs
C²·k²·H·W MACs in all three stages. FLOPs are therefore a·(n₁ + 9·n₃) + const, with n₁ and n₃ the
numbers of 1×1 and 3×3 edges; params are b·n₁ + c·n₃ + const with c/b just under 9 (BatchNorm adds 2C
to every conv). With at most six edges both order the (n₁, n₃) pairs the same way, so the 15,625 cells
fall on `nb201_unique_flops` distinct FLOPs values (printed below) and tie within each.""", []),
    ("md", "The numbers the tests check (`tests/test_notebook.py` reads the JSON line this cell prints):", []),
    ("code", """\
result = {
    "nb201_cells": len(bench),
    "nb201_unique_flops": int(bench["flops"].nunique()),
    "spearman_flops_cifar10_test": round(rho_flops, 6),
    "spearman_params_cifar10_test": round(rho_params, 6),
    "best_cifar10_test": round(float(bench["cifar10_test_nats"].max()), 4),
    "spaces": {name: {"size": a.size, "median_flops": a.distributions["flops"].median}
               for name, a in analyses.items()},
}
print(json.dumps(result))""", ["summary"]),
]


def build() -> nbformat.NotebookNode:
    return notebook_from_cells(CELLS)


if __name__ == "__main__":
    nbformat.write(build(), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
