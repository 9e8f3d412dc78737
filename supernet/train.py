"""Supernet training: the sandwich rule with in-place distillation, resumable, optionally data-parallel.

One step (Yu et al., BigNAS / OFA's progressive shrinking without the phases): the largest subnet on the
labels (label smoothing), then the smallest and ``num_random`` sampled subnets on the largest subnet's
detached soft predictions; gradients accumulate over the four passes, then one clipped SGD step. The
schedule (SGD Nesterov, weight decay on weights only, warm-up then cosine per batch, random shift) is
the trainer's recipe (``nas.training.recipe``). Subnets of a step come from a generator seeded by
(seed, step), so every process of a data-parallel run, and a resumed run, draws the same ones.

Data-parallel runs (``torchrun``; gloo on the CPU, NCCL on CUDA) split each global batch across the
processes, average the gradients with ``all_reduce`` after the sandwich's passes, and normalise
BatchNorm with statistics of the global batch, so N processes take the same steps as one process with
the whole batch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nas.errors import NasError
from nas.io import write_json_atomic
from nas.supernet.bn import calibration_images, recalibrate_bn
from nas.supernet.network import Supernet
from nas.supernet.sampling import SAMPLERS, make_sampler
from nas.training import recipe
from nas.training.checkpoint import load_checkpoint, save_checkpoint
from nas.training.datasets import DatasetSplits
from nas.training.recipe import make_optimizer, random_shift, warmup_cosine
from nas.training.trainer import evaluate, is_image_batch

CHECKPOINT_NAME = "supernet.pt"
#: which subnets frame each step besides the random draws (``step_archs``)
EXTREME_OPS = ("fixed", "random", "none")
KIND = "supernet"
#: How a checkpoint's max-size tensors are laid out. 2: fused projections (``OpSpec.stacked``: attention's
#: q/k/v, Mamba's in_proj and x_proj) are cut block by block; 1 (checkpoints without the field) cut them
#: as one tensor, so their narrower subnets read other blocks' weights.
WEIGHT_LAYOUT = 2


def check_weight_layout(ckpt: dict[str, Any], net: Supernet, path: Path) -> None:
    """A one-line NasError when ``ckpt`` was written under an older ``WEIGHT_LAYOUT`` that changes what
    ``net``'s weights mean (only supernets holding stacked tensors are affected)."""
    layout = ckpt.get("weight_layout", 1)
    if layout != WEIGHT_LAYOUT and net.has_stacked_tensors():
        raise NasError(f"checkpoint {str(path)!r} has weight layout {layout}, which cut attention's q/k/v (and "
                       f"Mamba's projections) as one tensor; this version reads layout {WEIGHT_LAYOUT}: train "
                       "the supernet again")


