"""β-DARTS on ``hybrid`` under ``--budget 600M-flops --target gpu`` against 10 random architectures under the same budget.

The search is ``nas search --space hybrid --classes 10 --strategy beta-darts --budget 600M-flops --target gpu``
with ``data=mnist5k`` (costs and the budget at the space's 3×224×224; the search network at 3×64×64,
widths / ``width_div``). Then the derived architecture and 10 random architectures that meet the budget
are trained the same way (``nas.training.train``, one fixed schedule, at 3×64×64 on the same mnist5k
subset) and compared on the test split; the random baseline is the best of 10 by valid accuracy.

    OMP_NUM_THREADS=1 python experiments/benchmarks/darts_hybrid_budget.py --out runs/darts-hybrid
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/darts-hybrid-budget")
    ap.add_argument("--budget", default="600M-flops")
    ap.add_argument("--target", default="gpu")
    ap.add_argument("--search-epochs", type=int, default=6)
    ap.add_argument("--train-epochs", type=int, default=3)
    ap.add_argument("--train-size", type=int, default=1000)
    ap.add_argument("--randoms", type=int, default=10)
    ap.add_argument("--train-res", type=int, default=64, help="side of the training input (default 64)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--option", action="append", default=[], help="extra searcher option KEY=VALUE")
    args = ap.parse_args(argv)

    from nas.cli.cmd_search import _options
    from nas.errors import NasError
    from nas.hw_models.budget import Budget, BudgetGate
    from nas.search.app.config import SearchConfig
    from nas.search.app.run import plan as make_plan
    from nas.search.app.run import search
    from nas.search.searchers.darts import random_subset
    from nas.searchspace.space import get_space
    from nas.searchspace.tensor_type import TensorType
    from nas.training.datasets import load_dataset
    from nas.training.trainer import TrainConfig, build_model, train

    out = Path(args.out)
    opts = {"data": "mnist5k", "epochs": args.search_epochs, "train_size": args.train_size, "valid_size": 400,
            "width_div": 8, "max_depth": 2, "batch_size": 32, **_options(args.option)}
    cfg = SearchConfig(space="hybrid", num_classes=10, strategy="beta-darts", strategy_options=opts,
                       trials=1, seed=args.seed, budgets=(args.budget,), target=args.target)
    t0 = time.perf_counter()
    run = search(cfg, out / "search", resume=(out / "search" / "study.db").exists())
    result, run_dir, plan = run.result, run.run_dir, make_plan(cfg)
    search_wall = time.perf_counter() - t0
    trial = result.trials[0] if isinstance(result.trials, list) else list(result.trials)[0]
    derived = trial.arch
    budget = Budget.parse(args.budget)
    space = plan.ref.space
    costs = plan.costs
    report = json.loads((run_dir / "darts.json").read_text())

    train_space = get_space("hybrid", input=TensorType.map(3, args.train_res, args.train_res), num_classes=10)
    rng = np.random.default_rng(args.seed + 1)
    randoms, rejected = [], {"over_budget": 0, "not_at_train_res": 0}
    while len(randoms) < args.randoms:
        a = space.sample(rng)
        if not BudgetGate((budget,)).check(costs(a)).ok:
            rejected["over_budget"] += 1
            continue
        try:  # it must also build at the training resolution (the search network's typed choices do)
            train_space.resolve(a)
        except NasError:
            rejected["not_at_train_res"] += 1
            continue
        randoms.append(a)
    data = random_subset(load_dataset("mnist5k", resize=f"3x{args.train_res}x{args.train_res}"), args.train_size, None)
    tcfg = TrainConfig(epochs=args.train_epochs, batch_size=32, optimizer="adamw", seed=args.seed)
    rows = []
    for label, a in [("derived", derived)] + [(f"random{i}", a) for i, a in enumerate(randoms)]:
        model = build_model(train_space.resolve(a), args.seed)
        r = train(model, data, tcfg)
        c = costs(a)
        rows.append({"which": label, "flops_M_224": c["flops"] / 1e6, "latency_ms": c.get("latency_ms"),
                     "valid_acc": r.valid_accuracy, "test_acc": r.test_accuracy, "train_seconds": r.train_seconds,
                     "arch": a.to_json()["genes"] if "genes" in a.to_json() else a.to_json()})
        print(f"{label}: {c['flops'] / 1e6:.1f} M FLOPs, valid {r.valid_accuracy:.4f} test {r.test_accuracy:.4f} "
              f"({r.train_seconds:.0f} s)", file=sys.stderr)
    rand = rows[1:]
    best = max(rand, key=lambda r: r["valid_acc"])
    summary = {"budget": args.budget, "target": args.target, "derived_flops_M": rows[0]["flops_M_224"],
               "derived_meets_budget": BudgetGate((budget,)).check(costs(derived)).ok,
               "derived_test_acc": rows[0]["test_acc"], "best_random_by_valid_test_acc": best["test_acc"],
               "random_test_mean": float(np.mean([r["test_acc"] for r in rand])),
               "random_test_std": float(np.std([r["test_acc"] for r in rand], ddof=1)),
               "random_test_max": max(r["test_acc"] for r in rand), "search_wall_seconds": search_wall,
               "random_rejected": rejected,
               "search_notes": report["notes"], "train_schedule": tcfg.to_json(), "train_images": len(data.train),
               "train_input": f"3x{args.train_res}x{args.train_res}", "cost_input": "3x224x224", "searcher_options": opts}
    doc = {"summary": summary, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    json.dump(summary, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
