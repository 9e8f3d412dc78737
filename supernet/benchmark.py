"""Measurements of a supernet: parity, training cost, ranking quality, weight inheritance.

Used by ``nas bench supernet`` (small settings) and ``experiments/benchmarks/supernet_*.py`` (the
figures in the issue). Every function takes its sizes and seeds as arguments and returns plain values.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
import torch

from nas.hw_models.analytic import analytic_costs
from nas.searchspace.architecture import Architecture
from nas.supernet.network import Supernet, build_supernet
from nas.training.datasets import DatasetSplits


def parity(net: Supernet, n: int, seed: int = 0, batch: int = 2) -> float:
    """Largest |supernet(x, arch) − extract(arch)(x)| in eval mode over ``n`` sampled architectures."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *net.input.shape(1)[1:], generator=gen)
    was = net.training
    net.eval()
    worst = 0.0
    with torch.no_grad():
        for _ in range(n):
            a = net.sample(rng)
            worst = max(worst, float((net(x, a) - net.extract(a).eval()(x)).abs().max()))
    net.train(was)
    return worst


def spread_over_flops(net: Supernet, n: int, seed: int = 0, pool: int = 400) -> list[Architecture]:
    """``n`` distinct architectures at evenly spaced FLOPs quantiles of ``pool`` uniform draws."""
    rng = np.random.default_rng(seed)
    cands = list(dict.fromkeys(net.sample(rng) for _ in range(pool)))
    cands.sort(key=lambda a: analytic_costs(net.space.resolve(a)).flops)
    idx = np.unique(np.round(np.linspace(0, len(cands) - 1, n)).astype(int))
    return [cands[i] for i in idx]


def _step_cost_child(space: str, input: str, batch: int, mode: str, steps: int) -> dict[str, float]:
    from nas.supernet.sampling import make_sampler
    from nas.supernet.train import SupernetTrainConfig, sandwich_step, step_archs

    torch.manual_seed(0)
    net = build_supernet(space, input, 10).train()
    cfg = SupernetTrainConfig()
    sampler = make_sampler("uniform", net.space)
    x = torch.randn(batch, *net.input.shape(1)[1:])
    y = torch.randint(0, 10, (batch,))
    largest = net.largest()
    archs = [step_archs(net, sampler, 0, i, cfg.num_random) for i in range(steps + 2)]

    def one(i: int) -> None:
        net.zero_grad(set_to_none=True)
        if mode == "sandwich":
            sandwich_step(net, archs[i], x, y, cfg)
        else:
            torch.nn.functional.cross_entropy(net(x, largest), y).backward()

    # warm up on every subnet first (oneDNN builds a kernel per new shape), then time
    for i in range(steps + 2):
        one(i)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    for i in range(steps):
        one(i)
    seconds = (time.perf_counter() - t0) / steps
    return {"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024}


def step_cost(space: str, input: str, batch: int, steps: int = 3) -> dict[str, Any]:
    """One sandwich step vs one largest-subnet step: seconds each (same machine, same run, alternating
    fresh processes so neither inherits the other's memory) and each process's peak resident memory."""
    out: dict[str, Any] = {}
    for mode in ("largest", "sandwich"):
        code = ("import json,sys; from nas.supernet.benchmark import _step_cost_child as f; "
                f"print(json.dumps(f({space!r}, {input!r}, {batch}, {mode!r}, {steps})))")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out[mode] = json.loads(res.stdout.strip().splitlines()[-1])
    out["sandwich_step_time_ratio"] = out["sandwich"]["seconds"] / out["largest"]["seconds"]
    return out


def kendall(a: list[float], b: list[float]) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic)


def ranking(net: Supernet, data: DatasetSplits, archs: list[Architecture], standalone: list[float], *,
            bn_images: int, seed: int = 0) -> dict[str, Any]:
    """Kendall τ against ``standalone`` accuracies of inherited accuracy (with and without BN
    recalibration) and of params, FLOPs and synflow on the same subnets."""
    from nas.predictors.score import SCORES
    from nas.supernet.train import subnet_accuracy

    specs = [net.space.resolve(a) for a in archs]
    inherited = [subnet_accuracy(net, a, data, bn_images=bn_images, seed=seed) for a in archs]
    no_recal = [subnet_accuracy(net, a, data, recalibrate=False) for a in archs]
    params = [analytic_costs(s).params for s in specs]
    flops = [analytic_costs(s).flops for s in specs]
    synflow = SCORES.get("synflow")()
    syn = [synflow(s) for s in specs]
    return {"kendall_tau": kendall(inherited, standalone), "kendall_tau_no_bn_recal": kendall(no_recal, standalone),
            "kendall_tau_params": kendall(params, standalone), "kendall_tau_flops": kendall(flops, standalone),
            "kendall_tau_synflow": kendall(syn, standalone),
            "rows": [{"digest": a.digest(), "flops": f, "params": p, "synflow": s, "standalone": sa,
                      "inherited": i, "inherited_no_bn_recal": n}
                     for a, f, p, s, sa, i, n in zip(archs, flops, params, syn, standalone, inherited, no_recal)]}
