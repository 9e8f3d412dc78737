"""A `nas search` killed with SIGKILL and resumed ends with the trials of an uninterrupted run.

    OMP_NUM_THREADS=1 python experiments/benchmarks/search_kill_resume.py [--trials 200]

Starts `nas search` (hybrid space, DeepMAD score, 600M-FLOPs budget) in a subprocess, SIGKILLs it once
some trials are stored, resumes it with --resume, and runs the same search uninterrupted. Prints how
many trials were stored at the kill, whether the resumed and the uninterrupted runs hold the same
trials (architecture, state, score), and whether every trial stored before the kill is unchanged in
the final store (its recorded evaluation time included: a re-evaluation would have written a new one).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def stored(url: str, study: str) -> dict:
    from nas.search.storage import OptunaStore

    try:
        return OptunaStore(url, study, ["maximize", "minimize"], create=False).trials()
    except Exception:  # noqa: BLE001 - the child may still be creating the database
        return {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--kill-after", type=int, default=60)
    args = ap.parse_args()
    from nas.search.storage import sqlite_url

    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "killed", Path(tmp) / "straight"
        base = [sys.executable, "-m", "nas.cli.main", "search", "--budget", "600M-flops", "--trials",
                str(args.trials), "--seed", "7", "--no-progress", "--format", "json"]
        proc = subprocess.Popen(base + ["--out", str(a)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = sqlite_url(a / "study.db")
        while proc.poll() is None and len(stored(url, a.name)) < args.kill_after:
            time.sleep(0.05)
        if proc.poll() is not None:
            print("the search finished before the kill; raise --trials")
            return 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = stored(url, a.name)
        subprocess.run(base + ["--out", str(a), "--resume"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(base + ["--out", str(b)], check=True, stdout=subprocess.DEVNULL)
        after = stored(url, a.name)
        ra = json.loads((a / "trials.json").read_text())["trials"]
        rb = json.loads((b / "trials.json").read_text())["trials"]
        key = lambda t: (t["number"], json.dumps(t["arch"], sort_keys=True), t["state"], t["values"])  # noqa: E731
        same = [key(t) for t in ra] == [key(t) for t in rb]
        unchanged = all(after[n] == t for n, t in before.items())
        print(f"killed with SIGKILL after {len(before)} of {args.trials} trials were stored")
        print(f"resumed run == uninterrupted run (numbers, architectures, states, values): {same}")
        print(f"trials stored before the kill unchanged after resume (not re-evaluated): {unchanged}; "
              f"trials in the store: {len(after)} (numbers 0..{max(after)})")
        return 0 if same and unchanged and sorted(after) == list(range(args.trials)) else 1


if __name__ == "__main__":
    sys.exit(main())
