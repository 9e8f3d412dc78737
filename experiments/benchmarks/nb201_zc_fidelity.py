"""Fidelity of our zero-cost proxies on the 491 NB201 cells of the NAS-Bench-Suite-Zero samples.

Computes every proxy of ``nas.predictors.proxies`` (DeepMAD aside: it has no rule for NB201 cells):
synflow, params and flops on the full NB201 network (5 cells per stage, C=16, 3×32×32), the others on a
reduced one (1 cell per stage, C=8, 3×16×16; ``nas.predictors.evaluation.ZC_REDUCED``) with a minibatch
of ``--data`` (default mnist5k resized to 3×16×16) and of random inputs, caches them (``NAS_CACHE`` or ~/.cache/nas), and prints
each proxy's Spearman ρ with the CIFAR-10 accuracy next to the stored (CIFAR-10) value's, and the
Spearman ρ between our values and the stored ones.

    OMP_NUM_THREADS=1 python experiments/benchmarks/nb201_zc_fidelity.py [--limit N] [--format json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

OURS = ("synflow", "snip", "grad_norm", "grasp", "fisher", "jacov", "naswot", "zen", "plain", "l2_norm",
        "epe_nas", "params", "flops")


def proxies_for(source: str, batch: int, seed: int = 0):
    from nas.predictors.evaluation import nb201_zero_cost
    from nas.predictors.proxy_cache import default_cache_dir

    return nb201_zero_cost(None if source == "random" else source, batch, seed, cache=str(default_cache_dir()))


def main(argv: list[str] | None = None) -> int:
    import torch

    from nas.predictors.proxies import spearman_table
    from nas.predictors.suite_zero import load_suite_zero, nb201_genes
    from nas.searchspace import get_space

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="mnist5k")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--limit", type=int, default=0, help="only the first N cells (0: all 491)")
    ap.add_argument("--only", metavar="SOURCE", help="only fill the cache for this source (a dataset or random)")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    sz = load_suite_zero("nb201", "cifar10")
    space = get_space("nb201")
    n = args.limit or len(sz)
    archs = [space.make(**nb201_genes(k)) for k in sz.keys[:n]]
    acc = sz.accuracy[:n]
    ours = {}
    for source in ([args.only] if args.only else (args.data, "random")):
        px = proxies_for(source, args.batch)
        t0 = time.time()
        vals = []
        for i, a in enumerate(archs):
            vals.append(px(a))
            if (i + 1) % 25 == 0:
                print(f"{source}: {i + 1}/{n} cells, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        ours[source] = {p: np.array([v[p] for v in vals]) for p in OURS}
    if args.only:
        return 0
    stored_acc = spearman_table({p: v[:n] for p, v in sz.stored.items()}, acc)
    rows = []
    for p in OURS:
        row = {"proxy": p, "stored_rho_acc": stored_acc.get(p)}
        for source in (args.data, "random"):
            tag = "random" if source == "random" else "data"
            row[f"ours_{tag}_rho_acc"] = spearman_table({p: ours[source][p]}, acc)[p]
            if p in sz.stored:
                row[f"ours_{tag}_rho_stored"] = spearman_table({p: ours[source][p]}, sz.stored[p][:n])[p]
        rows.append(row)
    if args.format == "json":
        json.dump({"cells": n, "data": args.data, "batch": args.batch, "rows": rows}, sys.stdout, indent=2)
        print()
    else:
        cols = ["proxy", "stored_rho_acc", "ours_data_rho_acc", "ours_random_rho_acc", "ours_data_rho_stored",
                "ours_random_rho_stored"]
        print(f"{n} NB201 cells; synflow/params/flops on the full net; the rest on 1 cell/stage, C=8, 16×16 with "
              f"{args.data} ×{args.batch} or random inputs; accuracy = Suite-Zero CIFAR-10")
        print("  ".join(f"{c:>22}" for c in cols))
        for r in rows:
            print("  ".join(f"{r[c]:>22}" if isinstance(r.get(c), str) else
                            (f"{'-':>22}" if r.get(c) is None else f"{r[c]:>22.3f}") for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
