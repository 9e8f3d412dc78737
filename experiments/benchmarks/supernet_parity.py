"""Parity of every supernet space: ``supernet(x, arch)`` vs ``extract(arch)(x)`` in eval mode over N random
architectures (largest absolute difference; the issue's bound is 1e-5).

resnet's box is shrunk (``SETTINGS``): its whole largest network has 8.2 G parameters.

Usage: OMP_NUM_THREADS=1 python experiments/benchmarks/supernet_parity.py [--n 100] [--spaces mobilenet,nb201,hybrid,resnet]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from nas.search.bench.supernet_bench import parity
from nas.supernet.network import build_supernet

INPUTS = {"mobilenet": "3x32x32", "nb201": "3x32x32", "hybrid": "3x64x64", "resnet": "3x32x32"}
SETTINGS = {"resnet": {"width_mult": 0.125, "max_depth": 2}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--spaces", default="mobilenet,nb201,hybrid,resnet")
    args = ap.parse_args()
    rows = []
    for space in args.spaces.split(","):
        t0 = time.time()
        net = build_supernet(space, INPUTS[space], 10, seed=0, settings=SETTINGS.get(space))
        built = time.time() - t0
        diff = parity(net, args.n, seed=0, batch=2)
        rows.append({"space": space, "input": INPUTS[space], "settings": SETTINGS.get(space, {}), "archs": args.n, "parity_max_abs_diff": diff,
                     "supernet_params": sum(p.numel() for p in net.parameters()), "build_seconds": built,
                     "parity_seconds": time.time() - t0 - built, "loadavg": os.getloadavg()[0]})
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
