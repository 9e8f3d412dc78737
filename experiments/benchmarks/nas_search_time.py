"""Wall time of ``nas search --budget 600M-flops --target gpu`` on the defaults (target: < 120 s on
2 cores), against a baseline measured in the same run: scoring and costing the same number of
sampled architectures in a plain loop (no searcher, storage, progress bar or run folder).

    OMP_NUM_THREADS=1 python experiments/benchmarks/nas_search_time.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def baseline(n: int) -> float:
    import numpy as np

    from nas.search.app.space_eval import ScoreEvaluator, SpaceCosts
    from nas.search.space_ref import SpaceRef

    ref = SpaceRef("hybrid")
    costs, score = SpaceCosts(ref, "gpu"), ScoreEvaluator(ref, "deepmad")
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(n):
        a = ref.space.sample(rng)
        costs(a)
        try:
            score(a)
        except Exception:  # noqa: BLE001, S110 - nas search records these as failed trials too
            pass
    return time.perf_counter() - start


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "nas.cli.main", "search", "--budget", "600M-flops", "--target", "gpu",
               "--out", str(out), "--format", "json", "--no-progress"]
        start = time.perf_counter()
        res = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        obj = json.loads(res.stdout)
    n = obj["summary"]["trials"]
    base = baseline(n)
    print(f"$ nas search --budget 600M-flops --target gpu  ({n} trials, {obj['strategy']}, space {obj['space']})")
    print(f"wall time {wall:.1f} s (goal < 120 s: {'PASS' if wall < 120 else 'MISS'}); "
          f"{len(obj['pareto'])} networks on the front")
    print(f"baseline: costs + score of {n} sampled architectures in a plain loop {base:.1f} s; "
          f"ratio search/baseline {wall / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
