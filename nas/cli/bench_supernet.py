"""``nas bench supernet``: parity, sandwich step cost, ranking (Kendall τ), weight inheritance, DDP equality."""

from __future__ import annotations

from nas.cli._output import add_format, emit_json, table


def add_parser(bsub):
    p = bsub.add_parser(
        "supernet", help="supernet figures on mnist5k: parity, step cost, ranking tau, inheritance, DDP",
        description="Trains a supernet on a seeded subset of mnist5k, trains SUBNETS subnets alone, and compares. "
                    "Defaults take about 30 minutes on one busy CPU core; shrink them for a quick look.")
    p.add_argument("--space", default="mobilenet", help="supernet space (default: mobilenet)")
    p.add_argument("--input", default="1x16x16", help="image size CxHxW (default: 1x16x16)")
    from nas.cli.cmd_supernet import add_body, add_space_settings

    add_space_settings(p)
    add_body(p)
    p.add_argument("--parity-archs", type=int, default=100, help="architectures of the parity check (default 100)")
    p.add_argument("--train-images", type=int, default=1500, help="training images (default 1500)")
    p.add_argument("--batch", type=int, default=50, help="batch (default 50)")
    p.add_argument("--supernet-epochs", type=int, default=5, help="supernet epochs (default 5)")
    p.add_argument("--standalone-epochs", type=int, default=2, help="epochs of each stand-alone subnet (default 2)")
    p.add_argument("--standalone-seeds", type=int, default=1,
                   help="times each subnet is trained alone, seeds 0.. (reference: the mean; default 1)")
    p.add_argument("--subnets", type=int, default=24, help="subnets ranked (default 24)")
    p.add_argument("--bn-images", type=int, default=500, help="training images for BN recalibration (default 500)")
    p.add_argument("--optimizer", default="adamw",
                   help="adamw (default) or sgd (Nesterov); used by the supernet, the stand-alone subnets and the "
                        "from-scratch runs alike. On hybrid, AdamW gave the cleaner stand-alone reference and "
                        "the higher tau (docs/supernet.md)")
    p.add_argument("--supernet-option", action="append", metavar="KEY=VALUE",
                   help="supernet training setting, repeatable (SupernetTrainConfig field, e.g. num_random=4, "
                        "distill=false, sampler=flops)")
    p.add_argument("--rank-split", default="valid", help="split the ranking compares on: valid or test (default valid)")
    p.add_argument("--ddp-steps", type=int, default=10, help="steps of the DDP check (0: skip; default 10)")
    p.add_argument("--out", default="runs/bench-supernet", help="where the supernet and measure.json go")
    add_format(p)
    return p


def run(args) -> int:
    from nas.cli._options import parse_options
    from nas.cli.cmd_supernet import space_settings
    from nas.errors import NasError
    from nas.io import check_out_dir
    from nas.lock import FolderLock
    from nas.search.bench.supernet_bench import measure, parity, supernet_config
    from nas.supernet.ddp_check import ddp_check
    from nas.supernet.metaformer import check_body
    from nas.supernet.network import build_supernet

    for name in ("parity_archs", "train_images", "batch", "supernet_epochs", "standalone_epochs", "subnets",
                 "bn_images", "standalone_seeds"):
        if getattr(args, name) < 1:
            raise NasError(f"--{name.replace('_', '-')} {getattr(args, name)} not allowed; give an integer >= 1")
    if args.subnets < 3:
        raise NasError("--subnets must be at least 3 for a Kendall tau")
    if args.optimizer not in ("sgd", "adamw"):
        raise NasError(f"--optimizer {args.optimizer!r} not allowed; allowed: sgd, adamw")
    if args.rank_split not in ("valid", "test"):
        raise NasError(f"--rank-split {args.rank_split!r} not allowed; allowed: valid, test")
    check_body(args.body)
    options = parse_options(args.supernet_option, "--supernet-option")
    supernet_config(args.supernet_epochs, args.batch, args.bn_images, args.optimizer, options)  # fails fast
    settings = space_settings(args)
    folder = check_out_dir(args.out)
    net = build_supernet(args.space, args.input, 10, seed=0, settings=settings, body=args.body)
    with FolderLock(folder):
        out = {"parity_max_abs_diff": parity(net, args.parity_archs), "parity_archs": args.parity_archs}
        res = measure(args.space, args.input, args.train_images, args.batch, args.supernet_epochs,
                      args.standalone_epochs, args.subnets, args.bn_images, args.optimizer, folder, settings=settings,
                      rank_split=args.rank_split, standalone_seeds=args.standalone_seeds,
                      supernet_options=options, body=args.body)
    out.update({k: v for k, v in res.items() if k != "rows"})
    out["ddp_max_abs_diff"] = ddp_check(args.ddp_steps)["ddp_max_abs_diff"] if args.ddp_steps else None
    if args.format == "json":
        emit_json(out)
    else:
        keys = ("parity_max_abs_diff", "sandwich_step_time_ratio", "kendall_tau", "kendall_tau_no_bn_recal",
                "kendall_tau_params", "kendall_tau_flops", "kendall_tau_synflow", "ddp_max_abs_diff")
        table([{"figure": k, "value": out.get(k)} for k in keys])
    return 0
