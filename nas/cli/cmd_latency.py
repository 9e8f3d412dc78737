"""``nas latency measure|calibrate|targets``: measure networks here, calibrate the cpu target, list targets."""

from __future__ import annotations

import sys
from pathlib import Path

from nas.cli._output import add_format, emit_json, table

MEASURABLE = ("cpu", "cpu-roofline", "gpu", "gpu-h100", "gpu-a100", "gpu-rtx2080ti")


def add_parser(sub):
    p = sub.add_parser("latency", help="measure latency, calibrate the cpu target, list targets")
    lsub = p.add_subparsers(dest="latency_command", metavar="ACTION")

    m = lsub.add_parser("measure", help="measure one network on this machine (median of N interleaved runs)",
                        description="ARCH: a reference network name, an NB201 arch string, or an architecture JSON file.")
    m.add_argument("arch", metavar="ARCH")
    m.add_argument("--target", default="cpu", help="cpu (default) or a gpu target (needs a CUDA GPU here)")
    m.add_argument("--space", help="space of ARCH when it is a string")
    m.add_argument("--input", help="input size CxHxW, e.g. 3x224x224 (default: the space's)")
    m.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    m.add_argument("--threads", type=int, help="torch threads (default: 1, or $NAS_THREADS)")
    m.add_argument("--runs", type=int, default=15, help="timed runs (default 15)")
    m.add_argument("--warmup", type=int, default=3, help="untimed warm-up runs (default 3)")
    m.add_argument("--no-measure", action="store_true",
                   help="predict without measuring layers missing from the cpu table first")
    add_format(m)

    c = lsub.add_parser("calibrate", help="measure this machine's layer table and fit the learned correction")
    c.add_argument("--target", default="cpu", help="only cpu can be calibrated here")
    c.add_argument("--space", default="hybrid", help="space whose layers and networks are measured (default hybrid)")
    c.add_argument("--input", help="input size CxHxW (default: the space's)")
    c.add_argument("--batch", type=int, default=1)
    c.add_argument("--threads", type=int, help="torch threads (default: 1, or $NAS_THREADS)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--budget", type=float, default=540.0, help="seconds to aim for (default 540)")
    c.add_argument("--archs", type=int, default=400, help="architectures sampled to list the layers (default 400)")
    c.add_argument("--networks", type=int, default=50, help="whole networks measured for the correction (default 50)")
    c.add_argument("--layer-runs", type=int, default=7, help="interleaved runs per layer and pass (default 7)")
    c.add_argument("--net-runs", type=int, default=7, help="interleaved runs per network and pass (default 7)")
    c.add_argument("--passes", type=int, default=2, help="separate passes; each time is the smallest pass median (default 2)")
    c.add_argument("--remeasure", "--fresh", dest="fresh", action="store_true",
                   help="measure a fresh table (default: keep layers measured on a quiet machine, so an "
                        "interrupted calibration resumes; layers taken under load are always re-measured)")
    c.add_argument("--context", choices=("network", "isolated"), default="network",
                   help="time each layer inside the sampled networks that hold it (default) or alone")
    c.add_argument("--wait", type=float, default=60.0,
                   help="seconds to wait for other work to stop before refusing (default 60)")
    c.add_argument("--out", help="calibration file to write (default: the user data dir, where --target cpu looks)")
    add_format(c)

    t = lsub.add_parser("targets", help="list hardware targets and their latency models")
    add_format(t)
    p.set_defaults(_parser=p)
    return p


def run(args) -> int:
    cmd = getattr(args, "latency_command", None)
    if cmd == "measure":
        return _measure(args)
    if cmd == "calibrate":
        return _calibrate(args)
    if cmd == "targets":
        return _targets(args)
    args._parser.print_help()
    return 2


def _measure(args) -> int:
    from nas.cli.cmd_cost import describe_sources, latency_details, prepare_target
    from nas.errors import NasError
    from nas.hw_models.machine import default_threads
    from nas.hw_models.measure import measure_spec
    from nas.hw_models.targets import get_target
    from nas.resolve_arg import resolve_arch_argument

    if args.target not in MEASURABLE:
        get_target(args.target)  # unknown names get the list of targets
        raise NasError(f"target {args.target!r} is a device measured elsewhere; this machine can measure "
                       f"--target cpu, or a gpu target when a CUDA GPU is present")
    if args.runs < 1 or args.warmup < 0:
        raise NasError(f"bad --runs {args.runs} / --warmup {args.warmup}; runs >= 1, warmup >= 0")
    if args.runs > 100_000 or args.warmup > 100_000:
        raise NasError(f"bad --runs {args.runs} / --warmup {args.warmup}; at most 100000 each")
    check_batch_threads(args.batch, args.threads)
    device = "cpu" if args.target.startswith("cpu") else "cuda"
    spec, arch = resolve_arch_argument(args.arch, args.space, args.input)
    check_fits_memory(spec, args.batch, device)
    load_before = busy_warning()
    threads = args.threads if args.threads is not None else default_threads()
    target = prepare_target(args.target, args.no_measure) if device == "cpu" else get_target(args.target)
    pred = target.latency_ms(spec, args.batch)  # any on-demand layer measurement happens before the network's
    from nas.hw_models.conditions import observed

    with observed(threads) as seen:
        m = measure_spec(spec, batch=args.batch, runs=args.runs, warmup=args.warmup, threads=threads, device=device)
    cond = seen[0]
    if cond.contended:
        print(f"nas latency: warning: {cond.describe()} during the measurement; the time is inflated",
              file=sys.stderr)
    out = {"arch": args.arch, "name": spec.name, "input": str(spec.input), "batch": args.batch,
           "target": args.target, **m.to_dict(), "predicted_ms": pred,
           "prediction_error": (pred - m.median_ms) / m.median_ms, "latency_model": target.describe(),
           "load_avg_before": load_before, "conditions": cond.to_json(), "contended": cond.contended,
           **latency_details(target, spec)}
    if arch is not None:
        out["digest"] = arch.digest()
    if args.format == "json":
        emit_json(out)
        return 0
    print(f"{args.arch}: batch {args.batch}, {m.threads} thread{'s' if m.threads != 1 else ''} on {device}; "
          f"{cond.describe()}")
    table([{"metric": "median", "value": f"{m.median_ms:.3f} ms"},
           {"metric": "p25 .. p75", "value": f"{m.p25_ms:.3f} .. {m.p75_ms:.3f} ms ({m.iqr_rel:.1%} of median)"},
           {"metric": "min", "value": f"{m.min_ms:.3f} ms"},
           {"metric": "runs (warm-up)", "value": f"{m.runs} ({m.warmup})"},
           {"metric": f"predicted ({args.target})", "value": f"{pred:.3f} ms ({out['prediction_error']:+.1%})"},
           *([{"metric": "predicted from layers", "value": describe_sources(out["latency_layers"])}]
             if "latency_layers" in out else [])])
    return 0


