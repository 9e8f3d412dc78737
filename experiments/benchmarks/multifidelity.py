"""Multi-fidelity early stopping: best validation accuracy and total epochs with and without pruning.

Trained trials are deterministic for a seed and independent of pruning (a trial pruned after k epochs
has the first k epochs of its unpruned history), and with ``--strategy random`` the trial sequence does
not depend on results. So one unpruned `nas search --evaluator train --strategy random` run gives the
pruned runs exactly: each pruner (nas.search.loop.pruning.EpochPruner, the one `--pruner` uses) is fed
the trials' histories in trial order. With --live, a real `--pruner` run's trials are checked against
the simulation (they must agree trial by trial).

    python experiments/benchmarks/multifidelity.py --run RUN_UNPRUNED [--live RUN_SHA] [--trials 40]

Measured (docs/training.md): hybrid on digits at 1x32x32, 40 trials, 9 epochs, the command below twice
(with and without ``--pruner sha``), then ``--run RUN --live RUN_SHA --min-epochs 1 2 3``:

    nas search --space hybrid --evaluator train --data digits --resize 1x32x32 --epochs 9 --strategy random \
        --trials 40 --seed 0 --budget 8M-flops --train-option batch_size=64 [--pruner sha]

No pruning: best valid 0.993 in 360 epochs; --pruner sha (rungs 1, 3, 9): 0.993 in 104 epochs (28.9 %).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nas.search.loop.pruning import EpochPruner, first_rung


def load_trials(run: Path) -> list[dict]:
    """The run's trials: trials.json of a finished run, else the trials stored so far in its study.db."""
    if (run / "trials.json").is_file():
        doc = json.loads((run / "trials.json").read_text())
        return sorted(doc["trials"] if isinstance(doc, dict) else doc, key=lambda t: t["number"])
    from nas.search.results.storage import OptunaStore, sqlite_url

    cfg = json.loads((run / "config.json").read_text())
    store = OptunaStore(sqlite_url(run / "study.db"), run.name, cfg["directions"], create=False)
    return [t.to_json() for _, t in sorted(store.trials().items())]


def simulate(trials: list[dict], kind: str, max_epochs: int, min_epochs: int = 1) -> list[dict]:
    """Per trial: the epochs it would train and its last validation accuracy under ``kind`` pruning."""
    pruner = EpochPruner(kind, max_epochs, min_epochs) if kind != "none" else None
    out = []
    for t in trials:
        if t["state"] != "complete":
            if pruner is not None and t["state"] == "failed":
                pruner.replay([], failed=True)
            continue
        hist = [float(v) for v in t["info"]["valid_history"]]
        assert len(hist) == max_epochs, "the run must be unpruned"
        seen = hist
        if pruner is not None:
            ot, seen = pruner.start(), []
            for e, v in enumerate(hist, 1):
                seen.append(v)
                if EpochPruner.report(ot, e, v) and e < max_epochs:
                    break
            pruner.finish(ot, seen[-1], len(seen) < max_epochs)
        out.append({"number": t["number"], "epochs": len(seen), "valid_accuracy": seen[-1],
                    "test_accuracy": t["info"]["test_accuracy"] if len(seen) == max_epochs else None})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="an unpruned --evaluator train --strategy random run folder")
    ap.add_argument("--live", help="a --pruner sha run folder of the same settings, to check against")
    ap.add_argument("--trials", type=int, help="use the first N trials (default: all)")
    ap.add_argument("--extra", help="JSON of trials the run had not reached, trained by train_trials.py with the "
                                    "run's evaluator in a second process (trials both made must be identical)")
    ap.add_argument("--min-epochs", type=int, nargs="+",
                    help="the pruners' first rung (epochs before any decision), one result each "
                         "(default: the one --pruner uses, nas.search.loop.pruning.first_rung)")
    args = ap.parse_args()
    cfg = json.loads((Path(args.run) / "config.json").read_text())
    trials = load_trials(Path(args.run))
    extra_check = None
    if args.extra:
        extra = {int(k): v for k, v in json.loads(Path(args.extra).read_text()).items()}
        mine = {t["number"]: t for t in trials}
        both = sorted(set(extra) & set(mine))
        same = [n for n in both if extra[n]["info"]["valid_history"] == mine[n]["info"]["valid_history"]
                and extra[n]["info"]["test_accuracy"] == mine[n]["info"]["test_accuracy"]]
        extra_check = {"run_trials": len(mine), "extra_trials": len(set(extra) - set(mine)),
                       "made_by_both": len(both), "identical": len(same)}
        trials = sorted([*trials, *(extra[n] for n in set(extra) - set(mine))], key=lambda t: t["number"])
        missing = sorted(set(range(len(trials))) - {t["number"] for t in trials})
        assert not missing, f"trials {missing} are in neither the run nor --extra"
    if args.trials:
        trials = [t for t in trials if t["number"] < args.trials]
    epochs = cfg["epochs"]
    res = {}
    kinds = [("none", 1)] + [(k, m) for m in (args.min_epochs or [first_rung(epochs)]) for k in ("sha", "hyperband")]
    for kind, min_e in kinds:
        rows = simulate(trials, kind, epochs, min_e)
        best = max(rows, key=lambda r: r["valid_accuracy"])
        key = kind if kind == "none" else f"{kind}_min{min_e}"
        res[key] = {"trained_trials": len(rows), "total_epochs": sum(r["epochs"] for r in rows),
                     "best_valid_accuracy": best["valid_accuracy"], "best_trial": best["number"],
                     "best_trial_test_accuracy": best["test_accuracy"]}
    for kind in (k for k in res if k != "none"):
        res[kind]["epochs_fraction"] = res[kind]["total_epochs"] / res["none"]["total_epochs"]
        res[kind]["best_difference_points"] = 100 * (res[kind]["best_valid_accuracy"] - res["none"]["best_valid_accuracy"])
        res[kind]["goal_met"] = (abs(res[kind]["best_difference_points"]) <= 0.3 and res[kind]["epochs_fraction"] <= 0.4)
    doc = {"run": args.run, "space": cfg["space"], "data": cfg["data"], "input": cfg["input"], "epochs": epochs,
           "train_options": cfg["train_options"], "budgets": cfg["budgets"], "trials": len(trials), "result": res}
    if extra_check is not None:
        doc["extra_check"] = extra_check
    if args.live:
        live = {t["number"]: t for t in load_trials(Path(args.live)) if t["state"] == "complete"}
        kind = json.loads((Path(args.live) / "config.json").read_text())["pruner"]
        sim = {r["number"]: r for r in simulate(trials, kind, epochs, first_rung(epochs))}
        common = sorted(set(live) & set(sim))
        agree = [n for n in common if int(live[n]["scores"]["epochs"]) == sim[n]["epochs"]
                 and live[n]["scores"]["valid_accuracy"] == sim[n]["valid_accuracy"]]
        live_epochs = sum(int(t["scores"]["epochs"]) for t in live.values())
        doc["live_check"] = {"pruner": kind, "first_rung": first_rung(epochs), "live_trials_compared": len(common),
                             "agree": len(agree), "live_total_epochs": live_epochs,
                             "live_best_valid_accuracy": max(t["scores"]["valid_accuracy"] for t in live.values())}
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