@dataclass(frozen=True)
class SupernetTrainConfig(recipe.RecipeConfig):
    """Settings of a supernet run. ``lr``/``weight_decay`` None: SGD 0.05 × batch/128 and 5e-5 (OFA's),
    AdamW 2e-3 and 0.05 (the trainer's)."""

    SGD_WEIGHT_DECAY = 5e-5
    WHAT = "supernet"

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float = 0.9
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    grad_clip: float = 5.0
    augment: str = "shift"
    num_random: int = 2
    sampler: str = "uniform"
    distill: bool = True
    extreme_ops: str = "fixed"  # "random": the extremes draw their ops; "none": no extremes (``step_archs``)
    largest_first_epochs: int = 0  # train the largest subnet alone this many epochs before the sandwich
    bn_images: int = 1000
    bn_batch: int = 200
    seed: int = 0
    max_steps: int | None = None  # stop after this many steps (tests and the DDP check)

    def __post_init__(self) -> None:
        def bad(name: str, allowed: str) -> NasError:
            return recipe.bad_setting(self, name, allowed)

        for name in ("epochs", "batch_size", "bn_images", "bn_batch"):
            v = getattr(self, name)
            if not recipe.is_int(v) or v < 1:
                raise bad(name, "give an integer >= 1")
        if (not recipe.is_int(self.largest_first_epochs) or not 0 <= self.largest_first_epochs < self.epochs):
            raise bad("largest_first_epochs", f"give an integer in [0, epochs - 1 = {self.epochs - 1}]: at least one "
                                              "epoch must train the subnets")
        if not recipe.is_int(self.num_random) or self.num_random < 0:
            raise bad("num_random", "give an integer >= 0")
        if not isinstance(self.distill, bool):
            raise bad("distill", "give true or false")
        if self.sampler not in SAMPLERS:
            raise bad("sampler", f"allowed: {', '.join(SAMPLERS)}")
        if self.optimizer not in ("sgd", "adamw"):
            raise bad("optimizer", "allowed: sgd, adamw")
        if self.extreme_ops not in EXTREME_OPS:
            raise bad("extreme_ops", f"allowed: {', '.join(EXTREME_OPS)}")
        if self.extreme_ops == "none" and self.distill:
            raise bad("extreme_ops", "none trains no largest subnet to distil from; train without distillation with it "
                                     "(distill=false, --no-distill)")
        if self.extreme_ops == "none" and self.num_random < 1:
            raise bad("extreme_ops", f"none with num_random={self.num_random} trains no subnet; "
                                     "give num_random >= 1 with it")
        if self.augment not in ("shift", "none"):
            raise bad("augment", "allowed: shift, none")
        recipe.check_recipe_fields(self)
        if self.warmup_epochs is None:
            raise bad("warmup_epochs", f"give a number in [0, epochs={self.epochs}]")
        if self.max_steps is not None and (not recipe.is_int(self.max_steps) or self.max_steps < 1):
            raise bad("max_steps", "give an integer >= 1")


def _stored_config(stored: Any) -> SupernetTrainConfig | None:
    """A checkpoint's settings; a field missing from an older checkpoint reads as its default (so a
    checkpoint written before a setting existed still resumes), an unreadable one as None."""
    try:
        return SupernetTrainConfig.from_json(stored) if isinstance(stored, dict) else None
    except (NasError, TypeError):
        return None


def _world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def step_archs(net: Supernet, sampler, seed: int, step: int, num_random: int, extreme_ops: str = "fixed") -> list:
    """The subnets of global step ``step``: largest, smallest, then ``num_random`` draws. ``extreme_ops``
    "fixed": the largest and smallest by FLOPs; "random": every ordered gene (depth, width, ...) at its
    largest / smallest value and every operation choice drawn uniformly, so each op's weights are
    trained as often as any other's instead of the FLOPs extremes' ops at every step; "none": only the
    ``num_random`` draws (single-path one-shot training, Guo et al.'s SPOS, ``num_random`` paths a step)."""
    rng = np.random.default_rng([seed, step])
    if extreme_ops == "none":
        return sampler.draw(rng, num_random)
    if extreme_ops == "fixed":
        extremes = [net.largest(), net.smallest()]
    else:
        extremes = [net.extreme_with_random_ops(rng, largest=True), net.extreme_with_random_ops(rng, largest=False)]
    return extremes + sampler.draw(rng, num_random)


def sandwich_step(net: Supernet, archs: list, x: torch.Tensor, y: torch.Tensor, config: SupernetTrainConfig,
                  loss_scale: float = 1.0) -> tuple[float, torch.Tensor]:
    """Forward and backward of one sandwich (gradients accumulate in ``net``); (loss, logits) of its first
    subnet, the teacher (the largest, unless ``extreme_ops`` is "none")."""
    teacher = net(x, archs[0])
    loss = F.cross_entropy(teacher, y, label_smoothing=config.label_smoothing)
    (loss * loss_scale).backward()
    soft = teacher.detach().softmax(1)
    for a in archs[1:]:
        out = net(x, a)
        if config.distill:
            sub = -(soft * out.log_softmax(1)).sum(1).mean()
        else:
            sub = F.cross_entropy(out, y, label_smoothing=config.label_smoothing)
        (sub * loss_scale).backward()
    return float(loss.detach()), teacher.detach()


def _all_reduce_grads(params: list[nn.Parameter], world: int) -> None:
    import torch.distributed as dist

    # every rank ran the same subnets, so the same parameters have gradients; the unused ones keep None
    # (an optimizer skips them: no weight decay, no momentum step), exactly as in a single process
    used = [p for p in params if p.grad is not None]
    grads = [p.grad for p in used]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    i = 0
    for p, g in zip(used, grads):
        n = g.numel()
        p.grad = flat[i:i + n].view_as(p).clone()
        i += n


