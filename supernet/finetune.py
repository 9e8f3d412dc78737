"""Inherited accuracy after a few fine-tuning steps: a subnet's supernet weights as a warm start.

Ranking subnets by inherited accuracy alone measures how well weight sharing trained them; a few steps
of the trainer on top move each subnet toward its own optimum at a small fraction of a stand-alone
run's cost. ``scratch_accuracy`` is the control: the same steps from initial weights. Figures (hybrid on
mnist5k against 6-epoch stand-alone training) are in docs/supernet.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from nas.errors import NasError
from nas.supernet.bn import calibration_images, recalibrate_bn
from nas.supernet.network import Supernet
from nas.training.datasets import DatasetSplits
from nas.training.recipe import is_int
from nas.training.trainer import TrainConfig, build_model, train

FINETUNE_LR = 5e-4
"""AdamW's peak rate for fine-tuning inherited weights: a quarter of the trainer's from-scratch 2e-3
(the rate measured in docs/supernet.md); cosine to zero, no warm-up."""


@dataclass(frozen=True)
class FinetuneSettings:
    """``steps`` AdamW steps of ``batch_size`` images (the first ``steps × batch_size`` training images,
    one pass: at most one epoch) at peak rate ``lr``."""

    steps: int
    batch_size: int = 64
    lr: float = FINETUNE_LR

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            v = getattr(self, name)
            if not is_int(v) or v < 1:
                raise NasError(f"fine-tune {name}={v!r} not allowed; give an integer >= 1")
        if not 0 < self.lr <= 10:
            raise NasError(f"fine-tune lr={self.lr!r} not allowed; give a number in (0, 10]")

    def check(self, data: DatasetSplits) -> None:
        """A one-line error when ``steps`` batches need more than one pass over ``data.train``."""
        self.check_images(len(data.train), f"on {data.name!r}")

    def check_images(self, images: int, where: str) -> None:
        """A one-line error when ``steps`` batches need more than one pass over ``images`` training
        images (``where`` says whose, in the message)."""
        most = images // self.batch_size
        if self.steps > most:
            raise NasError(f"fine-tune steps {self.steps} not allowed {where}: at most {most} "
                           f"(one pass over {images} training images at batch {self.batch_size})")

    def train_config(self, seed: int, from_scratch: bool = False) -> TrainConfig:
        """The trainer's settings for these steps; ``from_scratch``: its own AdamW rate and warm-up."""
        common = {"epochs": 1, "batch_size": self.batch_size, "optimizer": "adamw", "zero_init_residual": False,
                  "train_images": self.steps * self.batch_size, "seed": seed}
        if from_scratch:
            return TrainConfig(**common)
        return TrainConfig(**common, lr=self.lr, warmup_epochs=0.0)


def finetuned_accuracy(net: Supernet, arch, data: DatasetSplits, settings: FinetuneSettings, *,
                       bn_images: int = 1000, bn_batch: int = 200, split: str = "valid", seed: int = 0) -> float:
    """Accuracy on ``split`` of ``arch`` extracted from ``net``, its BatchNorm recalibrated on ``bn_images``
    training images, then trained ``settings.steps`` steps with the trainer; ``net`` is not changed."""
    settings.check(data)
    model = net.extract(arch)
    recalibrate_bn(model, calibration_images(data.train, bn_images, seed), bn_batch)
    r = train(model, data, settings.train_config(seed), evaluate_test=split == "test")
    return float(r.test_accuracy if split == "test" else r.valid_accuracy)


def scratch_accuracy(net: Supernet, arch, data: DatasetSplits, settings: FinetuneSettings, *,
                     split: str = "valid", seed: int = 0) -> float:
    """The control of ``finetuned_accuracy``: the same architecture and number of steps from the
    trainer's initial weights (seeded ``seed``) and its own AdamW schedule."""
    settings.check(data)
    model = build_model(net.space.resolve(arch), seed=seed)
    r = train(model, data, settings.train_config(seed, from_scratch=True), evaluate_test=split == "test")
    return float(r.test_accuracy if split == "test" else r.valid_accuracy)
