"""Write ``supernet_and_predictors.ipynb`` (outputs cleared) from the cell sources below.

Run ``python experiments/notebooks/build_supernet_and_predictors.py`` after editing a cell here; the
notebook in git is this script's output, so the two never drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling helper: builders run as scripts and tests load them by path
from _notebook_cells import notebook_from_cells  # noqa: E402

NOTEBOOK = HERE / "supernet_and_predictors.ipynb"

CELLS: list[tuple[str, str, list[str]]] = [
    ("md", """\
# What the supernet and the predictors know

How well do cheap estimates rank networks the way training them does?

1. **Inherited accuracy**: a weight-sharing supernet trained with the sandwich rule; each subnet's
   accuracy with the supernet's weights, with and without BatchNorm recalibration, against the same
   subnet trained stand-alone.
2. **Zero-cost proxies** (synflow, naswot, params, FLOPs) of the same subnets against their stand-alone
   accuracy.
3. **A learned predictor** (random forest) fitted on 100 NB201 cells of NAS-Bench-Suite-Zero and
   ranking the other 391, from the stored zero-cost proxy values (no network is built).

Every ranking is scored by Kendall τ against trained accuracy.

**The schedule here is tiny** (8×8 `digits`, a small NB201 supernet for `SUPERNET_EPOCHS` epochs,
`SUBNETS` subnets trained stand-alone for `STANDALONE_EPOCHS` epoch) so the notebook runs in seconds:
parts 1 and 2 show *how* the rankings are compared, they do not measure how good they are; with so
short a reference training the τ values are noisy and can have either sign. For the full-scale figures
see `docs/supernet.md` (24 mobilenet subnets, mnist5k) and `docs/predictors.md` (the NB201/NB101/NB301
grids, 10 seeds). Part 3 uses the real Suite-Zero data, found by `nas.settings.benchmarks_dir()`
(`NAS_BENCHMARKS`, or `../shared/benchmarks`).""", []),
    ("code", """\
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto, imported by a dependency""", []),
    ("code", """\
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from nas.predictors.proxies import compute, data_batch
from nas.search.bench.supernet_bench import kendall, spread_over_flops
from nas.searchspace.space import SPACES
from nas.supernet import build_supernet
from nas.supernet.train import SupernetTrainConfig, subnet_accuracy, train_supernet
from nas.training.datasets import load_dataset
from nas.training.trainer import TrainConfig, build_model, train

SUPERNET_EPOCHS = 2
SUBNETS = 8
STANDALONE_EPOCHS = 1
BN_IMAGES = 256
torch.manual_seed(0)

data = load_dataset("digits")
space = SPACES.get("nb201")(input=data.input_type, num_classes=data.num_classes, channels=8, cells=1)
print(f"{data.name}: {len(data.train)} train / {len(data.valid)} valid images of {data.input_type}; "
      f"space nb201, C=8, 1 cell per stage")""", []),
    ("md", "## 1. Inherited against stand-alone accuracy", []),
    ("code", """\
net = build_supernet(space, seed=0)
cfg = SupernetTrainConfig(epochs=SUPERNET_EPOCHS, batch_size=128, optimizer="adamw", bn_images=BN_IMAGES)
history = pd.DataFrame(train_supernet(net, data, cfg)["history"])
history[["epoch", "train_loss", "valid_accuracy_largest", "valid_accuracy_smallest"]].round(3)""", []),
    ("code", """\
archs = spread_over_flops(net, SUBNETS, seed=1)   # distinct subnets at evenly spaced FLOPs quantiles
sa_cfg = TrainConfig(epochs=STANDALONE_EPOCHS, batch_size=64, optimizer="adamw")
rows = []
for a in archs:
    spec = space.resolve(a)
    rows.append({
        "arch": a.digest(),
        "standalone": train(build_model(spec, seed=0), data, sa_cfg, evaluate_test=False).valid_accuracy,
        "inherited": subnet_accuracy(net, a, data, bn_images=BN_IMAGES),
        "inherited_no_bn_recal": subnet_accuracy(net, a, data, recalibrate=False),
    })
subnets = pd.DataFrame(rows)
tau_inherited = {c: kendall(subnets[c].tolist(), subnets["standalone"].tolist())
                 for c in ("inherited", "inherited_no_bn_recal")}
subnets.round(3)""", []),
    ("code", """\
fig, ax = plt.subplots(figsize=(5, 4))
for col, marker in (("inherited", "o"), ("inherited_no_bn_recal", "x")):
    ax.scatter(subnets["standalone"], subnets[col], marker=marker,
               label=f"{col.replace('_', ' ')} (τ = {tau_inherited[col]:.2f})")