@torch.no_grad()
def subnet_accuracy(net: Supernet, arch, data: DatasetSplits, *, recalibrate: bool = True, bn_images: int = 1000,
                    bn_batch: int = 200, split: str = "valid", seed: int = 0) -> float:
    """Inherited accuracy of ``arch`` on ``split``: the extracted subnet, its BatchNorm recalibrated on
    ``bn_images`` training images (exact averages) unless ``recalibrate`` is False."""
    model = net.extract(arch)
    if is_image_batch(data.train.x[:1]):
        model.to(memory_format=torch.channels_last)  # as the trainer: oneDNN's NHWC convolutions are faster
    if recalibrate:
        recalibrate_bn(model, calibration_images(data.train, bn_images, seed), bn_batch)
    return evaluate(model.eval(), getattr(data, split))[1]


def train_supernet(net: Supernet, data: DatasetSplits, config: SupernetTrainConfig, *,
                   out_dir: str | Path | None = None, resume: bool = False, progress: bool = False) -> dict[str, Any]:
    """Train ``net`` on ``data.train``; after every epoch measure the largest and smallest subnets' valid
    accuracy (BN recalibrated) and, with ``out_dir``, write ``supernet.pt`` (weights, optimizer,
    scheduler, rng, history, settings) atomically. ``resume`` continues from it with the same settings and
    ends with the same weights as an uninterrupted run. Image batches train channels-last (as the
    trainer); ``net`` is handed back in PyTorch's default layout. Returns the summary also written to
    result.json."""
    if data.input_type != net.input:
        raise NasError(f"data {data.name!r} is {data.input_type}, the supernet takes {net.input}")
    world, rank = _world()
    out = Path(out_dir) if out_dir is not None else None
    ckpt_path = out / CHECKPOINT_NAME if out is not None else None
    sampler = make_sampler(config.sampler, net.space, seed=config.seed)
    # channels-last as the trainer (a mobilenet sandwich step 1.72x faster on the CPU, nb201's 1.41x:
    # experiments/benchmarks/channels_last_speed.py --supernet); slices of the NHWC stores stay NHWC
    channels_last = is_image_batch(data.train.x[:1])
    if channels_last:
        net.to(memory_format=torch.channels_last)
    steps_per_epoch = max(1, -(-len(data.train) // config.batch_size))
    opt = make_optimizer(net, config.optimizer, config.resolved_lr, config.resolved_weight_decay, config.momentum)
    sched = warmup_cosine(opt, steps_per_epoch * config.epochs, int(round(config.warmup_epochs * steps_per_epoch)))
    gen = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, Any]] = []
    start_epoch, elapsed = 0, 0.0
    data_info = {"name": data.name, "input": data.input_type.to_json(), "num_classes": data.num_classes}
    if resume:
        if ckpt_path is None or not ckpt_path.is_file():
            raise NasError(f"nothing to resume: no {CHECKPOINT_NAME} in {str(out)!r}")
        ckpt = load_checkpoint(ckpt_path, kind=KIND)
        if ckpt.get("space") != json.loads(json.dumps(net.config())):
            raise NasError(f"checkpoint {str(ckpt_path)!r} holds a supernet of {ckpt.get('space')}, not {net.config()}")
        if ckpt.get("supernet", {}) != net.options():
            raise NasError(f"checkpoint {str(ckpt_path)!r} holds a supernet with options {ckpt.get('supernet', {})}, "
                           f"not {net.options()}")
        if _stored_config(ckpt.get("config")) != config:
            raise NasError(f"checkpoint {str(ckpt_path)!r} was trained with other settings; resume with the same ones")
        if ckpt.get("data", {}).get("name") != data.name:
            raise NasError(f"checkpoint {str(ckpt_path)!r} was trained on {ckpt['data'].get('name')!r}, not {data.name!r}")
        check_weight_layout(ckpt, net, ckpt_path)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        gen.set_state(ckpt["rng"]["generator"])
        start_epoch, history = int(ckpt["epoch"]), list(ckpt["history"])
        elapsed = float(ckpt.get("train_seconds", 0.0))
    params = [p for p in net.parameters() if p.requires_grad]
    if world > 1:
        from nas.supernet.sync_bn import globalise_batchnorm

        globalise_batchnorm(net)  # norms held directly by positions (NB201 edges); skeletons do their own
    bar = None
    if progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=steps_per_epoch * config.epochs, initial=start_epoch * steps_per_epoch, unit="step",
                   leave=False, desc="supernet", dynamic_ncols=True)
    step = start_epoch * steps_per_epoch
    done = False
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        net.train()
        order = torch.randperm(len(data.train), generator=gen)
        loss_sum = 0.0
        for s in range(steps_per_epoch):
            idx = order[s * config.batch_size:(s + 1) * config.batch_size]
            x, y = data.train.x[idx], data.train.y[idx]
            if config.augment == "shift":
                x = random_shift(x, gen)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            xs, ys = x.tensor_split(world)[rank], y.tensor_split(world)[rank]
            # progressive shrinking's first phase (OFA): the largest alone, then the sandwich; every step's
            # draws depend on the step alone, so the phase changes no later step's subnets
            archs = ([net.largest()] if epoch < config.largest_first_epochs
                     else step_archs(net, sampler, config.seed, step, config.num_random, config.extreme_ops))
            opt.zero_grad(set_to_none=True)
            # local mean loss × (local share × world): the average over processes is the global mean
            loss, _ = sandwich_step(net, archs, xs, ys, config, loss_scale=len(ys) * world / len(y))
            if world > 1:
                _all_reduce_grads(params, world)
            nn.utils.clip_grad_norm_(params, config.grad_clip)
            opt.step()
            sched.step()
            loss_sum += loss * len(ys)
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.3f}")
            if config.max_steps is not None and step >= config.max_steps:
                done = True
                break
        seconds = time.perf_counter() - t0
        elapsed += seconds
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": loss_sum / max(1, len(data.train) // world),
                               "seconds": seconds}
        if not done:
            for name, arch in (("largest", net.largest()), ("smallest", net.smallest())):
                row[f"valid_accuracy_{name}"] = subnet_accuracy(net, arch, data, bn_images=config.bn_images,
                                                                bn_batch=config.bn_batch, seed=config.seed)
        history.append(row)
        if bar is not None:
            bar.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
        if ckpt_path is not None and rank == 0 and not done:
            save_checkpoint(ckpt_path, {
                "model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "rng": {"generator": gen.get_state()}, "epoch": epoch + 1, "history": history,
                "config": config.to_json(), "space": net.config(), "supernet": net.options(), "data": data_info,
                "train_seconds": elapsed, "weight_layout": WEIGHT_LAYOUT}, kind=KIND)
        if done:
            break
    if bar is not None:
        bar.close()
    if channels_last:  # hand the supernet back in the layout it came in, as a loaded checkpoint has
        net.to(memory_format=torch.contiguous_format)
    result = {"space": net.config(), "supernet": net.options(), "data": data.name, "epochs": len(history),
              "train_seconds": elapsed,
              "history": history, "checkpoint": str(ckpt_path) if ckpt_path is not None else None,
              "largest": net.largest().to_json(), "smallest": net.smallest().to_json()}
    if out is not None and rank == 0:
        write_json_atomic(out / "result.json", result, indent=2)
    return result


def load_supernet(path: str | Path) -> tuple[Supernet, dict[str, Any]]:
    """A supernet and its checkpoint from ``supernet.pt`` (or a folder holding it); one-line errors for a
    missing, truncated or foreign file."""
    from nas.supernet.network import Supernet, space_from_config

    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT_NAME
    ckpt = load_checkpoint(p, kind=KIND)
    try:
        space = space_from_config(ckpt["space"])
        options = ckpt.get("supernet", {})
        if not isinstance(options, dict):
            raise KeyError("supernet")
        with torch.random.fork_rng(devices=[]):
            net = Supernet(space, **options)
        net.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise NasError(f"checkpoint {str(p)!r} does not hold a usable supernet ({first[:160]})") from None
    check_weight_layout(ckpt, net, p)
    return net.eval(), ckpt
