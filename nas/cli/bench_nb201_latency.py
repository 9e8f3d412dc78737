"""``nas bench nb201-latency``: few-shot latency prediction of NAS-Bench-201 cells on the 27 HELP devices."""

from __future__ import annotations

import sys

from nas.cli._output import add_format, emit_json, table


def add_parser(bsub):
    p = bsub.add_parser(
        "nb201-latency", help="predict NB201 latency per HELP device from a few measured cells",
        description="For each HELP device: measure SAMPLES cells (other devices' data as the prior), predict "
                    "the other 15,000+ cells; Spearman rho, Kendall tau, MAPE per device and the mean.")
    p.add_argument("--samples", type=int, nargs="+", default=[10], help="cells measured per device (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample choice (default 0)")
    p.add_argument("--design", choices=("dopt", "random"), default="dopt",
                   help="dopt: D-optimal choice on the other devices' principal components (default); random")
    p.add_argument("--devices", help="comma-separated devices (default: all 27)")
    p.add_argument("--data", help="benchmark data folder (default: NAS_BENCHMARKS or ../shared/benchmarks)")
    add_format(p)
    return p


def run(args) -> int:
    from nas.errors import NasError, one_of
    from nas.hw_models.nb201_latency import DEVICES, benchmark, load_help_data

    devices = [d.strip() for d in args.devices.split(",")] if args.devices else None
    for d in devices or ():
        if d not in DEVICES:
            raise one_of("HELP device", d, DEVICES)
    for n in args.samples:
        if not 3 <= n <= 15_000:
            raise NasError(f"--samples {n} out of range; use 3..15000 of the 15,625 cells")
    if args.seed < 0:
        raise NasError(f"--seed must be a non-negative integer, got {args.seed}")
    data = load_help_data(args.data)
    rows = []
    for n in args.samples:
        print(f"nb201-latency: {n} samples per device, design {args.design}, seed {args.seed}", file=sys.stderr)
        rows += benchmark(data, n, args.seed, args.design, devices)
    if args.format == "json":
        emit_json(rows)
    else:
        table(rows, ["device", "kind", "samples", "design", "spearman", "kendall", "mape", "median_ape",
                     "worst_device", "worst_spearman"])
    return 0
