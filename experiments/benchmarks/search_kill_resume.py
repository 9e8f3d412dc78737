"""A `nas search` killed with SIGKILL at random moments and resumed ends with the trials of an
uninterrupted run; two searches started at once on one --out: one runs, the other is refused.

    OMP_NUM_THREADS=1 python experiments/benchmarks/search_kill_resume.py [--trials 150] [--kills 10] [--seed 0]

1. Runs the search (hybrid space, DeepMAD score, 600M-FLOPs budget, seed 7) uninterrupted, timing it (T).
2. For each of ``--kills`` moments drawn uniformly in [0.02 T, T] (seeded), plus one moment taken while the
   run folder's front is being written (``archs/`` appearing), starts the same search in a fresh folder,
   SIGKILLs it at that moment, then recovers it as a user would: ``--resume`` when the folder holds a
   ``study.db``, else the same command again (a kill before the store exists leaves nothing to resume).
   Checks that the recovered run holds exactly the uninterrupted run's trials (number, architecture,
   state, values), that every trial stored before the kill is unchanged (its recorded evaluation time
   included: a re-evaluation would have written a new one), that ``front.json`` and ``archs/`` equal the
   uninterrupted run's, and that no temporary file is left.
3. Starts two searches (seeds 7 and 8) on one --out at the same moment: prints both exit codes and the
   refused one's message, then resumes the survivor to more trials and checks it against an
   uninterrupted run of that seed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cmd(out: Path, trials: int, seed: int = 7) -> list[str]:
    return [sys.executable, "-m", "nas.cli.main", "search", "--budget", "600M-flops", "--trials", str(trials),
            "--seed", str(seed), "--no-progress", "--format", "json", "--out", str(out)]


def stored(folder: Path) -> dict:
    """The trials in the folder's study (whatever its name), {} when there is none yet."""
    from nas.search.results import run_folder
    from nas.search.results.storage import OptunaStore, sqlite_url

    if not (folder / "study.db").is_file():
        return {}
    url = sqlite_url(folder / "study.db")
    try:
        names = run_folder.studies(url)
        if not names:
            return {}
        return OptunaStore(url, next(iter(names)), ["maximize", "minimize"], create=False).trials()
    except Exception:  # noqa: BLE001 - the child may be creating the schema
        return {}


def key(t: dict) -> tuple:
    return t["number"], json.dumps(t["arch"], sort_keys=True), t["state"], t["values"]


def folder_view(folder: Path) -> tuple[list, list, list]:
    trials = [key(t) for t in json.loads((folder / "trials.json").read_text())["trials"]]
    front = json.loads((folder / "front.json").read_text())
    rows = [(Path(r["arch"]).name, r["score"], r["flops"]) for r in front["pareto"]]
    archs = sorted(p.name for p in (folder / "archs").iterdir())
    return trials, rows, archs


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith(".tmp"))


def kill_at(folder: Path, trials: int, delay: float | None) -> tuple[float, int, str]:
    """Start the search, SIGKILL it after ``delay`` s (None: as soon as archs/ appears, i.e. during the
    front write); the moment, the trials stored at the kill, and what the folder held."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd(folder, trials), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if delay is None:
        while proc.poll() is None and not (folder / "archs").exists():
            time.sleep(0.001)
    else:
        while proc.poll() is None and time.perf_counter() - start < delay:
            time.sleep(0.005)
    if proc.poll() is not None:
        return time.perf_counter() - start, -1, "finished before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    moment = time.perf_counter() - start
    held = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    return moment, len(stored(folder)), ",".join(held) or "(no folder)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=150)
    ap.add_argument("--kills", type=int, default=10, help="random kill moments (plus one during a front write)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        subprocess.run(cmd(tmp / "straight", args.trials), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        T = time.perf_counter() - t0
        ref = folder_view(tmp / "straight")
        print(f"uninterrupted: {args.trials} trials in {T:.1f} s (load average {os.getloadavg()[0]:.1f})")
        moments = sorted(rng.uniform(0.02 * T, T) for _ in range(args.kills)) + [None]
        print("kill  moment_s  stored_at_kill  recovered_by  same_trials  pre_kill_unchanged  same_front_archs  "
              "tmp_left")
        for i, delay in enumerate(moments):
            folder = tmp / f"kill{i}"
            moment, n, held = kill_at(folder, args.trials, delay)
            if n < 0:
                print(f"{i:>4}  {moment:8.2f}  the search finished before the kill (not counted)")
                continue
            before = stored(folder)
            resume = (folder / "study.db").is_file()
            r = subprocess.run(cmd(folder, args.trials) + (["--resume"] if resume else []),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                print(f"{i:>4}  {moment:8.2f}  {n:>14}  recovery failed: {r.stderr.strip()[-300:]} (held: {held})")
                ok = False
                continue
            got = folder_view(folder)
            after = stored(folder)
            same = got[0] == ref[0]
            unchanged = all(after.get(k) == t for k, t in before.items())
            same_front = got[1:] == ref[1:]
            left = leftovers(folder)
            ok &= same and unchanged and same_front and not left
            label = "front write" if delay is None else ""
            print(f"{i:>4}  {moment:8.2f}  {n:>14}  {'--resume' if resume else 'rerun':>12}  {str(same):>11}  "
                  f"{str(unchanged):>18}  {str(same_front):>16}  {len(left):>8}  {label}")

        # two searches at once on one --out
        both = tmp / "both"
        procs = [subprocess.Popen(cmd(both, 60, seed), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for seed in (7, 8)]
        outs = [(p.wait(), p.stderr.read()) for p in procs]
        codes = [c for c, _ in outs]
        winner = codes.index(0) if codes.count(0) == 1 else None
        print(f"\ntwo searches on one --out (seeds 7 and 8, started together): exit codes {codes}")
        for (c, err), seed in zip(outs, (7, 8)):
            if c != 0:
                print(f"  seed {seed} refused: {err.strip().splitlines()[-1] if err.strip() else '(no message)'}")
        if winner is None:
            print("  FAILED: expected exactly one run to succeed")
            return 1
        seed = (7, 8)[winner]
        r = subprocess.run(cmd(both, 90, seed) + ["--resume"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        subprocess.run(cmd(tmp / "straight90", 90, seed), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        same = r.returncode == 0 and folder_view(both)[0] == folder_view(tmp / "straight90")[0]
        from nas.search.results import run_folder
        from nas.search.results.storage import sqlite_url

        counts = run_folder.studies(sqlite_url(both / "study.db"))
        one_seed = list(counts.values()) == [90] and sorted(stored(both)) == list(range(90))
        print(f"  survivor (seed {seed}) resumed from 60 to 90 trials: exit {r.returncode}, trials equal to an "
              f"uninterrupted 90-trial run: {same}; store holds trials 0..89 once each: {one_seed}")
        ok &= same and one_seed
    print(f"\nall checks passed: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
