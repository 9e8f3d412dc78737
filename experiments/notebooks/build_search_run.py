"""Write ``search_run.ipynb`` (outputs cleared) from the cell sources below.

Run ``python experiments/notebooks/build_search_run.py`` after editing a cell here; the notebook in
git is this script's output, so the two never drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling helper: builders run as scripts and tests load them by path
from _notebook_cells import notebook_from_cells  # noqa: E402

NOTEBOOK = HERE / "search_run.ipynb"

CELLS: list[tuple[str, str, list[str]]] = [
    ("md", """\
# What a search found

Reads one `nas search` run folder and shows:

1. the trials as a DataFrame;
2. the front in 2-D projections, each with its own non-dominated staircase and the third objective as
   colour, and in parallel coordinates;
3. how the search converged (best score and hypervolume per trial);
4. which operation families the front uses per stage, against all trials;
5. the chosen network's per-layer costs;
6. how this run compares to another (random search on the same budget);
7. the same study in Optuna's own terms (genes as parameters, metric names).

Set `RUN_DIR` (or the environment variable `NAS_RUN_DIR`) to a run folder of yours; by default the
notebook makes a small run itself (`TRIALS` trials of the default search, `nas search --budget
600M-flops --target gpu`) in a temporary folder. `nas report RUN_DIR` writes the same figures as one
HTML page.""", []),
    ("code", """\
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto, imported by a dependency""", []),
    ("code", """\
import json
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from nas.search.app.config import SearchConfig
from nas.search.app.run import search
from nas.search.results.run_analysis import RunFolder, convergence, objective_bounds
from nas.search.results.run_figures import (
    convergence_figure,
    families_figure,
    front_figure,
    layers_figure,
    parallel_figure,
)

RUN_DIR = os.environ.get("NAS_RUN_DIR")          # a run folder of yours, or None to make one here
TRIALS = int(os.environ.get("NAS_NOTEBOOK_TRIALS", "60"))
CHOSEN = 0                                       # front index whose per-layer costs are shown (0 = best score)
BASE = dict(budgets=("600M-flops",), target="gpu", trials=TRIALS, seed=0)
pd.set_option("display.max_columns", 30)

work = Path(tempfile.mkdtemp(prefix="nas-search-run-"))
if RUN_DIR is None:
    RUN_DIR = work / "nsga2"
    search(SearchConfig(**BASE), RUN_DIR, log=lambda m: None)
run = RunFolder.load(RUN_DIR)
print(run.title())
run.summary()""", []),
    ("md", "## 1. The trials", []),
    ("code", """\
trials = run.result.to_dataframe()
print(f"{len(trials)} trials; states: {trials['state'].value_counts().to_dict()}")
trials.drop(columns=["arch"]).head(10)""", []),
    ("code", """\
front = run.front_frame()
print(f"{len(front)} networks on the front of {', '.join(run.view.objectives)}")
front.head(10)""", []),
    ("md", """\
## 2. The front

With three objectives a network can be on the front (no other network beats it in all three) and
still sit inside the cloud of one 2-D view, because it wins on the objective that view hides. Each
panel therefore draws its own 2-D non-dominated staircase (red) and colours the 3-objective front by
the hidden objective.""", []),
    ("code", "front_figure(run.view, run.title());", []),
    ("code", "parallel_figure(run.view);", []),
    ("md", """\
## 3. Convergence

Best score so far, and the hypervolume of the front so far with every objective scaled to [0, 1] over
all trials (best 0, worst 1) and the reference point at 1.1.""", []),
    ("code", """\
