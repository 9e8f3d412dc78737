"""The trainer: one recipe a practitioner would choose, deterministic for a seed on the CPU, resumable.

Recipe: SGD with Nesterov momentum (or AdamW), linear warm-up then cosine decay stepped per batch,
label smoothing, weight decay on weights only (no norms, no biases), the last norm of every residual
branch zero-initialised, gradient-norm clipping, random-shift augmentation (or
shift plus a small random affine map, ``augment='affine'``); channels-last image batches on every
device; on CUDA bf16 autocast. A checkpoint after every epoch (weights, optimizer, scheduler, rng states, architecture),
written atomically; ``resume=True`` continues from it and ends with the same weights as a run that was
never interrupted.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.errors import NasError
from nas.io import write_json_atomic, write_text_atomic
from nas.searchspace.netspec import NetSpec
from nas.training.checkpoint import load_checkpoint, save_checkpoint
from nas.training.datasets import DatasetSplits, Split, subset
from nas.training.recipe import (
    RecipeConfig,
    bad_setting,
    check_recipe_fields,
    is_int,
    make_optimizer,
    random_affine,
    random_shift,
    warmup_cosine,
    zero_init_residual_norms,
)

CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.csv"
RESULT_NAME = "result.json"
OPTIMIZERS = ("sgd", "adamw")
AUGMENTS = ("shift", "affine", "none")


@dataclass(frozen=True)
class TrainConfig(RecipeConfig):
    """One fixed schedule. ``lr``/``weight_decay`` of None take the optimizer's default (SGD 0.05 / 5e-4 at
    batch 128, scaled linearly with the batch; AdamW 2e-3 / 0.05); ``warmup_epochs`` None: one epoch, at
    most a tenth of the schedule. Invalid values are one-line errors."""

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float = 0.9
    warmup_epochs: float | None = None
    label_smoothing: float = 0.1
    grad_clip: float = 5.0
    augment: str = "shift"
    zero_init_residual: bool = True
    seed: int = 0
    device: str = "cpu"
    eval_batch_size: int = 500
    train_images: int | None = None
    """Train on the first N images of the train split only (a fixed, class-balanced prefix: a cheaper,
    lower-fidelity evaluation, e.g. for a quick trained search); None: all of them."""

    def __post_init__(self) -> None:
        def bad(name: str, allowed: str) -> NasError:
            return bad_setting(self, name, allowed)

        if not is_int(self.epochs) or self.epochs < 1:
            raise bad("epochs", "give an integer >= 1")
        if not is_int(self.batch_size) or not 1 <= self.batch_size <= 65536:
            raise bad("batch_size", "give an integer in 1..65536")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"allowed: {', '.join(OPTIMIZERS)}")
        if self.augment not in AUGMENTS:
            raise bad("augment", f"allowed: {', '.join(AUGMENTS)}")
        check_recipe_fields(self)
        if not isinstance(self.zero_init_residual, bool):
            raise bad("zero_init_residual", "give true or false")
        if not is_int(self.eval_batch_size) or self.eval_batch_size < 1:
            raise bad("eval_batch_size", "give an integer >= 1")
        if self.train_images is not None and (not is_int(self.train_images) or self.train_images < 1):
            raise bad("train_images", "give an integer >= 1 or leave it unset")
        if not isinstance(self.device, str) or (self.device not in ("cpu", "cuda")
                                                and not self.device.startswith("cuda:")):
            raise bad("device", "allowed: cpu, cuda, cuda:N")

    @property
    def resolved_warmup_epochs(self) -> float:
        """Default: one epoch, but at most a tenth of the schedule (a 1-epoch run must still decay)."""
        return self.warmup_epochs if self.warmup_epochs is not None else min(1.0, 0.1 * self.epochs)


@dataclass(frozen=True)
class TrainResult:
    """What a training run measured. ``valid_accuracy`` is the last epoch's (the signal for selection);
    ``test_accuracy`` is measured once at the end (None when training was stopped early)."""

    valid_accuracy: float
    test_accuracy: float | None
    epochs: int
    train_seconds: float
    images_per_second: float
    checkpoint: str | None
    stopped_early: bool = False
    diverged: bool = False
    history: tuple[dict[str, float], ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["history"] = [dict(h) for h in self.history]
        return d


def is_image_batch(x: torch.Tensor) -> bool:
    """A B×C×H×W batch with a real 2-D grid: trained and evaluated channels-last (on the CPU too, where
    oneDNN's NHWC convolutions made a training step of the conv spaces' samples 1.0–3.4× faster, median
    1.9–2.2×: experiments/benchmarks/channels_last_speed.py; 1-pixel-high sequences keep NCHW)."""
    return x.ndim == 4 and x.shape[2] > 1 and x.shape[3] > 1


def resolve_device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise NasError(f"device {name!r} is not available on this machine (no CUDA); use --device cpu")
    return torch.device(name)


def build_model(spec: NetSpec, seed: int) -> nn.Module:
    """``spec.build()`` with its initial weights fixed by ``seed`` (the global torch rng is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.build()


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int = 500,
             device: torch.device | str = "cpu") -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` in eval mode over ``split``."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    use_bf16 = device.type == "cuda"
    for i in range(0, len(split), batch_size):
        x = split.x[i:i + batch_size].to(device, non_blocking=True)
        y = split.y[i:i + batch_size].to(device, non_blocking=True)
        if is_image_batch(x):
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            out = model(x)
        out = out.float()
        loss_sum += float(nn.functional.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
    model.train(was_training)
    n = max(1, len(split))
    return loss_sum / n, correct / n


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


EpochCallback = Callable[[int, Mapping[str, float]], bool]


def train(model: nn.Module, data: DatasetSplits, config: TrainConfig, *, out_dir: str | Path | None = None,
          resume: bool = False, meta: Mapping[str, Any] | None = None, progress: bool = False,
          on_epoch: EpochCallback | None = None, evaluate_test: bool = True) -> TrainResult:
    """Train ``model`` on ``data.train`` with ``config``; validate on ``data.valid`` after every epoch.

    ``out_dir``: where the checkpoint (every epoch), ``metrics.csv`` and ``result.json`` go (nothing is
    written without it). ``resume``: continue from ``out_dir``'s checkpoint, which must hold the same
    ``meta`` (e.g. the architecture JSON) and config. ``on_epoch(epoch, metrics)`` returning True stops
    training (a pruner's decision); on ``resume`` it is first called for every epoch the checkpoint holds
    (so a pruner that lost its state sees the whole history). The model must have been built on the CPU; it is moved to the device.
    """
    device = resolve_device(config.device)
    if config.train_images is not None:
        data = subset(data, train=config.train_images)
    out = Path(out_dir) if out_dir is not None else None
    meta = dict(meta or {})
    model.to(device)
    channels_last = is_image_batch(data.train.x[:1])
    if channels_last:
        model.to(memory_format=torch.channels_last)
    steps_per_epoch = max(1, -(-len(data.train) // config.batch_size))
    total_steps = steps_per_epoch * config.epochs
    opt = make_optimizer(model, config.optimizer, config.resolved_lr, config.resolved_weight_decay,
                         config.momentum)
    sched = warmup_cosine(opt, total_steps, int(round(config.resolved_warmup_epochs * steps_per_epoch)))
    gen = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, float]] = []
    start_epoch = 0
    elapsed = 0.0
    data_info = {"name": data.name, "input": data.input_type.to_json(), "num_classes": data.num_classes,
                 "mean": list(data.mean), "std": list(data.std)}

    ckpt_path = out / CHECKPOINT_NAME if out is not None else None
    if resume:
        if ckpt_path is None or not ckpt_path.is_file():
            raise NasError(f"nothing to resume: no {CHECKPOINT_NAME} in {str(out)!r}")
        ckpt = load_checkpoint(ckpt_path, kind="train")
        if ckpt.get("meta") != json.loads(json.dumps(meta)):
            raise NasError(f"checkpoint {str(ckpt_path)!r} holds another architecture; resume with the same ARCH")
        if ckpt.get("config") != config.to_json():
            raise NasError(f"checkpoint {str(ckpt_path)!r} was trained with other settings; resume with the same ones")
        if ckpt.get("data", {}).get("name") != data.name:
            raise NasError(f"checkpoint {str(ckpt_path)!r} was trained on {ckpt.get('data', {}).get('name')!r}, "
                           f"not {data.name!r}")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        gen.set_state(ckpt["rng"]["generator"])
        start_epoch = int(ckpt["epoch"])
        history = [dict(h) for h in ckpt["history"]]
        elapsed = float(ckpt.get("train_seconds", 0.0))
        torch_state = ckpt["rng"]["torch"]
    else:
        if config.zero_init_residual:
            zero_init_residual_norms(model)
        torch_state = torch.Generator().manual_seed(config.seed).get_state()

    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    use_bf16 = device.type == "cuda"
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=start_epoch * steps_per_epoch, unit="batch", leave=False,
                   desc="train", dynamic_ncols=True)
    stopped = diverged = False
    if on_epoch is not None:  # a resumed run: the outside scheduler sees the epochs it missed, in order
        stopped = any(on_epoch(int(row["epoch"]), row) for row in history)
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(torch_state)  # dropout and other global-rng layers: part of the checkpoint
        for epoch in range(start_epoch, config.epochs if not stopped else start_epoch):
            t0 = time.perf_counter()
            model.train()
            order = torch.randperm(len(data.train), generator=gen)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.long, device=device)
            for s in range(steps_per_epoch):
                idx = order[s * config.batch_size:(s + 1) * config.batch_size]
                x, y = data.train.x[idx], data.train.y[idx]
                if config.augment == "shift":
                    x = random_shift(x, gen)
                elif config.augment == "affine":
                    x = random_affine(x, gen)
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    logits = model(x)
                    loss = loss_fn(logits.float(), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                opt.step()
                sched.step()
                loss_sum += loss.detach() * len(y)
                correct += (logits.detach().argmax(1) == y).sum()
                if bar is not None:
                    bar.update(1)
            seconds = time.perf_counter() - t0
            elapsed += seconds
            train_loss = float(loss_sum) / len(data.train)
            if not torch.isfinite(torch.tensor(train_loss)):
                diverged = True
            valid_loss, valid_acc = evaluate(model, data.valid, config.eval_batch_size, device)
            row = {"epoch": epoch + 1, "train_loss": train_loss, "train_accuracy": int(correct) / len(data.train),
                   "valid_loss": valid_loss, "valid_accuracy": valid_acc, "lr": opt.param_groups[0]["lr"],
                   "seconds": seconds, "images_per_second": len(data.train) / seconds}
            history.append(row)
            if bar is not None:
                bar.set_postfix(epoch=epoch + 1, valid_acc=f"{valid_acc:.4f}")
            if out is not None:
                save_checkpoint(ckpt_path, {
                    "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "rng": {"generator": gen.get_state(), "torch": torch.get_rng_state()},
                    "epoch": epoch + 1, "history": history, "config": config.to_json(), "meta": meta,
                    "data": data_info, "train_seconds": elapsed}, kind="train")
                write_text_atomic(out / METRICS_NAME, _csv_text(history))
            if diverged or (on_epoch is not None and on_epoch(epoch + 1, row)):
                stopped = not diverged
                break
    if bar is not None:
        bar.close()
    test_acc = None
    if evaluate_test and not stopped:
        test_acc = evaluate(model, data.test, config.eval_batch_size, device)[1]
    train_images = sum(len(data.train) for _ in history)
    result = TrainResult(
        valid_accuracy=history[-1]["valid_accuracy"] if history else 0.0, test_accuracy=test_acc,
        epochs=len(history), train_seconds=elapsed,
        images_per_second=train_images / elapsed if elapsed > 0 else 0.0,
        checkpoint=str(ckpt_path) if ckpt_path is not None else None, stopped_early=stopped,
        diverged=diverged, history=tuple(history))
    if out is not None:
        write_json_atomic(out / RESULT_NAME, result.to_json(), indent=2)
    return result
