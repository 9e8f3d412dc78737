"""The supernet as an evaluator (``--evaluator supernet --supernet CHECKPOINT``): a trial's score is its
inherited validation accuracy (weights sliced from the trained supernet, BatchNorm recalibrated on
training images with exact averages), after ``--supernet-finetune-steps`` steps of the trainer when set,
cached per architecture in the evaluator's process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import NasError
from nas.search.app.evaluators import EVALUATORS, EvaluatorFactory
from nas.search.loop.evaluation import Evaluation
from nas.search.space_ref import settings_of
from nas.searchspace.architecture import Architecture
from nas.searchspace.space import own_settings

if TYPE_CHECKING:
    from nas.search.app.config import SearchConfig
    from nas.search.space_ref import SpaceRef

BN_IMAGES = 1000


def _checkpoint_space(path: str) -> dict[str, Any]:
    from nas.supernet.train import CHECKPOINT_NAME, KIND
    from nas.training.checkpoint import load_checkpoint

    p = Path(path)
    ckpt = load_checkpoint(p / CHECKPOINT_NAME if p.is_dir() else p, kind=KIND)
    if not isinstance(ckpt.get("space"), dict) or "space" not in ckpt["space"]:
        raise NasError(f"checkpoint {path!r} does not say which space its supernet covers")
    return {"space": dict(ckpt["space"]), "data": dict(ckpt.get("data", {}))}


@EVALUATORS.register("supernet", instantiate=True)
class SupernetFactory(EvaluatorFactory):
    """``--evaluator supernet --supernet CHECKPOINT [--data D]`` (default data: the supernet's)."""

    metric = "valid_accuracy"

    def check(self, config: SearchConfig) -> None:
        if not config.supernet:
            raise NasError("--evaluator supernet needs --supernet CHECKPOINT (from `nas supernet train`)")
        info = _checkpoint_space(config.supernet)
        if info["space"]["space"] != config.space:
            raise NasError(f"--supernet {config.supernet!r} covers space {info['space']['space']!r}, "
                           f"not --space {config.space!r}")
        extra = own_settings(info["space"])
        if config.space_options and settings_of(config.space_options) != settings_of(extra):
            raise NasError(f"space settings {dict(config.space_options)} differ from the supernet's "
                           f"{extra or 'defaults'}; leave them out (they come from --supernet)")

    def space_settings(self, config: SearchConfig) -> Mapping[str, Any]:
        sp = _checkpoint_space(config.supernet)["space"]
        for key, flag in (("input", config.input), ("num_classes", config.num_classes)):
            if flag is not None and str(flag).lower().replace(" ", "") != str(sp.get(key)):
                raise NasError(f"--{'classes' if key == 'num_classes' else key} {flag} differs from the supernet's "
                               f"{sp.get(key)}")
        return {"input": sp["input"], "num_classes": sp["num_classes"], "space_options": own_settings(sp)}

    def __call__(self, config: SearchConfig, ref: SpaceRef) -> SupernetEvaluator:
        data = config.data or _checkpoint_space(config.supernet)["data"].get("name")
        if not data:
            raise NasError("the supernet checkpoint names no dataset; pass --data")
        ev = SupernetEvaluator(ref, str(config.supernet), data, finetune_steps=config.supernet_finetune_steps)
        if ev.finetune_steps:  # too many steps for the data: one line now, not a failed trial later
            ev.finetune.check(ev.dataset)
        return ev


@dataclass
class SupernetEvaluator:
    """Inherited validation accuracy of each architecture (picklable; the supernet and the data load
    lazily in the process that evaluates). Returns ``{"valid_accuracy", "score"}``; info says whether
    the value came from the cache."""

    ref: SpaceRef
    checkpoint: str
    data: str
    bn_images: int = BN_IMAGES
    finetune_steps: int = 0
    cache: dict[Architecture, float] = field(default_factory=dict)

    @cached_property
    def supernet(self) -> Any:
        from nas.supernet.train import load_supernet

        net, _ = load_supernet(self.checkpoint)
        if net.config()["space"] != self.ref.space.name or net.input != self.ref.space.input:
            raise NasError(f"supernet {self.checkpoint!r} ({net.config()}) does not match the searched space")
        return net

    @cached_property
    def dataset(self) -> Any:
        from nas.training.datasets import load_dataset

        inp = self.ref.space.input
        return load_dataset(self.data, resize=f"{inp.channels}x{inp.height}x{inp.width}")

    @property
    def finetune(self) -> Any:  # FinetuneSettings (imported lazily: torch)
        from nas.supernet.finetune import FinetuneSettings

        return FinetuneSettings(self.finetune_steps)

    def __getstate__(self) -> dict[str, Any]:
        return {"ref": self.ref, "checkpoint": self.checkpoint, "data": self.data, "bn_images": self.bn_images,
                "finetune_steps": self.finetune_steps, "cache": dict(self.cache)}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__dict__.update(state)

    def describe(self) -> str:
        tuned = f", then {self.finetune_steps} fine-tuning steps" if self.finetune_steps else ""
        return (f"inherited validation accuracy from supernet {self.checkpoint} on {self.data} "
                f"(BN recalibrated on {self.bn_images} training images{tuned})")

    def __call__(self, arch: Architecture) -> Evaluation:
        from nas.supernet.train import subnet_accuracy

        cached = arch in self.cache
        if not cached and self.finetune_steps:
            from nas.supernet.finetune import finetuned_accuracy

            self.cache[arch] = finetuned_accuracy(self.supernet, arch, self.dataset, self.finetune,
                                                  bn_images=self.bn_images)
        elif not cached:
            self.cache[arch] = subnet_accuracy(self.supernet, arch, self.dataset, bn_images=self.bn_images)
        acc = self.cache[arch]
        return Evaluation({"valid_accuracy": acc, "score": acc}, {"cached": cached})
