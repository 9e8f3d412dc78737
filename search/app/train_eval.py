"""Trained evaluation inside search (``--evaluator train``): every feasible trial is trained on a dataset's
train split and scored by its validation accuracy; the test accuracy is kept as trial info only.

Multi-fidelity early stopping on one machine: an Optuna pruner (successive halving or Hyperband) sees
each trial's validation accuracy after every epoch and may stop it. The pruner's state is an in-memory
Optuna study rebuilt from the stored trials' epoch histories when a run resumes (``observe``), so a
resumed run makes the decisions of an uninterrupted one. With ``--workers`` > 1 the pruner becomes
Ray Tune's ASHA scheduler (``nas.search.loop.distributed``), whose decisions depend on timing.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import NasError
from nas.search.app.evaluators import EVALUATORS, EvaluatorFactory
from nas.search.loop.evaluation import Evaluation
from nas.search.loop.pruning import PRUNERS, EpochPruner, EpochReport, first_rung
from nas.searchspace.architecture import Architecture

if TYPE_CHECKING:
    from nas.search.app.config import SearchConfig
    from nas.search.space_ref import SpaceRef
    from nas.search.trial import Trial
    from nas.training.datasets import DatasetSplits

TRIAL_CHECKPOINTS = "trial-checkpoints"
"""The run folder's subfolder holding the epoch checkpoints of trials in training."""
@dataclass
class TrainEvaluator:
    """Trains ``ref``'s architecture on ``data`` (resized to ``resize``) with ``train`` (TrainConfig
    fields) and returns ``{"valid_accuracy", "score" (the same), "epochs"}``; the info holds the test
    accuracy (None when pruned), the per-epoch validation accuracies and the training time.

    Picklable: the dataset is reloaded lazily on a worker. ``pruner`` is ``none``, ``sha`` or
    ``hyperband`` (used in this process; on Ray the scheduler prunes through ``on_epoch``).
    """

    ref: SpaceRef
    data: str
    resize: str | None = None
    train: Mapping[str, Any] = field(default_factory=dict)
    pruner: str = "none"
    checkpoint_dir: str | None = None
    """Where a trial in training keeps its epoch checkpoint (``DIR/<digest>/checkpoint.pt``), so a
    killed search resumes it from its last epoch; removed when the trial ends. None: no checkpoints."""

    @cached_property
    def dataset(self) -> DatasetSplits:
        from nas.training.datasets import load_dataset

        return load_dataset(self.data, resize=self.resize)

    @cached_property
    def config(self) -> Any:
        from nas.training.trainer import TrainConfig

        return TrainConfig.from_json(dict(self.train))

    @cached_property
    def _pruner(self) -> EpochPruner | None:
        epochs = self.config.epochs
        return None if self.pruner == "none" else EpochPruner(self.pruner, epochs, first_rung(epochs))

    def __getstate__(self) -> dict[str, Any]:
        return {"ref": self.ref, "data": self.data, "resize": self.resize, "train": dict(self.train),
                "pruner": self.pruner, "checkpoint_dir": self.checkpoint_dir}

    def use_run_folder(self, out_dir: Path) -> None:
        """Keep the epoch checkpoints of trials in training under ``out_dir/TRIAL_CHECKPOINTS``."""
        self.checkpoint_dir = str(Path(out_dir).resolve() / TRIAL_CHECKPOINTS)

    def clear_run_folder(self) -> None:
        """Remove the epoch checkpoints (the search ended, or a new run that failed is taken back)."""
        if self.checkpoint_dir is not None:
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__dict__.update(state)

    def describe(self) -> str:
        c = self.config
        prune = "" if self.pruner == "none" else f", {self.pruner} pruning"
        return (f"validation accuracy after {c.epochs} epochs on {self.data}"
                f"{' resized to ' + self.resize if self.resize else ''} ({c.optimizer}, batch {c.batch_size}, "
                f"seed {c.seed}{prune})")

    def __call__(self, arch: Architecture) -> Evaluation:
        return self.evaluate(arch)

    def evaluate(self, arch: Architecture, on_epoch: EpochReport | None = None) -> Evaluation:
        """Train ``arch``; ``on_epoch(epoch, metrics)`` returning True stops it (an outside scheduler)."""
        pruner = self._pruner if on_epoch is None else None
        ot = pruner.start() if pruner is not None else None
        result = None
        try:
            spec = self.ref.resolve(arch)

            def report(epoch: int, metrics: Mapping[str, float]) -> bool:
                if ot is not None:
                    return EpochPruner.report(ot, epoch, metrics["valid_accuracy"])
                return bool(on_epoch(epoch, metrics)) if on_epoch is not None else False

            result = self._train(arch, spec, report)
        finally:
            if ot is not None:
                pruner.finish(ot, result.valid_accuracy if result is not None else None,
                              bool(result is not None and result.stopped_early))
        if result.diverged:
            raise NasError(f"training diverged (non-finite loss) at epoch {result.epochs}")
        return outcome_of(result)

    def _train(self, arch: Architecture, spec: Any, report: EpochReport) -> Any:
        """Train ``spec``, from the trial's epoch checkpoint when a killed run left one (the pruner is
        shown the epochs it holds first); the checkpoint folder goes once training ends."""
        from nas.training.trainer import CHECKPOINT_NAME, build_model, train

        if self.checkpoint_dir is None:
            return train(build_model(spec, self.config.seed), self.dataset, self.config, on_epoch=report)
        from nas.lock import FolderLock

        out = Path(self.checkpoint_dir) / arch.digest()
        try:
            lock = FolderLock(out, "trial checkpoint folder").acquire()
        except NasError:  # the same architecture is in training in another worker: a folder of its own
            out = out.with_name(f"{out.name}-{os.getpid()}-{threading.get_ident()}")
            lock = FolderLock(out, "trial checkpoint folder").acquire()
        try:
            meta = {"architecture": arch.to_json(), "data": self.data, "resize": self.resize}
            result = None
            if (out / CHECKPOINT_NAME).is_file():
                try:
                    result = train(build_model(spec, self.config.seed), self.dataset, self.config, out_dir=out,
                                   resume=True, meta=meta, on_epoch=report)
                except NasError:  # unreadable or not this trial's (cannot happen in a folder we wrote): start over
                    (out / CHECKPOINT_NAME).unlink(missing_ok=True)
            if result is None:
                result = train(build_model(spec, self.config.seed), self.dataset, self.config, out_dir=out,
                               meta=meta, on_epoch=report)
            shutil.rmtree(out, ignore_errors=True)  # a killed trial keeps its folder, to resume from
        finally:
            lock.release()
        return result

    def observe(self, trial: Trial) -> None:
        """Replay a stored trial into the pruner (a resumed run), so later decisions match."""
        if self._pruner is None or trial.state == "infeasible":
            return
        history = [float(v) for v in trial.info.get("valid_history", ())]
        self._pruner.replay(history, failed=trial.state == "failed")


