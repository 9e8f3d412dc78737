"""``nas bench NAME``: benchmarks against external data. One module per benchmark: ``nas.cli.bench_<name>``."""

from __future__ import annotations

from importlib import import_module

BENCHES = ("nb201-search", "nb201-latency", "train", "supernet", "nb201-darts", "nb201-predictors")


def add_parser(sub):
    p = sub.add_parser("bench", help="benchmarks against external data (NAS-Bench-201, HELP latencies)")
    bsub = p.add_subparsers(dest="bench", metavar="BENCH")
    for name in BENCHES:
        mod = import_module(f"nas.cli.bench_{name.replace('-', '_')}")
        bp = mod.add_parser(bsub)
        bp.set_defaults(_bench_run=mod.run)
    p.set_defaults(_parser=p)
    return p


def run(args) -> int:
    if not getattr(args, "_bench_run", None):
        args._parser.print_help()
        return 2
    return int(args._bench_run(args) or 0)
