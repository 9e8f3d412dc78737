"""Data-parallel supernet training: 2 processes (torchrun, gloo, CPU) with the global batch split vs 1 process
with the whole batch, same seed, 10 sandwich steps; prints the largest absolute weight difference.

Usage: OMP_NUM_THREADS=1 python experiments/benchmarks/supernet_ddp.py [--steps 10] [--space nb201]
"""

from __future__ import annotations

import argparse
import json

from nas.supernet.ddp_check import ddp_check

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--space", default="nb201")
    args = ap.parse_args()
    print(json.dumps(ddp_check(args.steps, args.space)))
