"""Time ``nas analyze hybrid --samples 1000`` end to end (process start included) against its 30 s target.

    python experiments/benchmarks/analyze_speed.py [--space hybrid] [--samples 1000] [--repeats 1]

Prints the wall time of each run, the in-process analysis time the command reports, and
``time / target`` (below 1.0 meets the target). A baseline measured in the same run, ``nas --help``,
shows how much of the time is interpreter and import start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

TARGET_S = 30.0


def _timed(argv: list[str]) -> tuple[float, str]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nas.cli.main", *argv], capture_output=True, text=True,
                          env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"`nas {' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, done.stdout


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="hybrid")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args()

    help_s, _ = _timed(["--help"])
    print(f"baseline `nas --help`: {help_s:.2f} s")
    for i in range(args.repeats):
        argv = ["analyze", args.space, "--samples", str(args.samples), "--seed", str(i), "--format", "json"]
        wall, out = _timed(argv)
        inner = json.loads(out)["seconds"]
        print(f"run {i}: `nas {' '.join(argv[:4])}` {wall:.2f} s wall ({inner:.2f} s sampling, resolving and "
              f"costing, {1e3 * inner / args.samples:.2f} ms/sample); {wall:.2f} / {TARGET_S:.0f} s target = "
              f"{wall / TARGET_S:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
