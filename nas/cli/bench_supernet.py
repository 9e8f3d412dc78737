"""``nas bench supernet``: parity, sandwich step cost, ranking (Kendall τ), weight inheritance, DDP equality."""

from __future__ import annotations

from pathlib import Path

from nas.cli._output import add_format, emit_json, table

#: The configuration measured in docs/supernet.md: what a bare ``nas bench supernet`` runs.
HYBRID_SETTINGS = {"width_mult": 0.25, "max_depth": 2,
                   "mixers": ["dwconv3", "dwconv7", "s4d", "mhsa", "identity", "pool_mixer"]}
#: The bench's supernet training options on every space: without in-place distillation the per-mixer
#: hybrid supernet ranked the stand-alone subnets with τ 0.70 (4 seeds) against 0.65 with it (stop 22),
#: and the mobilenet supernet (10 epochs at 1x16x16) reached 93.9 % test with its largest subnet against
#: 65.0 % with it, where the same network trained alone for 10 epochs reaches 90.1 % (stop 25).
SUPERNET_OPTIONS = {"distill": False}


def add_parser(bsub):
    p = bsub.add_parser(
        "supernet", help="supernet figures on mnist5k: parity, step cost, ranking tau, inheritance, DDP",
        description="Trains a supernet on a seeded subset of mnist5k, trains SUBNETS subnets alone, and compares. "
                    "The defaults are the configuration of docs/supernet.md (hybrid at 1x32x32, width x0.25, "
                    "depth <= 2, six mixers, per-mixer body, no distillation) and take about half an hour on two "
                    "CPU cores (54 CPU-minutes); shrink them for a quick look.")
    p.add_argument("--space", default="hybrid", help="supernet space (default: hybrid)")
    p.add_argument("--input", default="1x32x32", help="image size CxHxW (default: 1x32x32)")
    from nas.cli.cmd_supernet import add_body, add_space_settings

    add_space_settings(p)
    add_body(p, default=None, default_text="per-mixer on hybrid, shared elsewhere")
    p.add_argument("--parity-archs", type=int, default=100, help="architectures of the parity check (default 100)")
    p.add_argument("--train-images", type=int, default=3600, help="training images (default 3600)")
    p.add_argument("--batch", type=int, default=64, help="batch (default 64)")
    p.add_argument("--supernet-epochs", type=int, default=20, help="supernet epochs (default 20)")
    p.add_argument("--standalone-epochs", type=int, default=6, help="epochs of each stand-alone subnet (default 6)")
    p.add_argument("--standalone-seeds", type=int, default=2,
                   help="times each subnet is trained alone, seeds 0.. (reference: the mean; default 2)")
    p.add_argument("--standalone-from", metavar="RUN",
                   help="take stand-alone results from another bench's run folder (or its standalone.json) measured "
                        "with the same schedule, space and data, instead of training those subnets again")
    p.add_argument("--subnets", type=int, default=24, help="subnets ranked (default 24)")
    p.add_argument("--bn-images", type=int, default=2000, help="training images for BN recalibration (default 2000)")
    p.add_argument("--finetune-steps", type=int, default=28,
                   help="also rank the inherited subnets after this many fine-tuning steps, and the same steps "
                        "from scratch (0: skip; default 28, half an epoch of the default data)")
    p.add_argument("--optimizer", default="adamw",
                   help="adamw (default) or sgd (Nesterov); used by the supernet, the stand-alone subnets and the "
                        "from-scratch runs alike. On hybrid, AdamW gave the cleaner stand-alone reference and "
                        "the higher tau (docs/supernet.md)")
    p.add_argument("--supernet-option", action="append", metavar="KEY=VALUE",
                   help="supernet training setting, repeatable (SupernetTrainConfig field, e.g. num_random=4, "
                        "distill=true, sampler=flops; distill=false unless given)")
    p.add_argument("--rank-split", default="test",
                   help="split the ranking compares on: valid or test (default test: 1,000 images on mnist5k)")
    p.add_argument("--ddp-steps", type=int, default=10, help="steps of the DDP check (0: skip; default 10)")
    p.add_argument("--out", default="runs/bench-supernet", help="where the supernet and measure.json go")
    add_format(p)
    return p


