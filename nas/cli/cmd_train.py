"""``nas train ARCH --data D``: train one network on a bundled or local dataset; checkpoints, resume."""

from __future__ import annotations

from nas.cli._output import add_format


def add_parser(sub):
    p = sub.add_parser(
        "train", help="train one network on a dataset (checkpoint every epoch, --resume)",
        description="ARCH: anything `nas cost` accepts (reference name, NB201 string, architecture JSON). "
                    "The dataset sets the network's input and class count. Writes checkpoint.pt (every "
                    "epoch, atomically), metrics.csv and result.json into --out.")
    p.add_argument("arch", metavar="ARCH")
    p.add_argument("--data", default="mnist5k",
                   help="mnist5k (default), digits, mnist1d, imagefolder:PATH, cifar10:PATH, cifar100:PATH")
    p.add_argument("--resize", metavar="CxHxW", help="resize the images, e.g. 3x32x32 (NB201) or 1x32x32")
    p.add_argument("--space", help="space of ARCH when it is a string (default: nb201 for NB201 strings)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default: 10)")
    p.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    p.add_argument("--optimizer", default="sgd", help="sgd (Nesterov, default) or adamw")
    p.add_argument("--lr", type=float, help="peak learning rate (default: sgd 0.05 per 128 images, adamw 2e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, batches and augmentation (default: 0)")
    p.add_argument("--augment", default="shift",
                   help="shift (random shifts, default), affine (shifts plus small rotation/scale/shear), none")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N (bf16 autocast, channels-last)")
    p.add_argument("--out", help="run folder (default: runs/train-NAME-DATA-seedSEED)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_format(p)
    return p


def resolve_for_data(text: str, space: str | None, input_type, num_classes: int):
    """(NetSpec, Architecture or None, short name) of ARCH built for the data's input and classes."""
    from pathlib import Path

    from nas.resolve_arg import resolve_arch_argument

    spec, arch = resolve_arch_argument(text, space, input_type, num_classes)
    if arch is not None:
        return spec, arch, f"{arch.space}-{arch.digest()}"
    return spec, None, Path(text).stem if text.endswith(".json") or Path(text).is_file() else text


def check_training_memory(spec, batch_size: int, device: str) -> None:
    """Refuse, before allocating, a network whose fp32 training state (weights, gradients, two optimizer
    buffers) plus the activations of one batch, kept for the backward pass, exceed the free memory."""
    from nas.hw_models.analytic import analytic_costs
    from nas.memory import require

    c = analytic_costs(spec)
    need = 4 * (4 * c.params + batch_size * (spec.input.numel + 2 * c.activations))
    require(need, f"training {spec.name or 'the network'} at {spec.input} with batch {batch_size}",
            "use a smaller --resize or --batch-size", "cpu" if device == "cpu" else device)


def run(args) -> int:
    from pathlib import Path

    from nas.cli._output import emit_json, table
    from nas.io import check_out_dir
    from nas.lock import FolderLock
    from nas.training.datasets import dataset_signature, load_dataset, parse_dataset
    from nas.training.run import train_run
    from nas.training.trainer import METRICS_NAME, RESULT_NAME, TrainConfig, resolve_device

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         seed=args.seed, device=args.device, augment=args.augment)
    resolve_device(config.device)
    if args.out is not None:
        check_out_dir(args.out)
    # ARCH is read and checked before a bundled dataset is loaded (seconds), so a bad ARCH fails at once
    data = None if parse_dataset(args.data)[1] is None else load_dataset(args.data, resize=args.resize)
    input_type, classes = (dataset_signature(args.data, args.resize) if data is None
                           else (data.input_type, data.num_classes))
    spec, arch, name = resolve_for_data(args.arch, args.space, input_type, classes)
    check_training_memory(spec, config.batch_size, config.device)
    if data is None:
        data = load_dataset(args.data, resize=args.resize)
    out = Path(args.out) if args.out else Path("runs") / f"train-{name}-{data.name.split(':')[0]}-seed{args.seed}"
    with FolderLock(check_out_dir(out)):
        result = train_run(spec, arch, data, config, out, resize=args.resize, resume=args.resume,
                           progress=not args.no_progress)
    doc = {"arch": args.arch, "data": data.describe(), **result.to_json(),
           "metrics": str(out / METRICS_NAME), "result": str(out / RESULT_NAME)}
    doc.pop("history")
    if args.format == "json":
        emit_json(doc)
        return 0
    print(f"{args.arch} on {data.describe()}; {config.optimizer}, batch {config.batch_size}, seed {config.seed}, "
          f"{config.device}")
    table([{"metric": k, "value": doc[k]} for k in ("valid_accuracy", "test_accuracy", "epochs", "train_seconds",
                                                     "images_per_second", "checkpoint", "metrics", "result")])
    return 0
