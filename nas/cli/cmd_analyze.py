"""``nas analyze SPACE``: size of a space, cost distributions of seeded samples, op-family histogram."""

from __future__ import annotations

from nas.cli._output import add_format, emit_json, table

MAX_SAMPLES = 1_000_000
"""About 1.5 kB of costs kept per sample (10 kB at the peak): a million is about 1.5 GB."""


def add_parser(sub):
    p = sub.add_parser("analyze", help="size, cost distributions and op families of a search space",
                       description="Sample SPACE with a seeded generator, resolve each sample and summarise "
                                   "its analytic costs (no torch).")
    p.add_argument("space", metavar="SPACE", help="a registered search space (see `nas spaces`)")
    p.add_argument("--samples", type=int, default=1000, help="architectures to sample (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the numpy generator (default 0)")
    p.add_argument("--input", help="input size CxHxW, e.g. 3x224x224 (default: the space's)")
    add_format(p)
    return p


def _scaled(value: float, unit: str) -> str:
    return f"{value / 2**20:,.2f}" if unit == "bytes" else f"{value / 1e6:,.3f}"


_SHOWN = {"flops": ("FLOPs", "M MACs"), "params": ("params", "M"), "memory": ("activation memory", "M elements"),
          "peak_memory": ("peak activation", "M elements"), "bytes": ("memory traffic", "MiB (fp32)")}


def run(args) -> int:
    import numpy as np

    from nas.errors import NasError
    from nas.searchspace import get_space, parse_input
    from nas.searchspace.analysis import METRICS, analyze_space

    if args.samples < 1:
        raise NasError(f"--samples must be at least 1, got {args.samples}")
    if args.samples > MAX_SAMPLES:
        raise NasError(f"--samples must be at most {MAX_SAMPLES:,} (each sample's costs are kept in memory), "
                       f"got {args.samples}")
    if args.seed < 0:
        raise NasError(f"--seed must be a non-negative integer, got {args.seed}")
    space = get_space(args.space, input=parse_input(args.input) if args.input else None)
    result = analyze_space(space, args.samples, np.random.default_rng(args.seed), seed=args.seed)
    if args.format == "json":
        emit_json(result.to_dict())
        return 0
    d = result.to_dict()
    note = " (before constraints)" if result.constrained else ""
    print(f"space {result.space}: {result.size:,} architectures{note}, {result.genes} genes, input {d['input']}")
    print(f"{result.samples} samples (seed {args.seed}), {len(result.rows)} resolved in {result.seconds:.2f} s")
    if result.failures:
        print(f"{result.failures} samples do not resolve at {d['input']}, e.g.: {result.first_failure}")
    print()
    rows = []
    for m in METRICS:
        label, unit = _SHOWN[m]
        dist = result.distributions[m]
        raw_unit = METRICS[m][0]
        rows.append({"metric": label, "unit": unit,
                     **{k: _scaled(v, raw_unit) for k, v in dist.to_dict().items() if k != "mean"}})
    table(rows, ["metric", "unit", "min", "p10", "median", "p90", "max"])
    print()
    total = sum(result.families.values())
    table([{"family": f, "count": c, "share": f"{100 * c / total:.1f}%"} for f, c in result.families.items()],
          ["family", "count", "share"])
    print("(layers per op family; a block with a chosen token mixer counts as its mixer's family)")
    return 0
