"""``nas bench nb201-darts``: differentiable searchers on the NB201 cell space, trained on a bundled dataset.

Each method and seed searches a reduced NB201 network (``--channels``/``--cells``) on ``--data``
resized to 3×32×32, derives a cell, and looks the cell up in NAS-Bench-201 (CIFAR-10 test accuracy of
the cell trained by NAS-Bench-201 itself: the search never sees CIFAR-10). ``--cost`` adds, per
method, one search epoch against one epoch of training the derived cell's network of the same size
on the same data (time and peak tensor memory, measured in the same process).
"""

from __future__ import annotations

from nas.cli._output import add_format

METHODS = ("darts", "darts-2nd", "gdas", "beta-darts")


def add_parser(sub):
    p = sub.add_parser("nb201-darts", help="DARTS / GDAS / beta-DARTS on the NB201 cell space, cells looked up",
                       description=__doc__, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--method", action="append", metavar="M",
                   help=f"repeatable: {', '.join(METHODS)} (default: darts, gdas, beta-darts)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default: 3)")
    p.add_argument("--data", default="mnist5k", help="dataset to search on (default: mnist5k), resized to 3x32x32")
    p.add_argument("--epochs", type=int, default=10, help="search epochs (default: 10)")
    p.add_argument("--train-size", type=int, default=1000, help="train examples used (default: 1000)")
    p.add_argument("--channels", type=int, default=8, help="search network C (default: 8; NB201: 16)")
    p.add_argument("--cells", type=int, default=1, help="cells per stage N (default: 1; NB201: 5)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="searcher option, repeatable")
    p.add_argument("--cost", action="store_true", help="add the search-epoch / training-epoch cost ratios")
    p.add_argument("--benchmarks", metavar="PATH", help="benchmark data folder (default: nas.settings)")
    add_format(p)
    return p


def run(args) -> int:
    import sys

    from nas.cli._options import parse_options
    from nas.cli._output import emit_json, table
    from nas.errors import NasError
    from nas.search.bench.darts_bench import nb201_darts_rows

    methods = args.method or ["darts", "gdas", "beta-darts"]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise NasError(f"--method {bad[0]!r} not allowed; allowed: {', '.join(METHODS)}")
    if args.seeds < 1:
        raise NasError(f"--seeds {args.seeds} not allowed; give an integer >= 1")
    rows, summary = nb201_darts_rows(methods, args.seeds, args.data, args.epochs, args.train_size, args.channels,
                                     args.cells, parse_options(args.option, "--option"), cost=args.cost,
                                     benchmarks=args.benchmarks,
                                     log=lambda m: print(m, file=sys.stderr))
    if args.format == "json":
        emit_json(rows + summary)
        return 0
    table(rows, ["method", "seed", "arch", "cifar10_test", "search_seconds", "peak_memory_mb"])
    if summary:
        print()
        table(summary)
    return 0