def bench_space_settings(args) -> tuple[dict, str]:
    """The space settings and body of the run: on hybrid, each of --width-mult, --max-depth, --mixers and
    --body left unset takes the measured configuration's value (``HYBRID_SETTINGS``, per-mixer)."""
    from nas.cli.cmd_supernet import space_settings

    settings = space_settings(args)
    if args.space != "hybrid":
        return settings, args.body or "shared"
    return {**HYBRID_SETTINGS, **settings}, args.body or "per-mixer"


def bench_supernet_options(args) -> dict:
    """The run's ``--supernet-option`` values over the measured configuration's (``SUPERNET_OPTIONS``),
    so ``distill=true`` brings in-place distillation back."""
    from nas.cli._options import parse_options

    given = parse_options(args.supernet_option, "--supernet-option")
    return {**SUPERNET_OPTIONS, **given}


FIGURES = ("parity_max_abs_diff", "sandwich_step_time_ratio", "kendall_tau", "kendall_tau_ci95",
           "kendall_tau_no_bn_recal", "kendall_tau_params", "kendall_tau_flops", "kendall_tau_synflow",
           "kendall_tau_finetuned", "kendall_tau_scratch_steps", "kendall_tau_seed_to_seed", "kendall_tau_split_half",
           "ddp_max_abs_diff")


def figure_rows(out: dict) -> list[dict]:
    """The table ``nas bench supernet`` prints: the issue's figures, τ's interval rounded, and weight
    inheritance (inherited against from-scratch accuracy, the goal's two sides) per subnet and split."""
    rows = [{"figure": k, "value": out.get(k)} for k in FIGURES]
    interval = out.get("kendall_tau_ci95")
    if interval is not None:
        rows[FIGURES.index("kendall_tau_ci95")]["value"] = f"[{interval[0]:.3f}, {interval[1]:.3f}]"
    for name, w in (out.get("weight_inheritance") or {}).items():
        for split in ("valid", "test"):
            rows.append({"figure": f"{name}: inherited / scratch {split}",
                         "value": f"{w[f'inherited_{split}']:.4f} / {w[f'scratch_{split}']:.4f}"})
    return rows


def run(args) -> int:
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
    if args.finetune_steps < 0:
        raise NasError(f"--finetune-steps {args.finetune_steps} not allowed; give an integer >= 0")
    if args.finetune_steps:  # before any work; measure() checks again against the data it loads
        from nas.supernet.finetune import FinetuneSettings

        FinetuneSettings(args.finetune_steps, batch_size=args.batch).check_images(
            args.train_images, f"with --train-images {args.train_images}")
    if args.standalone_from is not None and not Path(args.standalone_from).exists():
        raise NasError(f"--standalone-from {args.standalone_from!r} does not exist; give a bench run folder or its "
                       "standalone.json")
    if args.subnets < 3:
        raise NasError("--subnets must be at least 3 for a Kendall tau")
    if args.optimizer not in ("sgd", "adamw"):
        raise NasError(f"--optimizer {args.optimizer!r} not allowed; allowed: sgd, adamw")
    if args.rank_split not in ("valid", "test"):
        raise NasError(f"--rank-split {args.rank_split!r} not allowed; allowed: valid, test")
    settings, body = bench_space_settings(args)
    check_body(body)
    options = bench_supernet_options(args)
    supernet_config(args.supernet_epochs, args.batch, args.bn_images, args.optimizer, options)  # fails fast
    folder = check_out_dir(args.out)
    net = build_supernet(args.space, args.input, 10, seed=0, settings=settings, body=body)
    with FolderLock(folder):
        out = {"parity_max_abs_diff": parity(net, args.parity_archs), "parity_archs": args.parity_archs}
        res = measure(args.space, args.input, args.train_images, args.batch, args.supernet_epochs,
                      args.standalone_epochs, args.subnets, args.bn_images, args.optimizer, folder, settings=settings,
                      rank_split=args.rank_split, standalone_seeds=args.standalone_seeds,
                      supernet_options=options, body=body, finetune_steps=args.finetune_steps,
                      standalone_from=args.standalone_from)
    out.update({k: v for k, v in res.items() if k != "rows"})
    out["ddp_max_abs_diff"] = ddp_check(args.ddp_steps)["ddp_max_abs_diff"] if args.ddp_steps else None
    if args.format == "json":
        emit_json(out)
    else:
        table(figure_rows(out))
    return 0
