"""Trainer overhead: images/s of ``nas.training.train`` against a plain hand-written PyTorch loop over the
same model, the same batches and the same optimizer, measured alternately in one process (so machine
load hits both alike). Prints one JSON object; ``ratio`` >= 0.95 is the goal. ``ratio_vs_plain_nchw_loop``
compares with the same plain loop left in PyTorch's default NCHW layout (the trainer runs channels-last).

    OMP_NUM_THREADS=1 python experiments/benchmarks/train_overhead.py [--space resnet] [--images 1024] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from nas.searchspace import get_space
from nas.training import TrainConfig, load_dataset, train
from nas.training.datasets import subset
from nas.training.recipe import make_optimizer, random_shift
from nas.training.trainer import build_model


def plain_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig,
               channels_last: bool = True) -> float:
    """The loop a practitioner writes by hand: shuffled batches, forward, loss, backward, step. Images/s.
    With ``config.augment == "shift"`` it feeds the very batches the trainer makes (same shifts); with
    ``channels_last`` model and batches are channels-last as in the trainer, so the ratio is the loop's own
    overhead; without, the loop is the default NCHW one (what the trainer's layout choice buys)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    opt = make_optimizer(model, "sgd", config.resolved_lr, config.resolved_weight_decay, config.momentum)
    gen = torch.Generator().manual_seed(config.seed)
    model.train()
    t0 = time.perf_counter()
    order = torch.randperm(len(y), generator=gen)
    for s in range(0, len(y), config.batch_size):
        idx = order[s:s + config.batch_size]
        xb = random_shift(x[idx], gen) if config.augment == "shift" else x[idx]
        loss = nn.functional.cross_entropy(model(xb.contiguous(memory_format=fmt)), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(y) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--space", default="resnet")
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = subset(load_dataset("mnist5k"), train=args.images, valid=100)
    space = get_space(args.space, input=data.input_type, num_classes=10)
    spec = space.resolve(space.sample(np.random.default_rng(args.seed)))
    cfg = TrainConfig(epochs=1, batch_size=128, seed=0, warmup_epochs=0.0)
    runs: dict[str, list[float]] = {"ours": [], "plain": [], "ours_no_augment": [], "plain_no_augment": [],
                                    "plain_nchw": []}
    no_aug = replace(cfg, augment="none")
    for _ in range(args.reps):  # alternate, so load changes hit all alike
        runs["ours"].append(train(build_model(spec, 0), data, cfg).images_per_second)
        runs["plain"].append(plain_loop(build_model(spec, 0), data.train.x, data.train.y, cfg))
        runs["ours_no_augment"].append(train(build_model(spec, 0), data, no_aug).images_per_second)
        runs["plain_no_augment"].append(plain_loop(build_model(spec, 0), data.train.x, data.train.y, no_aug))
        runs["plain_nchw"].append(plain_loop(build_model(spec, 0), data.train.x, data.train.y, cfg, False))
    med = {k: float(np.median(v)) for k, v in runs.items()}
    print(json.dumps({"space": args.space, "network": spec.name, "images": args.images, "reps": args.reps,
                      "images_per_second_median": med,
                      "ratio": med["ours"] / med["plain"],
                      "ratio_without_augmentation": med["ours_no_augment"] / med["plain_no_augment"],
                      "ratio_vs_plain_nchw_loop": med["ours"] / med["plain_nchw"],
                      "runs": runs,
                      "loadavg": open("/proc/loadavg").read().split()[:3]}, indent=2))


if __name__ == "__main__":
    main()
