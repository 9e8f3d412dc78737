"""Channels-last against NCHW training steps on the CPU, for the seeded samples ``nas bench train`` trains.

For each network: the median time of a training step (forward, backward, SGD step; batch 64) with model and
batch in PyTorch's default NCHW layout and in channels-last (the trainer's choice for image batches),
measured alternately in one process, so machine load hits both alike. Prints one JSON object with the
per-network ratio NCHW / channels-last (> 1: channels-last is faster).

    OMP_NUM_THREADS=1 python experiments/benchmarks/channels_last_speed.py [--spaces mobilenet,resnet] [--samples 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from nas.search.bench.train_bench import SPACE_INPUTS, sample_under
from nas.searchspace import get_space
from nas.training import load_dataset
from nas.training.trainer import build_model


def step_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, channels_last: bool, reps: int) -> float:
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:  # the first step warms up the allocator and oneDNN's kernel choice
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spaces", default="mobilenet,resnet")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--max-flops", type=float, default=50e6)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = {"threads": 1, "batch": 64, "spaces": {}}
    for name in args.spaces.split(","):
        data = load_dataset("mnist5k", resize=SPACE_INPUTS[name])
        space = get_space(name, input=data.input_type, num_classes=data.num_classes)
        x, y = data.train.x[:64], data.train.y[:64]
        rows = []
        for arch, spec, flops in sample_under(space, args.samples, args.max_flops, np.random.default_rng(0)):
            nchw = step_seconds(build_model(spec, 0), x, y, False, args.reps)
            cl = step_seconds(build_model(spec, 0), x, y, True, args.reps)
            rows.append({"digest": arch.digest(), "flops": flops, "nchw_s": nchw, "channels_last_s": cl,
                         "ratio": nchw / cl})
        ratios = [r["ratio"] for r in rows]
        out["spaces"][name] = {"ratio_min": min(ratios), "ratio_median": statistics.median(ratios),
                               "ratio_max": max(ratios), "networks": rows}
    out["loadavg"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
