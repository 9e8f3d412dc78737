"""Weight inheritance of a finished ``nas bench supernet`` run, checked against luck on both sides.

The bench compares the largest and smallest subnet, inherited + BN recalibration, with one from-scratch
run each (seed 0) and one set of recalibration images. This script repeats both sides: the inherited
accuracy with BN recalibrated on ``--bn-seeds`` different image sets, and the from-scratch run (the
trainer, as many epochs as the supernet had, the bench's batch and optimizer) with ``--seeds`` seeds.

Usage: OMP_NUM_THREADS=1 python experiments/benchmarks/supernet_inheritance_seeds.py --bench OUT [--seeds 3]
Prints one JSON object: per subnet, every value and the means.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from nas.io import read_json
from nas.search.bench.supernet_bench import bench_data
from nas.supernet.train import load_supernet, subnet_accuracy
from nas.training.trainer import TrainConfig, build_model, train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="the --out folder of a finished nas bench supernet")
    ap.add_argument("--seeds", type=int, default=3, help="from-scratch seeds (default 3)")
    ap.add_argument("--bn-seeds", type=int, default=3, help="BN recalibration image sets (default 3)")
    a = ap.parse_args()
    folder = Path(a.bench)
    st = read_json(folder / "measure.json", "bench result")["settings"]
    net, ckpt = load_supernet(folder / "supernet")
    epochs = int(ckpt["epoch"])
    data = bench_data(st["input"], st["train_images"])
    cfg = TrainConfig(epochs=epochs, batch_size=st["batch"], zero_init_residual=False, optimizer=st["optimizer"])
    out: dict = {"bench": str(folder), "epochs": epochs, "optimizer": st["optimizer"]}
    for name, arch in (("largest", net.largest()), ("smallest", net.smallest())):
        inherited = {split: [subnet_accuracy(net, arch, data, bn_images=st["bn_images"], seed=s, split=split)
                             for s in range(a.bn_seeds)] for split in ("valid", "test")}
        runs = [train(build_model(net.space.resolve(arch), seed=s), data, replace(cfg, seed=s))
                for s in range(a.seeds)]
        scratch = {"valid": [r.valid_accuracy for r in runs], "test": [r.test_accuracy for r in runs]}
        out[name] = {"inherited": inherited, "scratch": scratch,
                     **{f"{side}_{split}_mean": float(np.mean(vals[split]))
                        for side, vals in (("inherited", inherited), ("scratch", scratch)) for split in vals}}
        print(json.dumps({name: out[name]}), flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
