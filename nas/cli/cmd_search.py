"""``nas search``: find the best-scoring networks under a budget on a target; print their Pareto front."""

from __future__ import annotations

from nas.cli._options import parse_options
from nas.cli._output import add_format


def add_parser(sub):
    p = sub.add_parser(
        "search", help="search a space under a budget; Pareto front of score, latency, FLOPs",
        description="Search a space with a training-free score under hard budgets. Trials are stored as "
                    "they finish (SQLite in the run folder by default); --resume continues a killed run.")
    p.add_argument("--budget", action="append", metavar="BUDGET",
                   help="hard budget, repeatable: 600M-flops, 4.1G-macs, 25M-params, 5ms-latency")
    p.add_argument("--max-params", metavar="N", help="params budget, e.g. 25.55M (same as --budget 25.55M-params)")
    p.add_argument("--rho", type=float, help="DeepMAD's effectiveness bound rho0 (--strategy deepmad; e.g. 0.3)")
    p.add_argument("--target", help="hardware target for latency (e.g. gpu, cpu)")
    p.add_argument("--space", help="search space (default: hybrid; see `nas spaces`)")
    p.add_argument("--input", help="input size CxHxW (default: the space's)")
    p.add_argument("--classes", type=int, help="number of classes (default: the space's)")
    from nas.cli.cmd_supernet import add_space_settings

    add_space_settings(p)
    p.add_argument("--strategy", help="searcher (default: nsga2): random, evolution, local, nsga2, optuna-tpe, "
                                      "optuna-nsga2, optuna-nsga3, deepmad, darts, gdas, beta-darts (these three need --data), ...")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="searcher option, repeatable (value read as JSON when it parses), e.g. population=32")
    p.add_argument("--score", help="training-free score to maximise (default: auto, the score measured to rank trained "
                   "accuracy best on the space; see `nas score --help` for the proxies)")
    p.add_argument("--objectives", help="comma list, NAME[:max|min]; default score,latency_ms,flops with a "
                                        "target, else score,flops")
    p.add_argument("--trials", type=int, help="number of trials (default: 300)")
    p.add_argument("--seed", type=int, help="random seed (default: 0)")
    p.add_argument("--batch-size", type=int,
                   help="architectures asked per batch (default: 8); the trials depend on seed and batch size, "
                        "not on --workers")
    p.add_argument("--workers", type=int, help="evaluate on local Ray Tune with N workers (default: 1, no Ray)")
    p.add_argument("--ray-address", help="evaluate on a Ray cluster at this address (e.g. ray://host:10001)")
    p.add_argument("--out", help="run folder (default: runs/search-SPACE-STRATEGY-seedSEED)")
    p.add_argument("--resume", action="store_true", help="continue the run stored in --out/--storage")
    p.add_argument("--storage", help="SQLAlchemy URL of the trial store (default: sqlite in the run folder)")
    p.add_argument("--study", help="study name in the storage (default: a new run names it after the run folder; "
                                   "--resume finds the folder's own study, so a renamed or copied folder resumes)")
    p.add_argument("--config", help="TOML/YAML/JSON file setting SearchConfig fields (flags override it)")
    p.add_argument("--evaluator", help="how trials are evaluated (default: score, training-free): score, train, ...")
    p.add_argument("--data", help="dataset of --evaluator train: mnist5k, digits, mnist1d, imagefolder:PATH, "
                                  "cifar10:PATH, cifar100:PATH; it sets the space's input and classes")
    p.add_argument("--resize", metavar="CxHxW", help="resize the --data images, e.g. 1x32x32 or 3x32x32")
    p.add_argument("--epochs", type=int, help="training epochs per trial with --evaluator train (default: 3)")
    p.add_argument("--pruner", help="early stopping of trained trials: none (default), sha (successive halving), "
                                    "hyperband; Ray Tune's ASHA with --workers > 1")
    p.add_argument("--supernet", metavar="CHECKPOINT",
                   help="trained supernet of --evaluator supernet (inherited accuracy after BN recalibration)")
    p.add_argument("--supernet-finetune-steps", type=int, metavar="N",
                   help="--evaluator supernet: train each inherited subnet N steps (AdamW, batch 64) before it is "
                        "scored; ranks closer to stand-alone training (docs/supernet.md). Default 0")
    p.add_argument("--train-option", action="append", metavar="KEY=VALUE",
                   help="training setting, repeatable (TrainConfig field, e.g. batch_size=64, optimizer=adamw)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_format(p)
    return p


def _config(args):
    from nas.search.app.config import SearchConfig

    base = SearchConfig.from_file(args.config) if args.config else SearchConfig()
    flags = {"space": args.space, "input": args.input, "num_classes": args.classes, "strategy": args.strategy,
             "trials": args.trials, "seed": args.seed, "target": args.target, "score": args.score,
             "batch_size": args.batch_size, "workers": args.workers, "ray_address": args.ray_address,
             "storage": args.storage, "study": args.study, "evaluator": args.evaluator, "data": args.data,
             "resize": args.resize, "epochs": args.epochs, "pruner": args.pruner, "supernet": args.supernet,
             "supernet_finetune_steps": args.supernet_finetune_steps}
    over = {k: v for k, v in flags.items() if v is not None}
    budgets = tuple(args.budget or ()) + ((f"{args.max_params}-params",) if args.max_params else ())
    if budgets:
        over["budgets"] = budgets
    if args.objectives:
        from nas.search.app.run import parse_objectives

        names, dirs = parse_objectives(args.objectives)
        over["objectives"], over["directions"] = names, dirs
    if args.rho is not None and not 0 < args.rho < float("inf"):
        from nas.errors import NasError

        raise NasError(f"--rho must be a positive finite number, got {args.rho}")
    if args.option or args.rho is not None:
        over["strategy_options"] = {**base.strategy_options, **parse_options(args.option, "--option")}
        if args.rho is not None:
            over["strategy_options"]["rho"] = args.rho
    if args.train_option:
        over["train_options"] = {**base.train_options, **parse_options(args.train_option, "--train-option")}
    from nas.cli.cmd_supernet import space_settings

    if space_settings(args):
        over["space_options"] = {**base.space_options, **space_settings(args)}
    return SearchConfig.from_mapping(over, base)


def run(args) -> int:
    import sys

    from tqdm import tqdm

    from nas.cli._output import emit_json, table
    from nas.search.app.run import search

    config = _config(args)
    best = {"score": None}
    bars = []  # the progress bar starts with the first trial, so an input error stays one line on stderr

    def on_trial(trial, replayed: bool) -> None:
        if not bars:
            bars.append(tqdm(total=config.trials, file=sys.stderr, desc="search", unit="trial",
                             disable=args.no_progress, dynamic_ncols=True))
        bar = bars[0]
        if trial.complete and "score" in trial.scores:
            s = trial.scores["score"]
            best["score"] = s if best["score"] is None else max(best["score"], s)
        bar.update(1)
        if best["score"] is not None:
            bar.set_postfix(best=f"{best['score']:.4g}", refresh=False)

    try:
        res = search(config, args.out, resume=args.resume, on_trial=on_trial,
                     log=lambda m: tqdm.write(m, file=sys.stderr))
    finally:
        for bar in bars:
            bar.close()
    if args.format == "json":
        emit_json(res.to_json())
        return 0
    cols = ["score", "flops_M", "params_M"] + (["latency_ms"] if res.target_model else []) + ["arch"]
    rows = [{"score": r.score, "flops_M": r.flops / 1e6, "params_M": r.params / 1e6,
             "latency_ms": r.latency_ms, "arch": r.arch_path} for r in res.front.records]
    c = res.config
    print(f"{c.space} / {c.strategy} / seed {c.seed}: {res.complete} complete, "
          f"{res.infeasible} infeasible, {res.failed} failed of {res.trials} trials; "
          + (f"score = {c.score}" if c.evaluator == "score" else f"score = {res.score_description}"))
    if res.target_model:
        print(f"latency: {res.target_model}")
    for b in res.budgets:
        print(f"budget {b}: {b.describe()}")
    print(f"Pareto front ({', '.join(f'{o} {d[:3]}' for o, d in zip(res.front.objectives, res.front.directions))}):")
    table(rows, cols, keep=("arch",))
    print(f"run folder: {res.run_dir} (config.json, trials.csv, front.json, front.png, study.db)")
    if res.failed:
        print(f"failed trials, first errors: {list(res.failed_errors)}", file=sys.stderr)
    return 0
