"""Predicted against measured CPU latency of every shipped reference network (1 thread, batch 1, 224²).

For each network of ``nas.searchspace.reference.REFERENCES`` the ``cpu`` target predicts its latency the
way ``nas cost NAME --target cpu`` does (layers missing from the table measured on demand and cached),
and the way it did before on-demand measurement (``--no-measure``: missing layers interpolated from other
layers). Then every network is measured whole twice, in two separate passes (A, B; inside a pass all
networks interleaved, median of ``--runs`` rounds), each pass watched for other work. The noise floor of
a network is |A − B| / mean(A, B); a prediction passes when its error against mean(A, B) is within ±10 %
or within the noise floor where that is wider.

``--under-load`` then repeats it after two calibrations run while busy loops occupy every core: one
where the loops run for 30 s once it has started measuring layers (it must notice, wait and
re-measure), one under sustained load (it must refuse with one line and leave the stored table alone).

    OMP_NUM_THREADS=1 python experiments/benchmarks/latency_reference_nets.py --under-load --out ref.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def busy_loops(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def predicted_vs_measured(runs: int, threads: int, names: list[str], tag: str) -> list[dict[str, Any]]:
    from nas.hw_models.calibrate import Calibration
    from nas.hw_models.conditions import LoadGuard
    from nas.hw_models.measure import measure_specs
    from nas.hw_models.targets import CpuTarget
    from nas.searchspace.reference import reference_net

    specs = [reference_net(n) for n in names]
    target = CpuTarget(threads=threads)
    if target.calibration is None:
        raise SystemExit("no CPU calibration found")
    plain = Calibration.load(target.path).table  # without this machine's on-demand layer cache
    interpolated = [plain.latency_ms(s) for s in specs]
    target.measure_on_demand(log=log, wait_s=60.0)
    t0 = time.perf_counter()
    predicted = [target.latency_ms(s) for s in specs]
    log(f"[{tag}] predictions (with on-demand layers) in {time.perf_counter() - t0:.1f} s")
    sources = [target.sources(s) for s in specs]
    guard = LoadGuard(threads, wait_s=120.0, log=log)
    passes = []
    for p in "AB":
        ms, cond = guard.run(lambda: measure_specs(specs, runs=runs, warmup=2, threads=threads), f"pass {p}")
        passes.append(([m.median_ms for m in ms], cond))
        log(f"[{tag}] pass {p}: {cond.describe()}")
    rows = []
    for i, name in enumerate(names):
        a, b = passes[0][0][i], passes[1][0][i]
        mean = (a + b) / 2
        noise = abs(a - b) / mean
        err = predicted[i] / mean - 1
        rows.append({"phase": tag, "network": name, "predicted_ms": predicted[i], "interpolated_ms": interpolated[i],
                     "measured_a_ms": a, "measured_b_ms": b, "noise": noise, "error": err,
                     "error_interpolated": interpolated[i] / mean - 1, "ok": abs(err) <= max(0.10, noise),
                     "layers": sources[i], "conditions": [passes[0][1].to_json(), passes[1][1].to_json()]})
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"{'phase':7s} {'network':22s} {'pred':>8s} {'meas A':>8s} {'meas B':>8s} {'noise':>6s} {'error':>7s} "
          f"{'ok':>3s} | {'interp':>8s} {'error':>7s} | layers measured/interp/modelled")
    for r in rows:
        lay = r["layers"]
        print(f"{r['phase']:7s} {r['network']:22s} {r['predicted_ms']:8.2f} {r['measured_a_ms']:8.2f} "
              f"{r['measured_b_ms']:8.2f} {r['noise']:6.1%} {r['error']:+7.1%} {'yes' if r['ok'] else 'NO':>3s} | "
              f"{r['interpolated_ms']:8.2f} {r['error_interpolated']:+7.1%} | "
              f"{lay['measured']}/{lay['interpolated']}/{lay['modelled']}")


def calibrate_cli(extra: list[str], load_on: str | None, load_seconds: float | None, cores: int) -> dict[str, Any]:
    """``nas latency calibrate`` as a user runs it, with busy loops on every core: from the start when
    ``load_on`` is None, else from the first stderr line containing ``load_on``, for ``load_seconds``
    (None: until it ends)."""
    import threading

    cmd = [sys.executable, "-m", "nas.cli.main", "latency", "calibrate", "--target", "cpu", "--format", "json",
           *extra]
    t0 = time.perf_counter()
    loops: list[subprocess.Popen] = busy_loops(cores) if load_on is None else []
    started_at = 0.0 if load_on is None else None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    while proc.poll() is None:
        now = time.perf_counter() - t0
        if started_at is None and any(load_on in line for line in lines):
            loops, started_at = busy_loops(cores), now
            log(f"  busy loops on {cores} cores started at {now:.0f} s")
        if loops and load_seconds is not None and started_at is not None and now >= started_at + load_seconds:
            stop(loops)
            loops = []
            log(f"  busy loops stopped at {now:.0f} s")
        time.sleep(0.2)
    stop(loops)
    out = proc.stdout.read()
    reader.join(timeout=5)
    err = "".join(lines)
    res = {"command": " ".join(["nas", *cmd[3:]]), "rc": proc.returncode, "seconds": round(time.perf_counter() - t0, 1),
           "stderr_last_line": err.strip().splitlines()[-1] if err.strip() else "",
           "noticed_lines": [line.strip() for line in err.splitlines() if "other processes used" in line]}
    if proc.returncode == 0:
        res["result"] = json.loads(out)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--networks", help="comma-separated reference networks (default: all)")
    ap.add_argument("--under-load", action="store_true")
    ap.add_argument("--load-budget", type=float, default=90.0, help="--budget of the calibration under load")
    ap.add_argument("--out")
    args = ap.parse_args(argv)

    from nas.hw_models.calibrate import calibration_path
    from nas.hw_models.conditions import load_avg, sample_others
    from nas.hw_models.machine import cpu_count
    from nas.searchspace.reference import REFERENCES

    names = args.networks.split(",") if args.networks else REFERENCES.names()
    log(f"calibration {calibration_path(args.threads)}; others' busy cores now {sample_others(2.0)}, load {load_avg()}")
    rows = predicted_vs_measured(args.runs, args.threads, names, "quiet")
    print_rows(rows)
    result: dict[str, Any] = {"rows": rows}
    if args.under_load:
        cal = calibration_path(args.threads)
        before = cal.read_bytes() if cal.exists() else b""
        log("calibration with busy loops on every core for 30 s from when it starts measuring layers:")
        transient = calibrate_cli(["--space", "hybrid", "--remeasure", "--budget", str(args.load_budget),
                                   "--wait", "120"], "timing them inside", 30.0, cpu_count())
        log(json.dumps({k: v for k, v in transient.items() if k != "result"}))
        snapshot = cal.read_bytes() if cal.exists() else b""
        log("calibration under sustained busy loops on every core (--wait 10):")
        sustained = calibrate_cli(["--space", "hybrid", "--remeasure", "--wait", "10"], None, None, cpu_count())
        log(json.dumps(sustained))
        unchanged = (cal.read_bytes() if cal.exists() else b"") == snapshot
        after = predicted_vs_measured(args.runs, args.threads, names, "after")
        print_rows(after)
        print(f"transient load: rc {transient['rc']}, blocks re-measured "
              f"{transient.get('result', {}).get('remeasured_blocks')}, noticed {len(transient['noticed_lines'])} "
              f"times, {transient['seconds']} s")
        print(f"sustained load: rc {sustained['rc']}: {sustained['stderr_last_line']}")
        print(f"stored calibration unchanged by the refused run: {unchanged}; changed by the transient one: "
              f"{snapshot != before}")
        result.update(after=after, transient=transient, sustained=sustained, refused_run_left_table=unchanged)
    ok = sum(r["ok"] for r in result["rows"])
    print(f"quiet: {ok}/{len(result['rows'])} networks within ±10 % or the noise floor")
    if args.out:
        from nas.io import write_json_atomic

        write_json_atomic(args.out, result, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
