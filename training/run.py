"""One training run in a folder (what ``nas train`` and ``nas eval`` do), on top of ``trainer.train``.

The checkpoint's ``meta`` holds the network as NetSpec JSON (and the Architecture JSON when it came
from a space), the dataset spec and the resize, so ``nas eval`` rebuilds the model from the checkpoint
alone and ``--resume`` refuses a checkpoint of another network or dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas.errors import NasError
from nas.searchspace.architecture import Architecture
from nas.searchspace.netspec import NetSpec
from nas.training.checkpoint import load_checkpoint
from nas.training.datasets import DatasetSplits, load_dataset
from nas.training.trainer import CHECKPOINT_NAME, TrainConfig, TrainResult, build_model, evaluate, train


def run_meta(spec: NetSpec, arch: Architecture | None, data: str, resize: str | None) -> dict[str, Any]:
    return {"spec": spec.to_json(), "architecture": arch.to_json() if arch is not None else None,
            "data": data, "resize": resize}


def check_input(spec: NetSpec, data: DatasetSplits) -> None:
    """One-line NasError when the network was built for another input type or class count."""
    if spec.input != data.input_type:
        raise NasError(f"the network takes {spec.input} but {data.name} gives {data.input_type}; "
                       "build it for the data's input (or pass --resize)")
    out = spec.output
    classes = getattr(out, "channels", None)
    if classes is not None and classes != data.num_classes:
        raise NasError(f"the network outputs {classes} classes but {data.name} has {data.num_classes}")


def train_run(spec: NetSpec, arch: Architecture | None, data: DatasetSplits, config: TrainConfig,
              out_dir: str | Path, *, resize: str | None = None, resume: bool = False,
              progress: bool = False) -> TrainResult:
    """Train ``spec`` on ``data`` into ``out_dir`` (checkpoint.pt every epoch, metrics.csv, result.json).

    A new run refuses a folder that already holds a checkpoint (nothing is overwritten); ``resume``
    continues it and refuses one of another network, dataset or settings.
    """
    check_input(spec, data)
    out = Path(out_dir)
    if not resume and (out / CHECKPOINT_NAME).exists():
        raise NasError(f"{str(out)!r} already holds a training run; pass --resume to continue it or another --out")
    meta = run_meta(spec, arch, data.name, resize)
    model = build_model(spec, config.seed)
    return train(model, data, config, out_dir=out, resume=resume, meta=meta, progress=progress)


def evaluate_checkpoint(path: str | Path, data_spec: str | None = None, resize: str | None = None,
                        device: str = "cpu", batch_size: int = 500) -> dict[str, Any]:
    """Rebuild the network of a ``train`` checkpoint and measure it on ``data_spec`` (default: the data it
    was trained on): valid and test loss and accuracy."""
    ckpt = load_checkpoint(path, kind="train")
    meta = ckpt.get("meta") or {}
    if not isinstance(meta, Mapping) or "spec" not in meta:
        raise NasError(f"checkpoint {str(path)!r} does not record its network; it was not written by `nas train`")
    try:
        spec = NetSpec.from_json(meta["spec"])
    except (KeyError, TypeError, ValueError) as e:
        raise NasError(f"checkpoint {str(path)!r} holds an unreadable network ({e})") from None
    data_spec = data_spec or meta.get("data")
    resize = resize if resize is not None else meta.get("resize")
    data = load_dataset(data_spec, resize=resize)
    check_input(spec, data)
    model = build_model(spec, 0)
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError) as e:
        raise NasError(f"checkpoint {str(path)!r}: weights do not fit its network "
                       f"({str(e).strip().splitlines()[0][:120]})") from None
    from nas.training.trainer import resolve_device

    dev = resolve_device(device)
    model.to(dev)
    vl, va = evaluate(model, data.valid, batch_size, dev)
    tl, ta = evaluate(model, data.test, batch_size, dev)
    return {"checkpoint": str(path), "data": data.name, "epochs": int(ckpt.get("epoch", 0)),
            "valid_loss": vl, "valid_accuracy": va, "test_loss": tl, "test_accuracy": ta,
            "valid_images": len(data.valid), "test_images": len(data.test)}
