"""Kill and resume: `nas train` killed with SIGKILL in the middle of an epoch and resumed with --resume
ends with the same weights as an uninterrupted run (CPU, same seed). Prints one JSON object with the
largest absolute difference over all weights and buffers.

    OMP_NUM_THREADS=1 python experiments/benchmarks/train_kill_resume.py [--epochs 4] [--data digits]
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

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"


def cmd(out: Path, epochs: int, data: str, resume: bool = False) -> list[str]:
    return [sys.executable, "-m", "nas.cli.main", "train", ARCH, "--data", data, "--epochs", str(epochs),
            "--batch-size", "64", "--out", str(out), "--no-progress", "--format", "json"] + (["--resume"] if resume else [])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--data", default="digits")
    args = ap.parse_args()

    from nas.training.checkpoint import load_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        whole, part = Path(tmp) / "whole", Path(tmp) / "part"
        subprocess.run(cmd(whole, args.epochs, args.data), check=True, capture_output=True)
        epoch_s = json.loads((whole / "result.json").read_text())["train_seconds"] / args.epochs
        p = subprocess.Popen(cmd(part, args.epochs, args.data), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ckpt = part / "checkpoint.pt"
        while not ckpt.exists() and p.poll() is None:  # wait for epoch 1's checkpoint
            time.sleep(0.05)
        time.sleep(0.5 * epoch_s)  # then half an epoch more: killed mid-epoch 2
        killed_at = None
        if p.poll() is None:
            killed_at = int(load_checkpoint(ckpt)["epoch"])
            os.kill(p.pid, signal.SIGKILL)
        p.wait()
        subprocess.run(cmd(part, args.epochs, args.data, resume=True), check=True, capture_output=True)
        a = load_checkpoint(whole / "checkpoint.pt")["model"]
        b = load_checkpoint(part / "checkpoint.pt")["model"]
        diff = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
        ra, rb = (json.loads((d / "result.json").read_text()) for d in (whole, part))
        print(json.dumps({"arch": ARCH, "data": args.data, "epochs": args.epochs,
                          "killed_after_checkpoint_of_epoch": killed_at, "signal": "SIGKILL",
                          "max_abs_weight_difference": diff, "same_keys": sorted(a) == sorted(b),
                          "test_accuracy": {"uninterrupted": ra["test_accuracy"], "resumed": rb["test_accuracy"]},
                          "loadavg": open("/proc/loadavg").read().split()[:3]}, indent=2))


if __name__ == "__main__":
    main()