def outcome_of(result: Any) -> Evaluation:
    """A TrainResult as the search's metrics (what guides it) and info (what must not)."""
    acc = float(result.valid_accuracy)
    return Evaluation(
        {"valid_accuracy": acc, "score": acc, "epochs": float(result.epochs)},
        {"test_accuracy": result.test_accuracy, "pruned": bool(result.stopped_early),
         "valid_history": [float(h["valid_accuracy"]) for h in result.history],
         "train_seconds": float(result.train_seconds)})


@EVALUATORS.register("train", instantiate=True)
class TrainFactory(EvaluatorFactory):
    """``--evaluator train --data D --epochs N [--resize CxHxW] [--pruner sha|hyperband]``."""

    metric = "valid_accuracy"

    def check(self, config: SearchConfig) -> None:
        if not config.data:
            raise NasError("--evaluator train needs --data (e.g. --data mnist5k; see `nas train --help`)")
        if config.pruner not in PRUNERS:
            raise NasError(f"pruner {config.pruner!r} not allowed; allowed: {', '.join(PRUNERS)}")
        if config.pruner != "none" and config.epochs < 2:
            raise NasError(f"pruner {config.pruner!r} needs --epochs of at least 2, got {config.epochs}")
        self.train_config(config)

    @staticmethod
    def train_config(config: SearchConfig) -> dict[str, Any]:
        from nas.training.trainer import TrainConfig

        opts = dict(config.train_options)
        for k in ("epochs", "seed"):
            if k in opts:
                raise NasError(f"train option {k!r} is set by --{k}, not --train-option")
        return TrainConfig.from_json({**opts, "epochs": config.epochs, "seed": config.seed}).to_json()

    def space_settings(self, config: SearchConfig) -> Mapping[str, Any]:
        from nas.training.datasets import dataset_signature

        input_type, classes = dataset_signature(config.data, config.resize)
        text = f"{input_type.channels}x{input_type.height}x{input_type.width}"
        if config.input is not None and config.input.lower().replace(" ", "") != text:
            raise NasError(f"--input {config.input!r} differs from the data's {text} ({config.data}"
                           f"{', resized' if config.resize else ''}); use --resize CxHxW to resize the data")
        if config.num_classes is not None and config.num_classes != classes:
            raise NasError(f"--classes {config.num_classes} differs from {config.data}'s {classes} classes")
        return {"input": text, "num_classes": classes}

    def __call__(self, config: SearchConfig, ref: SpaceRef) -> TrainEvaluator:
        return TrainEvaluator(ref, config.data, config.resize, self.train_config(config), config.pruner)