def check_batch_threads(batch: int, threads: int | None) -> None:
    """One-line errors for a batch or thread count out of range, before anything is built."""
    from nas.errors import NasError
    from nas.hw_models.machine import cpu_count

    if batch < 1:
        raise NasError(f"bad --batch {batch}; use a positive integer")
    if threads is not None and not 1 <= threads <= 4 * cpu_count():
        raise NasError(f"bad --threads {threads}; use 1 .. {4 * cpu_count()} (this machine has {cpu_count()} cores)")


def check_fits_memory(spec, batch: int, device: str, what: str = "--input / --batch") -> None:
    """Refuse, before allocating, a network whose weights plus one layer's input and output at ``batch``
    (fp32, twice over for temporaries) do not fit in the memory free on ``device`` now."""
    from nas.hw_models.analytic import analytic_costs
    from nas.memory import require

    c = analytic_costs(spec)
    need = 4 * (c.params + batch * (spec.input.numel + 2 * c.peak_activation))
    require(need, f"{spec.name or 'the network'} at {spec.input} with batch {batch}", f"use a smaller {what}",
            device)


def busy_warning() -> float | None:
    """The 1-minute load average; warns on stderr when other work competes for the cores."""
    import os

    from nas.hw_models.machine import cpu_count

    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    if load > 0.5 * cpu_count():
        print(f"nas latency: warning: load average {load:.1f} on {cpu_count()} cores; other work competes "
              "with the measurement and inflates it", file=sys.stderr)
    return round(load, 2)


def _calibrate(args) -> int:
    from nas.errors import NasError
    from nas.hw_models.calibrate import CalibrationConfig, calibrate

    if args.target != "cpu":
        raise NasError(f"only --target cpu can be calibrated on this machine, not {args.target!r}")
    check_batch_threads(args.batch, args.threads)
    if args.seed < 0:
        raise NasError(f"bad --seed {args.seed}; use a non-negative integer")
    if args.out is not None and (not args.out.strip() or Path(args.out).is_dir()):
        raise NasError(f"bad --out {args.out!r}; give a calibration file name such as cpu.json")
    cfg = CalibrationConfig(space=args.space, input=args.input, batch=args.batch, threads=args.threads,
                            seed=args.seed, enumerate_archs=args.archs, networks=args.networks,
                            layer_runs=args.layer_runs, net_runs=args.net_runs, budget_s=args.budget,
                            passes=args.passes, fresh=args.fresh, wait_s=args.wait,
                            context=args.context)
    load_before = busy_warning()
    cal, path = calibrate(cfg, path=args.out, log=lambda s: print(s, file=sys.stderr, flush=True))
    corr = cal.corrections.get(args.space, {})
    out = {"target": "cpu", "space": args.space, "machine": cal.machine["id"], "threads": cal.machine["threads"],
           "path": str(path),
           "layers_in_table": len(cal.table), "networks": sum(n["space"] == args.space for n in cal.networks),
           "seconds": cal.configs[-1]["seconds"],
           "train_mape_table_learned": corr["table"].report["train_mape"] if "table" in corr else None,
           "peak_gflops": cal.profile.peak("fp32"), "bandwidth_gbs": cal.profile.bandwidth_gbs,
           "load_avg_before": load_before, "remeasured_blocks": cal.configs[-1].get("remeasured_blocks", 0)}
    if args.format == "json":
        emit_json(out)
    else:
        table([{"key": k, "value": v} for k, v in out.items()])
    return 0


def _targets(args) -> int:
    from nas.errors import NasError
    from nas.hw_models.targets import TARGETS

    rows = []
    for name, factory in TARGETS.items():
        try:
            t = factory()
            rows.append({"target": name, "kind": t.kind, "model": t.describe()})
        except NasError as e:
            rows.append({"target": name, "kind": "?", "model": f"unavailable: {e}"})
    if args.format == "json":
        emit_json(rows)
    else:
        table(rows, ["target", "kind", "model"])
    return 0
