"""Kill a differentiable search mid-way (SIGKILL once its checkpoint holds epoch K), resume it with ``--resume``,
and compare the derived architecture with an uninterrupted run of the same command.

    OMP_NUM_THREADS=1 python experiments/benchmarks/darts_kill_resume.py --out runs/darts-kill
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="runs/darts-kill-resume")
    ap.add_argument("--strategy", default="beta-darts")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--kill-after", type=int, default=2, help="kill once the checkpoint holds this epoch")
    ap.add_argument("--option", action="append", default=["train_size=128", "a_lr=0.05"])
    args = ap.parse_args(argv)

    from nas.training.checkpoint import load_checkpoint

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    base = ["nas", "search", "--space", "nb201", "--strategy", args.strategy, "--trials", "1", "--no-progress",
            "--option", "data=mnist5k", "--option", f"epochs={args.epochs}", "--format", "json"]
    for o in args.option:
        base += ["--option", o]

    def derived(folder: Path) -> dict:
        return json.loads((folder / "darts.json").read_text())

    t0 = time.perf_counter()
    subprocess.run(base + ["--out", str(out / "full")], check=True, stdout=subprocess.DEVNULL)
    full_s = time.perf_counter() - t0
    killed = out / "killed"
    proc = subprocess.Popen(base + ["--out", str(killed)], stdout=subprocess.DEVNULL, start_new_session=True)
    ck = killed / "darts_checkpoint.pt"
    epoch_at_kill = 0
    while proc.poll() is None:
        if ck.is_file():
            try:
                epoch_at_kill = int(load_checkpoint(ck, kind="darts")["epoch"])
            except Exception:  # noqa: BLE001 - a checkpoint being replaced; read it again
                epoch_at_kill = 0
            if epoch_at_kill >= args.kill_after:
                os.killpg(proc.pid, signal.SIGKILL)
                break
        time.sleep(0.2)
    proc.wait()
    killed_rc = proc.returncode
    subprocess.run(base + ["--out", str(killed), "--resume"], check=True, stdout=subprocess.DEVNULL)
    a, b = derived(out / "full"), derived(killed)
    doc = {"strategy": args.strategy, "epochs": args.epochs, "killed_at_epoch": epoch_at_kill,
           "killed_returncode": killed_rc, "resumed_from_epoch": b["resumed_from_epoch"],
           "uninterrupted_arch": a["arch"], "resumed_arch": b["arch"], "same_arch": a["arch"] == b["arch"],
           "same_probs": [p["probs"] for p in a["points"]] == [p["probs"] for p in b["points"]],
           "uninterrupted_wall_seconds": round(full_s, 1)}
    json.dump(doc, sys.stdout, indent=2)
    print()
    return 0 if doc["same_arch"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
