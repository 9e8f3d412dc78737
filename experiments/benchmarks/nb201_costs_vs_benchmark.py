"""Our analytic FLOPs / params of NAS-Bench-201 cells against the values NASLib stored.

Data: ``nas_bench_suite_zero_samples/zc_nasbench201.json`` (491 architectures per dataset; see its
SOURCE.md), read through ``nas.settings.benchmarks_dir()``. For each dataset it prints the largest
relative error of our FLOPs (MACs) and params against the stored values, then the error after adding
the terms NASLib's counter counts and we do not (``naslib_extra_flops``), which must be ~0. It also
checks the key decoding (Spearman of NASLib's val accuracy against NB201's cifar10-valid accuracy)
and our FLOPs/params range over all 15,625 cells against NAS-Bench-201's published range.

    python experiments/benchmarks/nb201_costs_vs_benchmark.py [--data PATH] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter

from scipy.stats import spearmanr

from nas.hw_models.analytic import analytic_costs
from nas.searchspace import get_space
from nas.searchspace.spaces._nb201_data import DATASETS, load_naslib_nb201, naslib_extra_flops
from nas.searchspace.spaces.nb201_table import ACCURACY_CSV
from nas.settings import benchmarks_dir


def compare(data, dataset: str) -> dict:
    inp, classes = DATASETS[dataset]
    space = get_space("nb201", input=inp, num_classes=classes)
    rows = []
    for r in load_naslib_nb201(data, dataset):
        spec = space.resolve(space.parse_string(r.arch))
        c = analytic_costs(spec)
        extra = naslib_extra_flops(spec)
        rows.append((r, c.flops, c.params, extra))
    err_f = [(abs(f / 1e6 - r.mflops) / r.mflops, r.arch) for r, f, _, _ in rows]
    err_p = [abs(p / 1e6 - r.mparams) / r.mparams for r, _, p, _ in rows]
    err_fx = [abs((f + x) / 1e6 - r.mflops) / r.mflops for r, f, _, x in rows]
    worst = max(err_f)
    return {"dataset": dataset, "archs": len(rows), "max_rel_err_flops": worst[0], "worst_arch": worst[1],
            "min_rel_err_flops": min(e for e, _ in err_f), "max_rel_err_params": max(err_p),
            "max_rel_err_flops_after_extras": max(err_fx),
            "ours_below_stored": all(f / 1e6 < r.mflops for r, f, _, _ in rows)}


def decoding_check(data) -> float:
    """Spearman of NASLib's cifar10 val accuracy vs NB201 cifar10-valid valid accuracy (same archs)."""
    with open(data / ACCURACY_CSV, newline="") as f:
        acc = {r["arch_str"]: float(r["cifar10valid_valid"]) for r in csv.DictReader(f)}
    recs = load_naslib_nb201(data, "cifar10")
    return float(spearmanr([r.val_accuracy for r in recs], [acc[r.arch] for r in recs]).statistic)


def full_range() -> dict:
    """Our FLOPs / params over all 15,625 cells at 3×32×32, 10 classes (costs depend on op counts only)."""
    from itertools import product

    from nas.searchspace.ops.nb201 import NB201_OPS

    space = get_space("nb201")
    seen: dict[tuple, tuple[int, int]] = {}
    for ops in product(NB201_OPS, repeat=6):
        key = tuple(sorted(Counter(ops).items()))
        if key not in seen:
            a = space.make(**dict(zip([d.name for d in space.dims], ops)))
            c = analytic_costs(space.resolve(a))
            seen[key] = (c.flops, c.params)
    flops = [f for f, _ in seen.values()]
    params = [p for _, p in seen.values()]
    return {"mflops_min": min(flops) / 1e6, "mflops_max": max(flops) / 1e6,
            "mparams_min": min(params) / 1e6, "mparams_max": max(params) / 1e6,
            "published": "NAS-Bench-201 paper, CIFAR-10: FLOPs 7.78-220.11 M, params 0.073-1.531 MB"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="benchmark data folder (default: nas.settings.benchmarks_dir())")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    data = benchmarks_dir(args.data)
    out = {"per_dataset": [compare(data, ds) for ds in DATASETS], "decoding_spearman": decoding_check(data),
           "range_all_15625": full_range()}
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    print("NAS-Bench-201: our analytic costs vs NASLib's stored flops/params (zc_nasbench201.json)")
    print(f"{'dataset':16} {'archs':>5} {'max rel err FLOPs':>18} {'min':>8} {'max rel err params':>19} "
          f"{'FLOPs err after extras':>23}")
    for r in out["per_dataset"]:
        print(f"{r['dataset']:16} {r['archs']:5d} {r['max_rel_err_flops']:18.4%} {r['min_rel_err_flops']:8.4%} "
              f"{r['max_rel_err_params']:19.4%} {r['max_rel_err_flops_after_extras']:23.2e}")
    w = out["per_dataset"][0]
    print(f"worst FLOPs arch (cifar10): {w['worst_arch']}; ours below stored for every arch: {w['ours_below_stored']}")
    print("why: NASLib's counter also counts BatchNorm (2/element), ReLU (1/input element), average pools "
          "(k^2/output element) and the global pool (C*(H+1)^2); we count multiply-accumulates of convs and "
          "linears only (the classifier bias is counted by neither). Params agree exactly.")
    print(f"key decoding check: Spearman(NASLib val acc, NB201 cifar10-valid acc) = {out['decoding_spearman']:.3f}")
    rng = out["range_all_15625"]
    print(f"all 15,625 cells (ours): FLOPs {rng['mflops_min']:.4f}-{rng['mflops_max']:.4f} M, params "
          f"{rng['mparams_min']:.6f}-{rng['mparams_max']:.6f} M; {rng['published']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
