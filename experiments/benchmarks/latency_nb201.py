"""NAS-Bench-201 latency on the 27 HELP devices: our few-shot predictor beside the baselines.

For 10 and 50 samples per device (seed 0), with the D-optimal and the random sample choice, prints the
mean and worst Spearman ρ and the mean MAPE over all 27 devices, over the 19 devices the method was tuned
on (GPUs, Xeons) and over the 8 it was not (phones, Raspberry Pi, Eyeriss, FPGA). Baselines, same data:
- FLOPs: Spearman ρ of our analytic FLOPs against each device's latency over all cells;
- plain ridge: ridge (alpha 1) of the device's log latency on the other 26 devices' standardized log
  latencies, fitted on the same random samples (the baseline the issue quotes);
- ceiling: least squares of the device's log latency on the other 26 devices fitted on *all* cells,
  the best any model linear in the other devices can rank (not a few-shot result).

    python experiments/benchmarks/latency_nb201.py [--out latency_nb201.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out")
    args = ap.parse_args(argv)

    from nas.hw_models.analytic import flops
    from nas.hw_models.nb201_latency import TUNE_DEVICES, benchmark, design_samples, load_help_data, spearman
    from nas.searchspace import get_space

    data = load_help_data()
    out: dict[str, object] = {}

    def summary(rows: list[dict], key: str = "spearman") -> dict[str, object]:
        res = {}
        for name, sel in (("all", rows), ("tuned", [r for r in rows if r["device"] in TUNE_DEVICES]),
                          ("untuned", [r for r in rows if r["device"] not in TUNE_DEVICES])):
            worst = min(sel, key=lambda r: r[key])
            res[name] = {"mean": float(np.mean([r[key] for r in sel])), "worst": worst[key],
                         "worst_device": worst["device"]}
            if "mape" in sel[0]:
                res[name]["mape"] = float(np.mean([r["mape"] for r in sel]))
        return res

    lines = []
    for n in (10, 50):
        for design in ("dopt", "random"):
            rows = [r for r in benchmark(data, n, args.seed, design) if r["kind"] != "summary"]
            s = summary(rows)
            out[f"ours_{n}_{design}"] = {"summary": s, "rows": rows}
            lines.append((f"ours, {n} samples, {design}", s))

        rows = []
        for d in data.devices:
            j = data.column(d)
            idx = design_samples(data, d, n, np.random.default_rng(args.seed), "random")
            others = np.delete(data.zlog, j, axis=1)
            y = np.log(data.ms[idx, j])
            x = others[idx] - others[idx].mean(0)
            w = np.linalg.solve(x.T @ x + np.eye(x.shape[1]), x.T @ (y - y.mean()))
            pred = np.exp(y.mean() + (others - others[idx].mean(0)) @ w)
            held = np.ones(len(pred), dtype=bool)
            held[idx] = False
            truth = data.ms[held, j]
            rows.append({"device": d, "spearman": spearman(pred[held], truth),
                         "mape": float(np.mean(np.abs(pred[held] - truth) / truth))})
        s = summary(rows)
        out[f"plain_ridge_{n}_random"] = {"summary": s, "rows": rows}
        lines.append((f"plain ridge, {n} samples, random", s))

    rows = []
    for d in data.devices:
        j = data.column(d)
        x = np.hstack([np.ones((len(data.ms), 1)), np.delete(data.zlog, j, axis=1)])
        y = np.log(data.ms[:, j])
        w = np.linalg.lstsq(x, y, rcond=None)[0]
        rows.append({"device": d, "spearman": spearman(x @ w, y)})
    s = summary(rows)
    out["ceiling_linear_all_cells"] = {"summary": s, "rows": rows}
    lines.append(("ceiling: linear on all cells", s))

    print("computing FLOPs of all 15,625 cells", file=sys.stderr)
    space = get_space("nb201")
    f = np.array([flops(space.resolve(space.parse_string(a))) for a in data.arch_strings], dtype=float)
    rows = [{"device": d, "spearman": spearman(f, data.ms[:, data.column(d)])} for d in data.devices]
    s = summary(rows)
    out["flops"] = {"summary": s, "rows": rows}
    lines.append(("FLOPs (all cells)", s))

    print(f"{'model':36s} {'mean rho':>8s} {'worst':>6s} {'(device)':14s} {'MAPE':>6s} | "
          f"{'tuned':>6s} {'untuned':>7s} {'worst untuned':>14s}")
    for name, s in lines:
        a, t, u = s["all"], s["tuned"], s["untuned"]
        mape = f"{a['mape']:6.1%}" if "mape" in a else "     -"
        print(f"{name:36s} {a['mean']:8.4f} {a['worst']:6.3f} {a['worst_device']:14s} {mape} | "
              f"{t['mean']:6.4f} {u['mean']:7.4f} {u['worst']:6.3f} {u['worst_device']}")
    if args.out:
        tmp = Path(args.out + ".tmp")
        tmp.write_text(json.dumps(out, indent=1))
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
