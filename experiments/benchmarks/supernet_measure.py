"""The supernet figures of issue 9 on mnist5k, in one run (run it in the background; ~30 min on a busy CPU).

1. step cost: one sandwich step vs one step of the largest subnet (time ratio, peak memory);
2. a supernet trained with the sandwich rule (checkpoint in OUT/supernet);
3. ranking: N subnets spread over FLOPs, each trained alone with the trainer (one fixed short schedule);
   Kendall τ of inherited accuracy (with / without BN recalibration), params, FLOPs, synflow vs stand-alone;
4. weight inheritance: largest and smallest subnet, inherited + BN recalibration vs trained from scratch
   with the trainer for as many epochs as the supernet had.

Usage: OMP_NUM_THREADS=1 python experiments/benchmarks/supernet_measure.py --out runs/supernet-measure
Writes OUT/measure.json (one object) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from nas.io import write_json_atomic
from nas.supernet.benchmark import ranking, spread_over_flops, step_cost
from nas.supernet.network import build_supernet
from nas.supernet.train import SupernetTrainConfig, subnet_accuracy, train_supernet
from nas.training.datasets import Split, load_dataset
from nas.training.trainer import TrainConfig, build_model, train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--space", default="mobilenet")
    ap.add_argument("--input", default="1x16x16")
    ap.add_argument("--train-images", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--supernet-epochs", type=int, default=5)
    ap.add_argument("--standalone-epochs", type=int, default=2)
    ap.add_argument("--subnets", type=int, default=24)
    ap.add_argument("--bn-images", type=int, default=500)
    ap.add_argument("--optimizer", default="adamw")
    ap.add_argument("--out", default="runs/supernet-measure")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {"settings": vars(args), "loadavg_start": os.getloadavg()}

    def save() -> None:
        write_json_atomic(out / "measure.json", res, indent=2)

    t0 = time.time()
    res["step_cost"] = step_cost(args.space, args.input, args.batch)
    res["sandwich_step_time_ratio"] = res["step_cost"]["sandwich_step_time_ratio"]
    save()

    data = load_dataset("mnist5k", resize=args.input)
    # a seeded random subset: the splits are stored class by class, so a prefix would hold few classes
    pick = torch.from_numpy(np.random.default_rng(0).permutation(len(data.train))[:args.train_images])
    data = replace(data, train=Split(data.train.x[pick], data.train.y[pick]))
    res["data"] = {"train": len(data.train), "valid": len(data.valid), "test": len(data.test)}
    net = build_supernet(args.space, data.input_type, data.num_classes, seed=0)
    cfg = SupernetTrainConfig(epochs=args.supernet_epochs, batch_size=args.batch, bn_images=args.bn_images,
                              optimizer=args.optimizer)
    t = time.time()
    sres = train_supernet(net, data, cfg, out_dir=out / "supernet")
    res["supernet"] = {"seconds": time.time() - t, "history": sres["history"], "config": cfg.to_json()}
    save()

    net.eval()
    archs = spread_over_flops(net, args.subnets, seed=1)
    sa_cfg = TrainConfig(epochs=args.standalone_epochs, batch_size=args.batch, zero_init_residual=False,
                         optimizer=args.optimizer)
    standalone = []
    t = time.time()
    for i, a in enumerate(archs):
        r = train(build_model(net.space.resolve(a), seed=0), data, sa_cfg, evaluate_test=False)
        standalone.append(r.valid_accuracy)
        res["standalone_partial"] = standalone
        save()
    res["standalone"] = {"seconds": time.time() - t, "config": sa_cfg.to_json()}
    res.update(ranking(net, data, archs, standalone, bn_images=args.bn_images))
    save()

    inherit = {}
    scratch_cfg = replace(sa_cfg, epochs=args.supernet_epochs)
    for name, a in (("largest", net.largest()), ("smallest", net.smallest())):
        inh_valid = subnet_accuracy(net, a, data, bn_images=args.bn_images)
        inh_test = subnet_accuracy(net, a, data, bn_images=args.bn_images, split="test")
        r = train(build_model(net.space.resolve(a), seed=0), data, scratch_cfg)
        inherit[name] = {"inherited_valid": inh_valid, "inherited_test": inh_test,
                         "scratch_valid": r.valid_accuracy, "scratch_test": r.test_accuracy,
                         "epochs": args.supernet_epochs}
        res["weight_inheritance"] = inherit
        save()
    res["total_seconds"] = time.time() - t0
    res["loadavg_end"] = os.getloadavg()
    res["threads"] = torch.get_num_threads()
    save()
    print(json.dumps({k: v for k, v in res.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
