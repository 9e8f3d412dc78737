"""``nas bench nb201-predictors``: learned predictors fitted on N architectures, ranking all the others.

Kendall τ, Spearman ρ and precision at the top 5 % (mean over seeds; τ's std too). ``--benchmark nb201``
uses the 491 NB201 cells of the NAS-Bench-Suite-Zero samples with the NB201 table's validation accuracy
and zero-cost features computed by our code (``--zc-data``, cached); ``nb101`` / ``nb301`` use the 500
Suite-Zero samples with their stored proxy values. ``--predictor NAME[:ENCODING]``, encodings
onehot, path, opcount, zc and '+' combinations (gnn: graph or graph+zc).
"""

from __future__ import annotations

from nas.cli._output import add_format

DEFAULT_PREDICTORS = ("rf:onehot", "rf:onehot+zc", "gbdt:onehot+zc", "gp:onehot+zc", "mlp:onehot+zc",
                      "gnn:graph+zc")
TRAIN_SIZES = (10, 20, 50, 100, 200)


def add_parser(sub):
    import argparse

    p = sub.add_parser("nb201-predictors", help="learned accuracy predictors: Kendall τ, Spearman ρ, precision@5%",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--predictor", action="append", metavar="NAME[:ENC]",
                   help=f"predictor, repeatable (default: {', '.join(DEFAULT_PREDICTORS)})")
    p.add_argument("--dataset", action="append", metavar="NAME",
                   help="cifar10, cifar100, imagenet16-120 or all; repeatable (default: cifar10; nb101/nb301: cifar10)")
    p.add_argument("--train-size", action="append", type=int, metavar="N",
                   help=f"training architectures, repeatable (default: {', '.join(map(str, TRAIN_SIZES))})")
    p.add_argument("--seeds", type=int, default=10, help="number of seeds, 0..N-1 (default: 10)")
    p.add_argument("--benchmark", choices=("nb201", "nb101", "nb301"), default="nb201")
    p.add_argument("--zc-data", default="mnist5k",
                   help="minibatch of our zero-cost features on nb201: a dataset, 'random', or both joined by '+' "
                        "(e.g. mnist5k+random; default: mnist5k)")
    p.add_argument("--data", metavar="PATH", help="benchmark data folder (default: ../shared/benchmarks or NAS_BENCHMARKS)")
    p.add_argument("--proxy-cache", metavar="PATH", help="zero-cost value cache (default: ~/.cache/nas or NAS_CACHE)")
    add_format(p)
    return p


def run(args) -> int:
    import sys

    from nas.cli._output import emit_json, table
    from nas.errors import NasError
    from nas.predictors import evaluation as ev
    from nas.predictors.proxy_cache import default_cache_dir

    specs = [ev.parse_predictor(p) for p in (args.predictor or DEFAULT_PREDICTORS)]
    datasets = args.dataset or ["cifar10"]
    if "all" in datasets:
        datasets = ["cifar10", "cifar100", "imagenet16-120"]
    for d in datasets:
        if d not in ("cifar10", "cifar100", "imagenet16-120"):
            raise NasError(f"unknown dataset {d!r}; allowed: cifar10, cifar100, imagenet16-120, all")
    if args.benchmark != "nb201" and datasets != ["cifar10"]:
        raise NasError(f"--benchmark {args.benchmark} has CIFAR-10 only; drop --dataset")
    sizes = sorted(set(args.train_size or TRAIN_SIZES))
    if sizes[0] < 1:
        raise NasError(f"--train-size {sizes[0]} not allowed; give a positive integer")
    if args.seeds < 1:
        raise NasError(f"--seeds must be at least 1, got {args.seeds}")
    from nas.predictors.encodings import Encoder

    cache = args.proxy_cache or str(default_cache_dir())
    rows = []
    for d in datasets:
        pool = (ev.nb201_pool(d, args.zc_data, cache=cache,
                              benchmarks=args.data, log=lambda m: print(m, file=sys.stderr))
                if args.benchmark == "nb201" else ev.suite_pool(args.benchmark, args.data))
        if sizes[-1] >= len(pool.archs):
            raise NasError(f"--train-size {sizes[-1]} not allowed for {args.benchmark}: give 1..{len(pool.archs) - 1}")
        for name, enc in specs:
            if enc and name != "gnn":
                Encoder(pool.view, enc)  # a bad encoding fails before any fit
            for n in sizes:
                per_seed = [ev.evaluate(pool, name, enc, n, s) for s in range(args.seeds)]
                row = {"predictor": name, "encoding": per_seed[0]["encoding"], "benchmark": args.benchmark,
                       "dataset": d, "train_size": n, "seeds": args.seeds, **ev.summarise(per_seed)}
                rows.append(row)
                print(f"{name}:{row['encoding']} {d} n={n}: τ {row['kendall_tau']:.3f}", file=sys.stderr, flush=True)
    if args.format == "json":
        emit_json(rows)
        return 0
    print(pool.description)
    table([{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows])
    return 0
