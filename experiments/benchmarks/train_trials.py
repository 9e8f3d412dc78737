"""Train chosen trials of a `nas search --evaluator train` run in another process, with the run's own
evaluator (its config.json's settings, no pruning): a second core for an unpruned baseline run.

Trials are deterministic for a seed, so a trial trained here equals the one the run trains (the
multifidelity benchmark checks every trial both made). Architectures come from a run with the same
seed and strategy (e.g. the pruned run, which asks the same architectures), in trial order.

    python experiments/benchmarks/train_trials.py --archs RUN_SHA --config RUN_UNPRUNED --from-end 14 --out X.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nas.io import write_json_atomic
from nas.search.app.config import SearchConfig
from nas.search.app.run import plan
from nas.searchspace.architecture import Architecture


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", required=True, help="a finished run folder with the same seed and strategy")
    ap.add_argument("--config", required=True, help="the run folder whose settings train the trials")
    ap.add_argument("--from-end", type=int, required=True, help="train the last N trials, the last first")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    cfg = json.loads((Path(args.config) / "config.json").read_text())
    sc = SearchConfig(space=cfg["space"], evaluator="train", data=cfg["data"], resize=cfg["resize"],
                      epochs=cfg["epochs"], strategy=cfg["strategy"], trials=cfg["trials"], seed=cfg["seed"],
                      budgets=tuple(cfg["budgets"]), train_options=cfg["train_options"])
    p = plan(sc)
    doc = json.loads((Path(args.archs) / "trials.json").read_text())
    trials = sorted(doc["trials"] if isinstance(doc, dict) else doc, key=lambda t: t["number"])
    out: dict[str, dict] = {}
    for t in reversed(trials[-args.from_end:]):
        if t["state"] != "complete":
            continue
        ev = p.evaluator(Architecture.from_json(t["arch"]))
        out[str(t["number"])] = {"number": t["number"], "state": "complete", "arch": t["arch"],
                                 "scores": dict(ev.metrics), "info": dict(ev.info)}
        write_json_atomic(Path(args.out), out, indent=1)
        print(t["number"], ev.metrics["valid_accuracy"], flush=True)


if __name__ == "__main__":
    main()
