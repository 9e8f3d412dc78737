"""CPU latency models against measurement on this machine (batch 1, 224×224), beside the noise floor.

For held-out random architectures of each space (none of them among the calibration networks), each
network is measured twice, in two separate passes over all networks (pass A, then pass B; inside a pass
groups of networks are measured interleaved, median of ``--runs`` rounds). The reference latency is the
smaller of the A and B medians (interference from other processes only adds time; the calibration uses
the same statistic); the table + learned row is also scored against the geometric mean of A and B. Models: FLOPs-proportional (one ms/FLOP ratio fitted on the calibration
networks of the space), roofline (measured-peak profile, nothing fitted), lookup table, table + learned
correction, roofline + learned correction. Metrics: share within ±10%, Spearman ρ, MAPE. Noise floor:
the share of networks whose measurement A is within ±10% of measurement B, and ρ / MAPE of A against B.

Needs a calibration holding both spaces (``nas latency calibrate --target cpu --space hybrid`` and
``--space mobilenet``). Run it when the machine is quiet; it prints the load average it saw.

    python experiments/benchmarks/latency_cpu_accuracy.py --archs 100 --out latency_cpu_accuracy.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def measure_pass(specs, runs: int, threads: int, group: int, tag: str) -> list[float]:
    from nas.hw_models.measure import measure_specs

    out: list[float] = []
    for i in range(0, len(specs), group):
        out += [m.median_ms for m in measure_specs(specs[i:i + group], runs=runs, warmup=2, threads=threads)]
        log(f"  pass {tag}: {len(out)}/{len(specs)}  load {os.getloadavg()[0]:.2f}")
    return out


def metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    from scipy.stats import spearmanr

    ape = np.abs(pred - truth) / truth
    return {"within10": float(np.mean(ape <= 0.10)), "spearman": float(spearmanr(pred, truth)[0]),
            "mape": float(np.mean(ape))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", default="hybrid,mobilenet")
    ap.add_argument("--archs", type=int, default=100, help="held-out architectures per space")
    ap.add_argument("--seed", type=int, default=12345, help="seed of the held-out sample (calibration uses 0)")
    ap.add_argument("--runs", type=int, default=11, help="interleaved rounds per measurement")
    ap.add_argument("--group", type=int, default=10, help="networks measured interleaved together")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--calibration", help="calibration file (default: this machine's)")
    ap.add_argument("--out", help="write rows and raw measurements as JSON here")
    ap.add_argument("--baseline-calibration", help="also score this calibration (e.g. the shipped "
                    "hw_models/tables/cpu_default.json) on the same measurements, as 'before' rows")
    ap.add_argument("--on-demand", action="store_true", help="also score the cpu target after measuring the "
                    "held-out networks' missing layers on demand (rows marked 'on-demand'; cached like `nas cost`)")
    args = ap.parse_args(argv)

    from nas.hw_models.analytic import analytic_costs
    from nas.hw_models.calibrate import Calibration, calibration_path
    from nas.hw_models.learned import network_features
    from nas.hw_models.machine import default_threads
    from nas.searchspace import Architecture, get_space
    from nas.searchspace.tensor_type import parse_input

    threads = args.threads or default_threads()
    path = Path(args.calibration) if args.calibration else calibration_path(threads)
    cal = Calibration.load(path)
    log(f"calibration {path} ({cal.machine['id']}, {len(cal.table)} layers); load at start {os.getloadavg()}")
    rows, raw = [], {}
    for space_name in args.spaces.split(","):
        if space_name not in cal.corrections:
            raise SystemExit(f"calibration has no {space_name!r} correction; run nas latency calibrate --space {space_name}")
        space = get_space(space_name)
        cal_nets = [n for n in cal.networks if n["space"] == space_name]
        seen = {Architecture.from_json(n["arch"]).digest() for n in cal_nets}
        rng = np.random.default_rng(args.seed)
        archs = []
        while len(archs) < args.archs:
            a = space.sample(rng)
            if a.digest() not in seen:
                seen.add(a.digest())
                archs.append(a)
        specs = [space.resolve(a) for a in archs]
        t0 = time.time()
        load0 = os.getloadavg()
        a_ms = np.array(measure_pass(specs, args.runs, threads, args.group, "A"))
        b_ms = np.array(measure_pass(specs, args.runs, threads, args.group, "B"))
        load1 = os.getloadavg()
        truth = np.minimum(a_ms, b_ms)

        flops = np.array([analytic_costs(s).flops for s in specs], dtype=float)
        cal_specs = [get_space(n["space"], input=parse_input(n["input"])).resolve(Architecture.from_json(n["arch"]))
                     for n in cal_nets]
        k = float(np.median([n["ms"] / analytic_costs(s).flops for n, s in zip(cal_nets, cal_specs)]))
        preds = {
            "flops_proportional": flops * k,
            "roofline": np.array([cal.roofline.latency_ms(s) for s in specs]),
            "table": np.array([cal.table.latency_ms(s) for s in specs]),
        }
        for base in ("table", "roofline"):
            corr = cal.corrections[space_name][base]
            X = np.stack([network_features(cal.layer_rows(s, base)) for s in specs])
            preds[f"{base}+learned"] = corr.predict(X)
        if args.baseline_calibration:
            base_cal = Calibration.load(args.baseline_calibration)
            preds["before: table"] = np.array([base_cal.table.latency_ms(s) for s in specs])
            bc = base_cal.corrections.get(space_name, {}).get("table")
            if bc is not None:
                preds["before: table+learned"] = bc.predict(np.stack([network_features(base_cal.layer_rows(s, "table"))
                                                                       for s in specs]))
        coverage_plain = float(np.mean([cal.table.coverage(s) for s in specs]))
        if args.on_demand:
            from nas.hw_models.on_demand import LayerCache, cache_path

            t1 = time.time()
            got = LayerCache(cache_path(threads), threads, log=log).fill(specs, cal.table)
            log(f"{space_name}: {len(got)} layers measured on demand in {time.time() - t1:.0f} s")
            preds["table (on-demand)"] = np.array([cal.table.latency_ms(s) for s in specs])
            corr = cal.corrections[space_name]["table"]
            preds["table+learned (on-demand)"] = corr.predict(
                np.stack([network_features(cal.layer_rows(s, "table")) for s in specs]))
            preds["cpu target default (on-demand)"] = (preds["table+learned (on-demand)"] if corr.beats_base
                                                       else preds["table (on-demand)"])
        noise = metrics(a_ms, b_ms)
        coverage = coverage_plain
        log(f"{space_name}: measured {len(specs)} x 2 in {time.time() - t0:.0f} s, load {load0[0]:.2f} -> {load1[0]:.2f}; "
            f"table coverage {coverage:.1%}")
        preds_scored = dict(preds)
        preds_scored["table+learned vs geomean(A,B)"] = preds["table+learned"]
        for model, p in preds_scored.items():
            ref = np.sqrt(a_ms * b_ms) if "geomean" in model else truth
            rows.append({"space": space_name, "model": model, "archs": len(specs), **metrics(p, ref),
                         "noise_within10": noise["within10"], "noise_spearman": noise["spearman"],
                         "noise_mape": noise["mape"], "table_coverage": coverage,
                         "load_start": round(load0[0], 2), "load_end": round(load1[0], 2)})
        raw[space_name] = {"digests": [a.digest() for a in archs], "a_ms": a_ms.tolist(), "b_ms": b_ms.tolist(),
                           **{m: p.tolist() for m, p in preds.items()}}

    print(f"{'space':10s} {'model':30s} {'within10':>8s} {'spearman':>8s} {'mape':>7s} | noise: {'within10':>8s} {'rho':>6s} {'mape':>6s}  load")
    for r in rows:
        print(f"{r['space']:10s} {r['model']:30s} {r['within10']:8.1%} {r['spearman']:8.3f} {r['mape']:7.1%} | "
              f"       {r['noise_within10']:8.1%} {r['noise_spearman']:6.3f} {r['noise_mape']:6.1%}  "
              f"{r['load_start']}->{r['load_end']}")
    if args.out:
        from nas.io import write_json_atomic

        write_json_atomic(args.out, {"rows": rows, "raw": raw, "calibration": str(path),
                                     "machine": cal.machine, "runs": args.runs}, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
