"""``nas supernet train``: train a weight-sharing supernet (sandwich rule, in-place distillation)."""

from __future__ import annotations

import sys

from nas.cli._output import add_format, emit_json, table


def add_parser(sub):
    p = sub.add_parser("supernet", help="train a weight-sharing supernet",
                       description="Weight-sharing supernets: `nas supernet train --space S --data D --epochs E`.")
    ssub = p.add_subparsers(dest="supernet_command", metavar="COMMAND")
    t = ssub.add_parser("train", help="train a supernet with the sandwich rule and in-place distillation")
    t.add_argument("--space", required=True, help="search space (mobilenet, nb201, hybrid, ...)")
    t.add_argument("--data", default="mnist5k", help="dataset: NAME or NAME:PATH (default: mnist5k)")
    t.add_argument("--input", help="resize the data to CxHxW, e.g. 3x32x32 (default: the dataset's size)")
    add_space_settings(t)
    add_body(t)
    t.add_argument("--epochs", type=int, default=10, help="epochs (default: 10)")
    t.add_argument("--batch-size", type=int, default=128, help="global batch (default: 128)")
    t.add_argument("--optimizer", default="sgd", help="sgd (Nesterov, default) or adamw")
    t.add_argument("--lr", type=float, help="peak learning rate (default: SGD 0.05 x batch/128, AdamW 2e-3)")
    t.add_argument("--sampler", default="uniform",
                   help="subnet sampling: uniform (default), flops (FLOPs-stratified) or fair (each op choice once "
                        "per step, with --num-random the number of choices)")
    t.add_argument("--num-random", type=int, default=2, help="random subnets per step besides the extremes (default: 2)")
    t.add_argument("--no-distill", action="store_true",
                   help="train the subnets on labels, not on the largest's output (on short CPU schedules it trained "
                        "and ranked better on hybrid and mobilenet: docs/supernet.md)")
    t.add_argument("--extreme-ops", default="fixed",
                   help="subnets framing each step: fixed (largest and smallest by FLOPs, default), random (the "
                        "extreme sizes with ops drawn) or none (only the --num-random draws: single-path, SPOS; "
                        "needs --no-distill)")
    t.add_argument("--largest-first", type=int, default=0, metavar="EPOCHS",
                   help="train the largest subnet alone for the first EPOCHS epochs, then the sandwich (progressive "
                        "shrinking's first phase; default 0)")
    t.add_argument("--bn-images", type=int, default=1000, help="training images for BN recalibration (default: 1000)")
    t.add_argument("--seed", type=int, default=0, help="seed of weights, data order and subnet draws (default: 0)")
    t.add_argument("--max-steps", type=int, help="stop after this many steps (checks and benchmarks)")
    t.add_argument("--out", help="run folder (default: runs/supernet-SPACE-DATA-seedSEED)")
    t.add_argument("--resume", action="store_true", help="continue from --out/supernet.pt")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_format(t)
    p.set_defaults(_parser=p)
    return p


def add_space_settings(p) -> None:
    """Options that shrink the hybrid and resnet spaces (a supernet a CPU can train); other spaces refuse them."""
    p.add_argument("--width-mult", type=float,
                   help="hybrid, resnet: scale every width choice by this, in (0, 1] (default 1)")
    p.add_argument("--max-depth", type=int, help="hybrid, resnet: drop depth choices above this (default: keep all)")
    p.add_argument("--mixers", help="hybrid: comma-separated mixer choices to keep (default: all)")


def add_body(p, default: str | None = "shared", default_text: str = "shared") -> None:
    p.add_argument("--body", default=default,
                   help="hybrid: the blocks' norms and MLP shared by every mixer choice (shared) or one set per mixer "
                        f"(per-mixer: ranked subnets better on hybrid, more parameters). Default: {default_text}")


def space_settings(args) -> dict:
    """The space settings given by ``add_space_settings``'s options (only those set)."""
    out: dict = {}
    if args.width_mult is not None:
        out["width_mult"] = args.width_mult
    if args.max_depth is not None:
        out["max_depth"] = args.max_depth
    if args.mixers is not None:
        out["mixers"] = [m.strip() for m in args.mixers.split(",") if m.strip()]
    return out


def _init_distributed():
    """Join a torchrun launch (WORLD_SIZE > 1): gloo on the CPU, NCCL on CUDA."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    import torch.distributed as dist

    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist


def run(args) -> int:
    if args.supernet_command != "train":
        args._parser.print_help()
        return 2
    import contextlib

    from nas.errors import NasError
    from nas.io import check_out_dir
    from nas.lock import FolderLock
    from nas.supernet.metaformer import check_body
    from nas.supernet.network import build_supernet
    from nas.supernet.train import SupernetTrainConfig, train_supernet
    from nas.training.datasets import load_dataset

    check_body(args.body)  # before any data is loaded
    config = SupernetTrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                                 sampler=args.sampler,
                                 num_random=args.num_random, distill=not args.no_distill,
                                 extreme_ops=args.extreme_ops, largest_first_epochs=args.largest_first,
                                 bn_images=args.bn_images,
                                 seed=args.seed, max_steps=args.max_steps)
    out = check_out_dir(args.out or f"runs/supernet-{args.space}-{args.data.split(':')[0]}-seed{args.seed}")
    if args.resume and not (out / "supernet.pt").is_file():
        raise NasError(f"nothing to resume: no supernet.pt in {str(out)!r}")
    if not args.resume and (out / "supernet.pt").exists():
        raise NasError(f"{str(out)!r} already holds a supernet checkpoint; pass --resume or another --out")
    data = load_dataset(args.data, resize=args.input)
    net = build_supernet(args.space, data.input_type, data.num_classes, seed=args.seed, settings=space_settings(args),
                         body=args.body)
    dist = _init_distributed()
    try:
        # rank 0 alone writes the folder (train_supernet), so rank 0 alone holds its lock
        with FolderLock(out) if dist is None or dist.get_rank() == 0 else contextlib.nullcontext():
            if not args.no_progress:
                print(f"nas supernet train: {data.describe()}; space {args.space}; out {out}", file=sys.stderr)
            result = train_supernet(net, data, config, out_dir=out, resume=args.resume,
                                    progress=not args.no_progress)
    finally:
        if dist is not None:
            dist.destroy_process_group()
    if args.format == "json":
        emit_json(result)
    else:
        table([{k: v for k, v in row.items()} for row in result["history"]])
        print(f"checkpoint: {result['checkpoint']}")
    return 0