ax.axhline(1 / data.num_classes, color="grey", ls="--", lw=1, label="chance")
ax.set_xlabel(f"stand-alone valid accuracy ({STANDALONE_EPOCHS} epoch)")
ax.set_ylabel("inherited valid accuracy")
ax.legend(fontsize=8)
ax.set_title(f"{SUBNETS} subnets, supernet {SUPERNET_EPOCHS} epochs")
print({k: round(v, 3) for k, v in tau_inherited.items()})""", []),
    ("md", """\
## 2. Zero-cost proxies against stand-alone accuracy

Each proxy is computed on the subnet at initialisation (seed 0) with one 16-image batch of training
data; higher is taken to mean better.""", []),
    ("code", """\
PROXIES = ("synflow", "naswot", "params", "flops")
batch = data_batch(data, seed=0)
proxies = pd.DataFrame([compute(PROXIES, space.resolve(a), batch, seed=0) for a in archs])
tau_proxies = {p: kendall(proxies[p].tolist(), subnets["standalone"].tolist()) for p in PROXIES}
fig, axes = plt.subplots(1, len(PROXIES), figsize=(3 * len(PROXIES), 3), sharey=True)
for ax, p in zip(axes, PROXIES):
    ax.scatter(proxies[p], subnets["standalone"])
    ax.set_xlabel(p)
    ax.set_title(f"τ = {tau_proxies[p]:.2f}")
    if p in ("params", "flops"):
        ax.set_xscale("log")
axes[0].set_ylabel("stand-alone valid accuracy")
fig.tight_layout()
print({k: round(v, 3) for k, v in tau_proxies.items()})""", []),
    ("md", """\
## 3. A learned predictor on NB201 (NAS-Bench-Suite-Zero)

491 NB201 cells with NASLib's CIFAR-10 validation accuracy and its stored zero-cost proxies (computed
on CIFAR-10). Each stored proxy on its own, then a random forest fitted on 100 cells (seed 0) and scored
on the other 391, with three encodings: the one-hot cell, the 11 stored proxies, and both.""", []),
    ("code", """\
from nas.predictors.evaluation import ranking_metrics, suite_pool
from nas.predictors.learned import make_predictor
from nas.predictors.suite_zero import load_suite_zero

suite = load_suite_zero("nb201", "cifar10")
pool = suite_pool("nb201")
single = {p: kendall(suite.stored[p].tolist(), suite.accuracy.tolist()) for p in ("synflow", "params", "flops", "jacov")}
print(f"{len(suite)} cells; τ of single stored proxies:", {k: round(v, 3) for k, v in single.items()})

TRAIN = 100
order = np.random.default_rng(0).permutation(len(pool.archs))
train_idx, test_idx = order[:TRAIN], order[TRAIN:]
predicted, tau_predictor = {}, {}
for enc in ("onehot", "zc", "onehot+zc"):
    model = make_predictor("rf", pool.view, encoding=enc, seed=0)
    model.fit([pool.archs[i] for i in train_idx], pool.y[train_idx])
    predicted[enc], _ = model.predict([pool.archs[i] for i in test_idx])
    tau_predictor[enc] = ranking_metrics(predicted[enc], pool.y[test_idx])["kendall_tau"]
print("τ of the random forest on the held-out cells:", {k: round(v, 3) for k, v in tau_predictor.items()})""", []),
    ("code", """\
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
axes[0].scatter(suite.stored["synflow"], suite.accuracy, s=6)
axes[0].set_xlabel("stored synflow")
axes[0].set_ylabel("CIFAR-10 valid accuracy (%)")
axes[0].set_title(f"synflow alone, all {len(suite)} cells: τ = {single['synflow']:.2f}")
best = max(tau_predictor, key=tau_predictor.get)
axes[1].scatter(predicted[best], pool.y[test_idx], s=6)
axes[1].set_xlabel(f"random forest ({best}) prediction")
axes[1].set_title(f"{len(test_idx)} held-out cells: τ = {tau_predictor[best]:.2f}")
fig.tight_layout()""", []),
    ("md", "The numbers the tests check (`tests/test_notebook.py` reads the JSON line this cell prints):", []),
    ("code", """\
result = {
    "subnets": len(subnets),
    "distinct_archs": int(subnets["arch"].nunique()),
    "tau_inherited": tau_inherited["inherited"],
    "tau_inherited_no_bn_recal": tau_inherited["inherited_no_bn_recal"],
    "tau_proxies": tau_proxies,
    "suite_cells": len(suite),
    "predictor_test_cells": len(test_idx),
    "tau_single_stored": single,
    "tau_predictor": tau_predictor,
}
print(json.dumps(result))""", ["summary"]),
]


def build() -> nbformat.NotebookNode:
    return notebook_from_cells(CELLS)


if __name__ == "__main__":
    nbformat.write(build(), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
