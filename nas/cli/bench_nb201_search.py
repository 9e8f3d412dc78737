"""``nas bench nb201-search``: searchers on NAS-Bench-201 lookups, mean ± std over seeds.

Single objective: the search signal is the validation accuracy (cifar10-valid for CIFAR-10), the
reported figure the test accuracy of the best-by-validation architecture found after N queries.
With ``--device``: validation accuracy against that HELP device's latency, reported as the
hypervolume gap 1 − HV/HV* of the found front.
"""

from __future__ import annotations

from pathlib import Path

from nas.cli._output import add_format

SINGLE = ("random", "optuna-tpe", "evolution", "local", "proxy-local")
MULTI = ("random", "nsga2", "optuna-nsga2", "optuna-tpe", "hvi")


def add_parser(sub):
    p = sub.add_parser("nb201-search", help="searchers on NAS-Bench-201 lookups (accuracy or hypervolume gap)",
                       description=__doc__, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--strategy", action="append", metavar="NAME",
                   help=f"searcher, repeatable (default: {', '.join(SINGLE)}; with --device: {', '.join(MULTI)})")
    p.add_argument("--dataset", action="append", metavar="NAME",
                   help="cifar10, cifar100, imagenet16-120, or all; repeatable (default: cifar10)")
    p.add_argument("--queries", help="comma list of query counts (default: 25,50,100,200,500; with --device 100,300)")
    p.add_argument("--seeds", type=int, default=20, help="number of seeds, 0..N-1 (default: 20)")
    p.add_argument("--device", help="multi-objective run against this HELP device's latency (e.g. raspi4)")
    p.add_argument("--data", metavar="PATH", help="benchmark data folder (default: ../shared/benchmarks or NAS_BENCHMARKS)")
    p.add_argument("--proxy-cache", metavar="PATH",
                   help="folder caching zero-cost proxy values across runs (default: ~/.cache/nas or NAS_CACHE)")
    p.add_argument("--no-proxy-cache", action="store_true", help="compute proxies in memory only")
    p.add_argument("--jobs", type=int, default=1, help="processes running seeds in parallel (default: 1)")
    add_format(p)
    return p


def _queries(text: str | None, default: tuple[int, ...]) -> list[int]:
    from nas.errors import NasError

    if not text:
        return list(default)
    try:
        qs = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise NasError(f"--queries {text!r}: expected a comma list of positive integers, e.g. 50,100") from None
    if not qs or qs[0] < 1 or qs[-1] > 15625:
        raise NasError(f"--queries {text!r}: counts must lie in 1..15625")
    return qs


def _task(job):
    import nas.search.bench.benchmark as b
    from nas.searchspace.spaces.nb201_table import NB201Table

    kind, strategy, dataset, device, seed, queries, data, cache = job
    table = NB201Table.load(data, latency=device is not None)
    options = {}
    if strategy == "proxy-local":
        options["proxy"] = _proxy(cache)
    if kind == "hv":
        return b.hv_gap_trace(strategy, table, dataset, device, seed, queries, options)
    return b.best_test_trace(strategy, table, dataset, seed, queries, options)


_PROXIES: dict = {}


def _proxy(cache):
    if cache not in _PROXIES:
        from nas.predictors.proxy_cache import make_proxy
        from nas.searchspace import get_space

        _PROXIES[cache] = make_proxy("synflow", get_space("nb201"), cache=cache)
    return _PROXIES[cache]


def run(args) -> int:
    import sys
    import time

    from nas.cli._output import emit_json, table
    from nas.errors import NasError
    from nas.predictors.proxy_cache import default_cache_dir
    from nas.search.bench.benchmark import summarize
    from nas.search.searchers.registry import SEARCHERS
    from nas.searchspace.spaces.nb201_table import DATASETS, NB201Table
    from nas.settings import benchmarks_dir

    mo = args.device is not None
    queries = _queries(args.queries, (100, 300) if mo else (25, 50, 100, 200, 500))
    strategies = args.strategy or list(MULTI if mo else SINGLE)
    for s in strategies:
        SEARCHERS.get(s)
    datasets = args.dataset or ["cifar10"]
    if "all" in datasets:
        datasets = list(DATASETS)
    for d in datasets:
        if d not in DATASETS:
            raise NasError(f"unknown dataset {d!r}; allowed: {', '.join(DATASETS)}, all")
    if not 1 <= args.seeds <= 10_000:
        raise NasError(f"--seeds must lie in 1..10000, got {args.seeds}")
    if not 1 <= args.jobs <= 256:
        raise NasError(f"--jobs must lie in 1..256, got {args.jobs}")
    if args.device is not None and not args.device.strip():
        raise NasError("--device is empty; give a HELP device such as raspi4")
    if args.proxy_cache is not None and (not args.proxy_cache.strip() or Path(args.proxy_cache).is_file()):
        raise NasError(f"--proxy-cache {args.proxy_cache!r} must name a folder")
    data = str(benchmarks_dir(args.data))
    tbl = NB201Table.load(data, latency=mo)
    if mo:
        tbl.latency(args.device)
    cache = None if args.no_proxy_cache else str(Path(args.proxy_cache) if args.proxy_cache else default_cache_dir())
    jobs = [("hv" if mo else "acc", s, d, args.device, seed, queries, data, cache)
            for d in datasets for s in strategies for seed in range(args.seeds)]
    start = time.perf_counter()
    traces = []
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), file=sys.stderr, desc="nb201-search", unit="run")
    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs) as pool:
            for tr in pool.map(_task, jobs):
                traces.append(tr)
                bar.update(1)
    else:
        for job in jobs:
            traces.append(_task(job))
            bar.update(1)
    bar.close()
    optimum = None if mo else {d: float(tbl.valid(d).max()) for d in datasets}
    rows = summarize(traces, queries, optimum)
    elapsed = time.perf_counter() - start
    for r in rows:
        r["metric"] = f"hv_gap_{args.device}" if mo else "test_accuracy"
    if args.format == "json":
        emit_json(rows)
        return 0
    what = (f"hypervolume gap 1 - HV/HV* (validation accuracy vs {args.device} latency)" if mo else
            "test accuracy of the best-by-validation architecture")
    print(f"NAS-Bench-201, {what}; mean ± std over {args.seeds} seeds; {elapsed:.0f} s")
    for d in datasets:
        print(f"\n{d}:")
        out = []
        for s in strategies:
            row = {"strategy": s}
            for r in rows:
                if r["strategy"] == s and r["dataset"] == d:
                    fmt = "{:.4f} ± {:.4f}" if mo else "{:.2f} ± {:.2f}"
                    row[str(r["queries"])] = fmt.format(r["mean"], r["std"])
                    if "optimum_found" in r and r["queries"] == 100:
                        row["optimum@100"] = f"{r['optimum_found']}/{r['seeds']}"
            out.append(row)
        table(out)
    return 0
