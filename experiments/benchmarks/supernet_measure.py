"""The supernet figures of issue 9 on mnist5k, in one run (run it in the background; ~30 min on a busy CPU).

1. step cost: one sandwich step vs one step of the largest subnet (time ratio, peak memory);
2. a supernet trained with the sandwich rule (checkpoint in OUT/supernet);
3. ranking: N subnets spread over FLOPs, each trained alone with the trainer (one fixed short schedule);
   Kendall τ of inherited accuracy (with / without BN recalibration), params, FLOPs, synflow vs stand-alone;
4. weight inheritance: largest and smallest subnet, inherited + BN recalibration vs trained from scratch
   with the trainer for as many epochs as the supernet had.

Usage: OMP_NUM_THREADS=1 python experiments/benchmarks/supernet_measure.py --out runs/supernet-measure
(hybrid on a CPU: --space hybrid --input 1x32x32 --width-mult 0.25 --max-depth 2 --mixers ...; see docs/supernet.md)
Writes OUT/measure.json (one object) and prints it.
"""

from __future__ import annotations

import argparse
import json

from nas.search.bench.supernet_bench import measure


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
    ap.add_argument("--rank-split", default="valid", choices=("valid", "test"))
    ap.add_argument("--width-mult", type=float, help="hybrid: width multiplier in (0, 1]")
    ap.add_argument("--max-depth", type=int, help="hybrid: largest depth choice kept")
    ap.add_argument("--mixers", help="hybrid: comma-separated mixer choices kept")
    a = ap.parse_args()
    from nas.cli.cmd_supernet import space_settings

    res = measure(a.space, a.input, a.train_images, a.batch, a.supernet_epochs, a.standalone_epochs, a.subnets,
                  a.bn_images, a.optimizer, a.out, settings=space_settings(a), rank_split=a.rank_split)
    print(json.dumps({k: v for k, v in res.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
