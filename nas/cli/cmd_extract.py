"""``nas extract CHECKPOINT --arch ARCH -o model.pt``: a subnet out of a supernet as a plain module."""

from __future__ import annotations

from nas.cli._output import add_format, emit_json, table


def add_parser(sub):
    p = sub.add_parser("extract", help="a subnet of a trained supernet as a plain module (+ TorchScript / ONNX)",
                       description="ARCH: an architecture JSON file, inline JSON {\"space\":..,\"genes\":..}, an "
                                   "NB201 string, or 'largest' / 'smallest'.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="supernet.pt (or its run folder)")
    p.add_argument("--arch", required=True, metavar="ARCH")
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="weights + architecture JSON (.pt)")
    p.add_argument("--torchscript", action="store_true", help="also write MODEL with suffix .torchscript.pt")
    p.add_argument("--onnx", action="store_true", help="also write MODEL with suffix .onnx (needs nas[export])")
    p.add_argument("--bn-images", type=int, default=1000,
                   help="recalibrate BatchNorm on this many training images of --data (0: keep the supernet's)")
    p.add_argument("--data", help="dataset for BN recalibration and --finetune (default: the supernet's)")
    p.add_argument("--finetune", type=int, default=0, metavar="EPOCHS", help="train the subnet this many epochs")
    add_format(p)
    return p


def parse_arch(text: str, net):
    """ARCH as typed → an Architecture of the supernet's space (one-line errors)."""
    import json
    from pathlib import Path

    from nas.errors import NasError
    from nas.searchspace import Architecture, load_architecture

    if text in ("largest", "smallest"):
        return net.largest() if text == "largest" else net.smallest()
    if text.startswith("|"):  # an NB201 arch string, whatever the supernet's space (resolve then says so)
        from nas.searchspace import get_space

        return (net.space if net.space.name == "nb201" else get_space("nb201")).parse_string(text)
    if text.lstrip().startswith("{"):
        try:
            return Architecture.from_json(json.loads(text))
        except json.JSONDecodeError as e:
            raise NasError(f"--arch: not valid JSON ({e.msg} at column {e.colno})") from None
    if not Path(text).is_file():
        raise NasError(f"--arch {text!r}: no such file; give an architecture JSON file, inline JSON, an NB201 "
                       "string, largest or smallest")
    return load_architecture(text)[0]


def run(args) -> int:
    import os
    from pathlib import Path

    import torch

    from nas.errors import NasError
    from nas.hw_models.analytic import analytic_costs
    from nas.lock import OutputFileLock
    from nas.supernet.export import model_payload, onnx_to, torchscript_to, write_model
    from nas.supernet.train import load_supernet

    if args.finetune < 0 or args.bn_images < 0:
        raise NasError("--finetune and --bn-images take an integer >= 0")
    out = Path(args.output)
    if out.is_dir():
        raise NasError(f"-o {str(out)!r} is a folder; give a file name such as model.pt")
    net, ckpt = load_supernet(args.checkpoint)
    arch = parse_arch(args.arch, net)
    spec = net.resolve(arch)  # an architecture outside the space or the supernet fails here
    with OutputFileLock(out):  # held from before any fine-tuning to the last file written
        data = None
        if args.bn_images or args.finetune:
            from nas.training.datasets import load_dataset

            name = args.data or ckpt["data"]["name"]
            inp = net.input
            data = load_dataset(name, resize=f"{inp.channels}x{inp.height}x{inp.width}")
        model = net.extract(arch).eval()
        result: dict = {"arch": arch.to_json(), "digest": arch.digest(), **analytic_costs(spec).to_dict()}
        if args.bn_images and data is not None:
            from nas.supernet.bn import calibration_images, recalibrate_bn
            from nas.training.trainer import evaluate

            recalibrate_bn(model, calibration_images(data.train, args.bn_images), 200)
            result["valid_accuracy_inherited"] = evaluate(model, data.valid)[1]
        if args.finetune:
            from nas.training.trainer import TrainConfig, train

            res = train(model, data, TrainConfig(epochs=args.finetune, zero_init_residual=False), progress=True)
            result["valid_accuracy_finetuned"] = res.valid_accuracy
            result["test_accuracy_finetuned"] = res.test_accuracy
            model.eval()
        example = torch.randn(1, *spec.input.shape(1)[1:])
        temps: list[tuple[Path, Path]] = []
        try:
            if args.torchscript:
                dest = out.with_suffix(".torchscript.pt")
                temps.append((torchscript_to(model, example, dest), dest))
            if args.onnx:
                dest = out.with_suffix(".onnx")
                temps.append((onnx_to(model, spec, example, dest), dest))
            write_model(out, model_payload(arch, net.config(), model))
        except BaseException:
            for tmp, _ in temps:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, dest in temps:
            os.replace(tmp, dest)
    result["files"] = [str(out)] + [str(d) for _, d in temps]
    if args.format == "json":
        emit_json(result)
    else:
        table([{"key": k, "value": v} for k, v in result.items() if k != "arch"])
    return 0
