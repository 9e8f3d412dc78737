"""Channels-last against NCHW training steps on the CPU, for the seeded samples ``nas bench train`` trains.

For each network: the median time of a training step (forward, backward, SGD step; batch 64) with model and
batch in PyTorch's default NCHW layout and in channels-last (the trainer's choice for image batches),
measured alternately in one process, so machine load hits both alike. Prints one JSON object with the
per-network ratio NCHW / channels-last (> 1: channels-last is faster).

``--supernet SPACE:CxHxW`` (repeatable) times supernet sandwich steps instead (``train_supernet``'s step:
largest, smallest and two random subnets, no distillation, batch 64, one SGD step) with the supernet in
each layout, alternating step by step over the same subnets, and prints the ratio per supernet.

    OMP_NUM_THREADS=1 python experiments/benchmarks/channels_last_speed.py [--spaces mobilenet,resnet] [--samples 10]
    python experiments/benchmarks/channels_last_speed.py --supernet mobilenet:1x16x16 --supernet nb201:1x32x32
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


def supernet_step_seconds(space: str, input: str, steps: int) -> dict[str, float]:
    """Median sandwich-step seconds of one supernet in NCHW and in channels-last, alternating."""
    from nas.supernet.network import build_supernet
    from nas.supernet.sampling import make_sampler
    from nas.supernet.train import SupernetTrainConfig, sandwich_step, step_archs

    cfg = SupernetTrainConfig(distill=False)
    nets = {fmt: build_supernet(space, input, 10).train() for fmt in ("nchw", "channels_last")}
    nets["channels_last"].to(memory_format=torch.channels_last)
    opts = {k: torch.optim.SGD(n.parameters(), lr=0.01, momentum=0.9) for k, n in nets.items()}
    sampler = make_sampler(cfg.sampler, nets["nchw"].space, seed=0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, *nets["nchw"].input.shape(1)[1:], generator=gen)
    y = torch.randint(0, 10, (64,), generator=gen)
    xs = {"nchw": x, "channels_last": x.contiguous(memory_format=torch.channels_last)}
    times: dict[str, list[float]] = {k: [] for k in nets}
    for i in range(steps + 2):
        archs = step_archs(nets["nchw"], sampler, 0, i, cfg.num_random, cfg.extreme_ops)
        for k, net in nets.items():
            t0 = time.perf_counter()
            opts[k].zero_grad(set_to_none=True)
            sandwich_step(net, archs, xs[k], y, cfg)
            opts[k].step()
            if i >= 2:  # the first two steps warm up oneDNN's kernels for the extremes' shapes
                times[k].append(time.perf_counter() - t0)
    nchw, cl = statistics.median(times["nchw"]), statistics.median(times["channels_last"])
    return {"nchw_s": nchw, "channels_last_s": cl, "ratio": nchw / cl, "steps": steps}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spaces", default="mobilenet,resnet")
    ap.add_argument("--supernet", action="append", default=[], metavar="SPACE:CxHxW")
    ap.add_argument("--steps", type=int, default=8, help="timed sandwich steps per layout (--supernet)")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--max-flops", type=float, default=50e6)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.supernet:
        out_sn: dict = {"threads": 1, "batch": 64, "supernets": {}}
        for item in args.supernet:
            space, _, input = item.partition(":")
            out_sn["supernets"][item] = supernet_step_seconds(space, input or None, args.steps)
        out_sn["loadavg"] = open("/proc/loadavg").read().split()[:3]
        print(json.dumps(out_sn, indent=2))
        return
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