progress = run.progress
convergence_figure(run.view, table=progress)
progress.dropna().iloc[[0, len(progress.dropna()) // 2, -1]]""", []),
    ("md", """\
## 4. Operation families per stage

For each stage, the share of networks whose stage uses each family: the front against all complete
trials. A family the front uses more often than the trials do is one the objectives favour there.""", []),
    ("code", """\
families = run.families("family")
families_figure(families)
families.pivot_table(index=["stage", "family"], columns="group", values="share", fill_value=0).round(3)""", []),
    ("code", """\
ops = run.families("op")
ops[ops["group"] == "front"].sort_values(["stage", "share"], ascending=[True, False]).groupby("stage").head(3)""", []),
    ("md", "## 5. The chosen network, layer by layer", []),
    ("code", """\
chosen = run.chosen(CHOSEN)
costs = run.layer_costs(chosen)
print(f"front network {CHOSEN}: trial {chosen.number}, {chosen.arch.digest()}; "
      + ", ".join(f"{o} {v:.4g}" for o, v in zip(run.view.objectives, chosen.values)))
layers_figure(costs, f"trial {chosen.number}")
totals = costs[[c for c in ("flops", "params", "latency_ms") if c in costs]].sum()
costs.assign(**{f"{c} share": costs[c] / totals[c] for c in totals.index}).round(4)""", []),
    ("md", """\
## 6. Against another run

The same budget, target, trials and seed searched by random sampling, both runs scaled by the best and
worst values of the two together, so their hypervolumes are comparable.""", []),
    ("code", """\
other_dir = work / "random"
search(SearchConfig(**{**BASE, **{k: run.config[k] for k in ("trials", "seed") if k in run.config},
                       "space": run.config["space"], "strategy": "random",
                       "budgets": tuple(run.config.get("budgets", ())), "target": run.config.get("target"),
                       "score": run.config["score"]}),
       other_dir, log=lambda m: None)
other = RunFolder.load(other_dir)
bounds = objective_bounds([run.view, other.view])
curves = {run.config["strategy"]: convergence(run.view, bounds), "random": convergence(other.view, bounds)}
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, df in curves.items():
    ax.plot(df["number"], df["hypervolume"], label=name)
ax.set_xlabel("trial")
ax.set_ylabel("hypervolume (shared scale)")
ax.legend()
comparison = pd.DataFrame({name: {"final hypervolume": df["hypervolume"].iloc[-1],
                                  "front size": len(r.front()), "best score": r.view.best().values[0]}
                           for (name, df), r in zip(curves.items(), (run, other))})
comparison""", []),
    ("md", """\
## 7. The study in Optuna's terms

`study.db` stores each trial's genes as Optuna parameters (with their distributions) and the objective
names as the study's metric names, so optuna-dashboard and `optuna.visualization` (which needs
plotly: `pip install nas[viz]`) label their axes and can compute gene importances.""", []),
    ("code", """\
import optuna

study = optuna.load_study(study_name=Path(RUN_DIR).name, storage=f"sqlite:///{Path(RUN_DIR).resolve() / 'study.db'}")
print("metric names:", study.metric_names)
first = study.trials[0]
print("distributions:", {k: type(v).__name__ for k, v in list(first.distributions.items())[:4]}, "...")
study.trials_dataframe(attrs=("number", "values", "params", "state")).head()""", []),
    ("md", "The numbers the tests check (`tests/test_report.py` reads the JSON line this cell prints):", []),
    ("code", """\
shares = run.families("family")
result = {
    "trials": len(run.result),
    "front": len(run.front()),
    "objectives": list(run.view.objectives),
    "final_hypervolume": float(progress["hypervolume"].iloc[-1]),
    "hypervolume_never_drops": bool((progress["hypervolume"].dropna().diff().dropna() >= -1e-12).all()),
    "front_share_sums": shares[shares.group == "front"].groupby("stage")["share"].sum().round(6).to_dict(),
    "chosen_layer_flops_sum": int(costs["flops"].sum()),
    "chosen_flops": float(chosen.costs["flops"]),
    "compared": sorted(curves),
    "study_metric_names": study.metric_names,
    "study_params": sorted(first.params),
}
print(json.dumps(result))""", ["summary"]),
]


def build() -> nbformat.NotebookNode:
    return notebook_from_cells(CELLS)


if __name__ == "__main__":
    nbformat.write(build(), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
