"""`nas report` on the default run, opened offline in headless Chromium, and the run's figures for docs/.

    python experiments/benchmarks/report_screenshot.py [--run RUN_DIR] [--docs docs/figures] [--shot PNG]

Without ``--run`` it runs the README's default search (``nas search --budget 600M-flops --target gpu``,
300 trials, seed 0) in a temporary folder. It then writes ``report.html`` with ``nas report``, copies
the figures to ``--docs``, and screenshots the page with Chromium (Debian: ``apt-get install chromium``)
with the network cut off: in a fresh network namespace (``unshare --net``) where that is allowed, and
always with every host name resolving to nothing and an unreachable proxy. It prints what it wrote and
how much of each figure's part of the screenshot is drawn (not white), so an image that failed to load
shows as ~0.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no Chromium found (Debian: apt-get install -y chromium)")


def screenshot(html: Path, png: Path, width: int, height: int) -> list[str]:
    cmd = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--no-first-run",
           f"--window-size={width},{height}", f"--screenshot={png}", html.resolve().as_uri()]
    if shutil.which("unshare") and subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0:
        cmd = ["unshare", "--net", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return cmd


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="an existing run folder (default: run the default search now)")
    ap.add_argument("--docs", default=str(ROOT / "docs" / "figures"), help="where the figures are copied")
    ap.add_argument("--shot", default=str(ROOT / "docs" / "figures" / "report_screenshot.png"))
    ap.add_argument("--trials", type=int, default=300)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nas-report-"))
    run = Path(args.run) if args.run else work / "default"
    nas = [sys.executable, "-m", "nas.cli.main"]
    if not args.run:
        t = time.perf_counter()
        subprocess.run([*nas, "search", "--budget", "600M-flops", "--target", "gpu", "--trials", str(args.trials),
                        "--out", str(run), "--no-progress", "--format", "json"], check=True, capture_output=True)
        print(f"default search: {args.trials} trials in {time.perf_counter() - t:.1f} s -> {run}")
    html = work / "report.html"
    t = time.perf_counter()
    out = subprocess.run([*nas, "report", str(run), "-o", str(html), "--figures", args.docs, "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    print(f"nas report: {info['bytes'] / 1e3:,.0f} kB in {time.perf_counter() - t:.1f} s; sections "
          f"{info['sections']}; {info['trials']} trials, {info['front']} on the front")
    for f in info["figures"]:
        print(f"figure: {f}")
    shot = Path(args.shot)
    shot.parent.mkdir(parents=True, exist_ok=True)
    cmd = screenshot(html, shot, 1300, 4400)
    print(f"screenshot: {shot} ({'in a network namespace, ' if cmd[0] == 'unshare' else ''}"
          "host names resolve to nothing, proxy unreachable)")
    from PIL import Image

    with Image.open(shot) as im:
        gray = im.convert("L")
        w, h = gray.size
        print(f"screenshot size {w}x{h}")
        bands = 8
        for b in range(bands):
            band = gray.crop((0, b * h // bands, w, (b + 1) * h // bands))
            hist = band.histogram()
            drawn = 1 - sum(hist[245:]) / (band.width * band.height)
            print(f"  rows {b * h // bands:5d}-{(b + 1) * h // bands:5d}: {100 * drawn:5.1f}% not white")
    print(f"load: {Path('/proc/loadavg').read_text().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
