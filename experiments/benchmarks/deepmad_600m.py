"""``--budget 600M-flops`` on ``resnet`` and ``hybrid``: DeepMAD's program against its 10 s target.

    OMP_NUM_THREADS=1 python experiments/benchmarks/deepmad_600m.py [--rho 0.5] [--cli] [--format json]

For each space: the in-process solve (grid model, SLSQP relaxation or integer program, rounding,
repair, polish, NetSpec verification) in wall seconds and ``seconds / 10`` (below 1.0 meets the
target), the design's score and verified costs. The baseline measured in the same run is the time
to resolve and score one network of the space on the NetSpec path (``per_netspec_eval_s``): the
program's time expressed in such evaluations says how much cheaper it is than any search that scores
candidates one at a time. ``--cli`` also times ``nas search --strategy deepmad`` end to end
(process start, imports, storage and the run folder included).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TARGET_S = 10.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rho", type=float, default=None, help="ρ₀ (default: none)")
    p.add_argument("--cli", action="store_true", help="also time the `nas search` command end to end")
    p.add_argument("--format", choices=("table", "json"), default="table")
    args = p.parse_args()

    import numpy as np
    import scipy.optimize  # noqa: F401

    from nas.predictors.deepmad import breakdown
    from nas.search.deepmad.design import design
    from nas.search.deepmad.problem import DeepMADConstraints
    from nas.searchspace import get_space

    rows = []
    for name in ("resnet", "hybrid"):
        space = get_space(name)
        cons = DeepMADConstraints(flops=600e6, rho=args.rho, convention="analytic")
        sample = space.sample(np.random.default_rng(0))
        t0 = time.perf_counter()
        breakdown(space.resolve(sample))
        per_eval = time.perf_counter() - t0
        t0 = time.perf_counter()
        d = design(space, cons)
        seconds = time.perf_counter() - t0
        row = {"space": name, "method": d.method, "seconds": seconds, "seconds_over_target": seconds / TARGET_S,
               "per_netspec_eval_s": per_eval, "netspec_evals_in_same_time": seconds / per_eval,
               "score": d.score, "flops": d.verified["flops"], "params": d.verified["params"],
               "rho": d.verified["rho"], "genes": d.arch.genes.to_json()}
        if args.cli:
            with tempfile.TemporaryDirectory() as tmp:
                argv = [sys.executable, "-m", "nas.cli.main", "search", "--strategy", "deepmad", "--space", name,
                        "--budget", "600M-flops", "--option", "convention=analytic", "--no-progress",
                        "--format", "json", "--out", os.path.join(tmp, "run")]
                if args.rho is not None:
                    argv += ["--rho", str(args.rho)]
                t0 = time.perf_counter()
                done = subprocess.run(argv, capture_output=True, text=True, check=False,
                                      env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
                row["cli_seconds"] = time.perf_counter() - t0
                if done.returncode != 0:
                    raise SystemExit(f"nas search failed: {done.stderr.strip()}")
        rows.append(row)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        cli = f", CLI end to end {r['cli_seconds']:.2f} s" if "cli_seconds" in r else ""
        print(f"{r['space']:7s} {r['method']:6s} solved in {r['seconds']:.3f} s ({r['seconds_over_target']:.3f} of "
              f"the 10 s target; = {r['netspec_evals_in_same_time']:.0f} NetSpec evaluations){cli}: score "
              f"{r['score']:,.1f}, {r['flops'] / 1e6:,.1f} M FLOPs, {r['params'] / 1e6:.3f} M params, rho {r['rho']:.3f}")
        print(f"        {json.dumps(r['genes'], sort_keys=True)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
