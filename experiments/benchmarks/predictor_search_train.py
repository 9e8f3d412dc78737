"""Predictor-guided search with real training: BANANAS vs regularized evolution vs random on ``hybrid`` / mnist5k.

Every trial trains the network with one fixed short schedule (``nas.training.train``, the trainer behind
``nas search --evaluator train``) on a fixed subset of mnist5k's train split and is scored by its
validation accuracy (400 images); the test accuracy (1,000 images) is measured for the best-by-validation
network of each run only. Within one process (one seed) a network trained once is reused by every
searcher that asks for it again (same architecture, same schedule and seed: the same result).

    OMP_NUM_THREADS=1 python experiments/benchmarks/predictor_search_train.py --seed 0 --out /tmp/pst0.json
    python experiments/benchmarks/predictor_search_train.py --report /tmp/pst0.json /tmp/pst1.json /tmp/pst2.json

One process per seed shares trained networks across its searchers; on a crowded machine run one process
per (seed, strategy) with ``--strategies NAME`` instead and pass all files to ``--report``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

STRATEGIES = {"bananas": {}, "evolution": {"population": 10, "sample_size": 3}, "random": {}}


class SubsetTrainEvaluator:
    """Trains an architecture of ``space`` with ``config`` on ``data``; metrics ``score`` = validation
    accuracy; keeps each trained model's weights so the best run's test accuracy can be measured later."""

    def __init__(self, space: Any, data: Any, config: Any) -> None:
        self.space, self.data, self.config = space, data, config
        self.results: dict[str, dict[str, Any]] = {}
        self.trained = 0

    def __call__(self, arch: Any) -> dict[str, float]:
        from nas.training.trainer import build_model, train

        key = arch.digest()
        if key not in self.results:
            model = build_model(self.space.resolve(arch), self.config.seed)
            r = train(model, self.data, self.config)
            if r.diverged:
                raise RuntimeError("training diverged")
            self.results[key] = {"valid": float(r.valid_accuracy), "seconds": float(r.train_seconds),
                                 "state": {k: v.clone() for k, v in model.state_dict().items()}}
            self.trained += 1
        return {"score": self.results[key]["valid"]}

    def test_accuracy(self, arch: Any, test: Any) -> float:
        from nas.training.trainer import build_model, evaluate

        model = build_model(self.space.resolve(arch), self.config.seed)
        model.load_state_dict(self.results[arch.digest()]["state"])
        return float(evaluate(model, test)[1])


def run_seed(args: argparse.Namespace) -> dict[str, Any]:
    import dataclasses

    import torch

    from nas.errors import NasError
    from nas.hw_models.budget import Budget
    from nas.search import make_searcher, run_search
    from nas.search.app.space_eval import SpaceCosts
    from nas.search.loop.evaluation import CachedCosts, budget_violation
    from nas.search.space_ref import SpaceRef
    from nas.training import TrainConfig, load_dataset
    from nas.training.datasets import Split

    torch.set_num_threads(1)
    full = load_dataset("mnist5k", resize=args.input)
    n = args.train_images
    data = dataclasses.replace(full, train=Split(full.train.x[:n], full.train.y[:n]),
                               test=Split(full.test.x[:2], full.test.y[:2]))  # test measured once, at the end
    ref = SpaceRef("hybrid", args.input, full.num_classes)
    space = ref.space
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, seed=args.seed, augment="none",
                         warmup_epochs=0.0, optimizer=args.optimizer)
    budgets = (Budget.parse(args.budget),)
    space_costs = SpaceCosts(ref)

    def safe_costs(arch: Any) -> dict[str, float]:
        try:
            return space_costs(arch)
        except NasError:  # a sampled network that does not resolve at this input: never feasible
            return {"flops": float("inf"), "params": float("inf")}

    costs = CachedCosts(safe_costs)
    evaluator = SubsetTrainEvaluator(space, data, config)
    out: dict[str, Any] = {"seed": args.seed, "schedule": {**config.to_json(), "train_images": n,
                                                           "valid_images": len(full.valid), "input": args.input,
                                                           "budget": args.budget}, "runs": {}}
    for name in args.strategies:
        start = time.perf_counter()
        searcher = make_searcher(name, space, np.random.default_rng(args.seed),
                                 constraint=budget_violation(budgets, costs), **STRATEGIES[name])
        curve: list[float | None] = []

        def progress(trial: Any, replayed: bool, name: str = name, curve: list = curve) -> None:
            curve.append(trial.values[0] if trial.complete else None)
            if args.out:  # partial results survive a kill
                done_v = [v for v in curve if v is not None]
                Path(args.out + f".{name}.partial").write_text(json.dumps(
                    {"seed": args.seed, "strategy": name, "trials": len(curve),
                     "best_valid": max(done_v) if done_v else None, "valid_curve": curve,
                     "seconds": time.perf_counter() - start}))

        result = run_search(searcher, evaluator, args.trials, costs=costs, budgets=budgets, on_trial=progress)
        done = [t for t in result.trials if t.complete]
        best = max(done, key=lambda t: (t.values[0], -t.number))
        out["runs"][name] = {"best_valid": best.values[0], "best_test": evaluator.test_accuracy(best.arch, full.test),
                             "best_arch": best.arch.to_json(), "complete": len(done), "trials": len(result.trials),
                             "valid_curve": [t.values[0] if t.complete else None for t in result.trials],
                             "seconds": time.perf_counter() - start, "trained_so_far": evaluator.trained}
        print(f"seed {args.seed} {name}: best valid {best.values[0]:.4f}, test {out['runs'][name]['best_test']:.4f}, "
              f"{out['runs'][name]['seconds']:.0f} s, {evaluator.trained} networks trained so far",
              file=sys.stderr, flush=True)
    return out


def report(paths: list[str]) -> int:
    by_seed: dict[int, dict[str, Any]] = {}
    for p in paths:  # one file per seed, or one per (seed, strategy): runs of a seed are merged
        d = json.loads(Path(p).read_text())
        by_seed.setdefault(d["seed"], {"seed": d["seed"], "schedule": d["schedule"], "runs": {}})["runs"].update(d["runs"])
    docs = [by_seed[k] for k in sorted(by_seed)]
    names = [n for n in STRATEGIES if all(n in d["runs"] for d in docs)]
    print(f"hybrid on mnist5k, {len(docs)} seeds; schedule: {json.dumps(docs[0]['schedule'])}")
    print(f"{'strategy':<10} {'valid mean':>10} {'valid std':>9} {'test mean':>9} {'test std':>8}   per seed (valid/test)")
    rows = []
    for name in names:
        v = np.array([d["runs"][name]["best_valid"] for d in docs])
        t = np.array([d["runs"][name]["best_test"] for d in docs])
        per = "  ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(v, t))
        print(f"{name:<10} {v.mean():>10.4f} {v.std():>9.4f} {t.mean():>9.4f} {t.std():>8.4f}   {per}")
        rows.append({"strategy": name, "valid_mean": float(v.mean()), "test_mean": float(t.mean())})
    b = {r["strategy"]: r for r in rows}
    if "bananas" in b:
        ahead = all(b["bananas"]["valid_mean"] > r["valid_mean"] for r in rows if r["strategy"] != "bananas")
        ahead_t = all(b["bananas"]["test_mean"] > r["test_mean"] for r in rows if r["strategy"] != "bananas")
        print(f"goal (BANANAS ahead of both on the mean): valid {'met' if ahead else 'missed'}, "
              f"test {'met' if ahead_t else 'missed'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    ap.add_argument("--train-images", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--optimizer", default="adamw")
    ap.add_argument("--input", default="1x32x32")
    ap.add_argument("--budget", default="8M-flops")
    ap.add_argument("--out")
    ap.add_argument("--report", nargs="+", metavar="JSON")
    args = ap.parse_args(argv)
    if args.report:
        return report(args.report)
    out = run_seed(args)
    text = json.dumps(out, indent=1)
    if args.out:
        tmp = Path(args.out + ".tmp")
        tmp.write_text(text)
        tmp.replace(args.out)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
