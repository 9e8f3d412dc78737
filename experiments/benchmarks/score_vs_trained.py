"""Kendall tau of each training-free score (DeepMAD, synflow, params, FLOPs) with trained accuracy.

Reads networks that were really trained: a `nas search --evaluator train --strategy random` run folder
(its trials.json; the trained valid accuracy, and the test accuracy where the trial was trained fully)
and/or a `nas bench train --format json` output (its networks are re-drawn from the same seeds).
Prints one JSON object and, with --write, records it in predictors/data/score_auto.json, which `--score auto`
consults (nas.predictors.score_choice.auto_score) for spaces measured on at least 30 networks.

    OMP_NUM_THREADS=1 python experiments/benchmarks/score_vs_trained.py --run RUN_DIR [--bench B.json] [--write]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from nas.hw_models.analytic import analytic_costs
from nas.predictors.score import SCORES
from nas.searchspace import Architecture, get_space
from nas.searchspace.tensor_type import parse_input

SCORE_NAMES = ("deepmad", "synflow", "params", "flops")
OUT = Path(__file__).resolve().parents[2] / "predictors" / "data" / "score_auto.json"


def scores_of(spec) -> dict[str, float]:
    c = analytic_costs(spec)
    out = {"params": float(c.params), "flops": float(c.flops)}
    for name in ("deepmad", "synflow"):
        try:
            out[name] = float(SCORES.get(name)()(spec))
        except Exception:  # noqa: BLE001 - a score that cannot handle the network: no value
            out[name] = float("nan")
    return out


def taus(rows: list[dict], key: str) -> dict[str, float | None]:
    acc = np.array([r[key] for r in rows])
    out = {}
    for name in SCORE_NAMES:
        v = np.array([r[name] for r in rows])
        ok = np.isfinite(v)
        out[name] = float(kendalltau(v[ok], acc[ok]).statistic) if ok.sum() >= 3 else None
    return out


def from_run(run: Path) -> tuple[str, list[dict], dict]:
    cfg = json.loads((run / "config.json").read_text())
    space = get_space(cfg["space"], input=parse_input(cfg["input"]), num_classes=cfg["num_classes"])
    doc = json.loads((run / "trials.json").read_text())
    rows = []
    for t in doc["trials"] if isinstance(doc, dict) else doc:
        if t["state"] != "complete" or t["info"].get("pruned"):
            continue
        spec = space.resolve(Architecture.from_json(t["arch"]))
        rows.append({"valid_accuracy": t["scores"]["valid_accuracy"], "test_accuracy": t["info"]["test_accuracy"],
                     **scores_of(spec)})
    return cfg["space"], rows, {"source": str(run), "data": cfg["data"], "resize": cfg.get("resize"),
                                "input": cfg["input"], "epochs": cfg["epochs"], "train_options": cfg["train_options"]}


def from_bench(path: Path) -> list[tuple[str, list[dict], dict]]:
    from nas.search.bench.train_bench import SPACE_INPUTS, sample_under
    from nas.training.datasets import dataset_signature

    doc = json.loads(path.read_text())
    out = []
    for sp in doc["spaces"]:
        inp, k = dataset_signature(doc["data"], SPACE_INPUTS[sp["space"]])
        space = get_space(sp["space"], input=inp, num_classes=k)
        drawn = sample_under(space, len(sp["networks"]), doc["max_flops"], np.random.default_rng(doc["schedule"]["seed"]))
        rows = []
        for (arch, spec, _), net in zip(drawn, sp["networks"]):
            assert arch.digest() == net["digest"], "bench networks are re-drawn from the same seed"
            rows.append({"valid_accuracy": net["valid_accuracy"], "test_accuracy": net["test_accuracy"], **scores_of(spec)})
        out.append((sp["space"], rows, {"source": str(path), "data": doc["data"], "input": sp["input"],
                                        "epochs": doc["schedule"]["epochs"]}))
    return out


def bench_doc_from_log(path: Path, data: str, max_flops: float, epochs: int, seed: int,
                       batch_size: int) -> dict:
    """A `nas bench train` JSON rebuilt from its stderr progress lines (for a run stopped early): each
    line names the space, the network's rank, its FLOPs and accuracies; the networks are re-drawn."""
    import re

    from nas.search.bench.train_bench import SPACE_INPUTS, sample_under
    from nas.training.datasets import dataset_signature

    found: dict[str, list[tuple[float, float, float]]] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"(\w+) (\d+)/\d+: ([\d.]+)M FLOPs, valid ([\d.]+), test ([\d.]+)", line)
        if m:
            found.setdefault(m[1], []).append((float(m[3]), float(m[4]), float(m[5])))
    spaces = []
    for name, nets in found.items():
        inp, k = dataset_signature(data, SPACE_INPUTS[name])
        drawn = sample_under(get_space(name, input=inp, num_classes=k), len(nets), max_flops,
                             np.random.default_rng(seed))
        rows = []
        for (arch, _, flops), (mflops, valid, test) in zip(drawn, nets):
            assert abs(flops / 1e6 - mflops) < 0.06, "re-drawn network differs from the logged one"
            rows.append({"digest": arch.digest(), "flops": flops, "valid_accuracy": valid, "test_accuracy": test})
        spaces.append({"space": name, "input": str(inp), "networks": rows})
    return {"data": data, "max_flops": max_flops, "schedule": {"seed": seed, "epochs": epochs, "batch_size": batch_size},
            "spaces": spaces}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", action="append", default=[], help="search run folder (--evaluator train)")
    ap.add_argument("--bench", action="append", default=[], help="nas bench train --format json output")
    ap.add_argument("--bench-log", help="stderr of a `nas bench train` run (stopped early), with --seed, "
                                        "--max-flops, --epochs, --batch-size as it ran")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-flops", type=float, default=50e6)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--write", action="store_true", help=f"record the result in {OUT}")
    args = ap.parse_args()
    results = [from_run(Path(r)) for r in args.run]
    for b in args.bench:
        results += from_bench(Path(b))
    if args.bench_log:
        import tempfile

        doc = bench_doc_from_log(Path(args.bench_log), "mnist5k", args.max_flops, args.epochs, args.seed,
                                 args.batch_size)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(doc, fh)
        results += from_bench(Path(fh.name))
        for r in results[-len(doc["spaces"]):]:
            r[2]["source"] = f"{args.bench_log} (nas bench train --seed {args.seed} --max-flops "\
                             f"{args.max_flops:g} --epochs {args.epochs} --batch-size {args.batch_size})"
    doc = {"measurements": []}
    for space, rows, meta in results:
        t_test = taus(rows, "test_accuracy")
        doc["measurements"].append({"space": space, "networks": len(rows), **meta, "kendall_tau_test": t_test,
                                    "kendall_tau_valid": taus(rows, "valid_accuracy"),
                                    "best": max((k for k in t_test if t_test[k] is not None), key=lambda k: t_test[k])})
    print(json.dumps(doc, indent=2))
    if args.write:
        OUT.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
