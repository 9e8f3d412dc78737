"""``nas bench train``: seeded networks of each space trained on MNIST-5k with one fixed schedule."""

from __future__ import annotations

import sys

from nas.cli._output import add_format, emit_json, table


def add_parser(bsub):
    p = bsub.add_parser(
        "train", help="train seeded samples of each space on mnist5k; test accuracy min/mean/max",
        description="For each space (hybrid at 1x32x32, mobilenet and resnet at 1x28x28, nb201 at 3x32x32): "
                    "SAMPLES seeded networks under MAX-FLOPS, trained with one fixed schedule; test accuracy "
                    "min / mean / max and the network picked by validation accuracy.")
    p.add_argument("--spaces", default="hybrid,mobilenet,resnet,nb201", help="comma list (default: all four)")
    p.add_argument("--samples", type=int, default=10, help="networks per space (default 10)")
    p.add_argument("--max-flops", default="50M", help="FLOPs (MACs) limit per network (default 50M)")
    p.add_argument("--epochs", type=int, default=30, help="epochs of the fixed schedule (default 30)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--data", default="mnist5k", help="dataset (default mnist5k)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and the training (default 0)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--jobs", type=int, default=None,
                   help="networks trained at once, each in its own one-thread process (default: one per core)")
    p.add_argument("--out", default=None,
                   help="folder where each finished network is written at once (bench-train.json); a rerun "
                        "with the same settings skips the networks already there")
    p.add_argument("--augment", default="affine",
                   help="training augmentation: affine (random shifts plus a small random rotation / scale / "
                        "shear, default), shift (random shifts only), none")
    add_format(p)
    return p


def run(args) -> int:
    from nas.errors import NasError
    from nas.hw_models.budget import Budget
    from nas.search.bench.train_bench import bench_train

    if args.samples < 1:
        raise NasError(f"--samples must be at least 1, got {args.samples}")
    if args.jobs is None:
        import os

        args.jobs = max(1, min(os.cpu_count() or 1, 256))
    if not 1 <= args.jobs <= 256:
        raise NasError(f"--jobs must be in 1..256, got {args.jobs}")
    limit = Budget.parse(f"{args.max_flops}-flops").limit
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    doc = bench_train(spaces, data=args.data, samples=args.samples, max_flops=limit, epochs=args.epochs,
                      seed=args.seed, batch_size=args.batch_size, device=args.device, augment=args.augment,
                      jobs=args.jobs, out=args.out,
                      log=lambda m: print(m, file=sys.stderr, flush=True))
    if args.format == "json":
        emit_json(doc)
        return 0
    print(f"{doc['data']}, {args.samples} networks per space under {limit / 1e6:g}M FLOPs, "
          f"{args.epochs} epochs, {args.augment} augmentation, seed {args.seed} ({doc['seconds']:.0f} s)")
    table([{"space": r["space"], "input": r["input"], "test_min": r["test_accuracy"]["min"],
            "test_mean": r["test_accuracy"]["mean"], "test_max": r["test_accuracy"]["max"],
            "picked_test": r["best_by_valid"]["test_accuracy"],
            "goal_met": doc["goal"]["met"][r["space"]]} for r in doc["spaces"]])
    return 0
