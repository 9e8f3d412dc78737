"""Multi-fidelity early stopping over epochs: the rung ladder and Optuna's successive-halving or
Hyperband pruner that decides, epoch by epoch, whether a trained trial goes on. Ray Tune's ASHA uses the
same ladder when a search runs on several workers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

PRUNERS = ("none", "sha", "hyperband")
"""``--pruner`` choices: no early stopping, successive halving, Hyperband."""
REDUCTION_FACTOR = 3


def first_rung(epochs: int) -> int:
    """Epochs a trial trains before the first pruning decision: ``epochs / η²`` (at least 1), so with the
    reduction factor η = 3 the rungs are the geometric ladder E/9, E/3, E of Hyperband's largest bracket
    and ASHA (1, 3, 9 at 9 epochs). Measurements: docs/training.md (multi-fidelity)."""
    return max(1, round(epochs / REDUCTION_FACTOR**2))


EpochReport = Callable[[int, Mapping[str, float]], bool]


@dataclass
class EpochPruner:
    """Optuna's successive-halving or Hyperband pruner over epochs, in an in-memory study.

    Contract: every evaluated trial (trained, pruned or failed) opens one Optuna trial, in trial order,
    whether it is trained now (``start``) or replayed from storage (``replay``), so the pruner's
    decisions depend only on the trials before it.
    """

    kind: str
    max_epochs: int
    min_epochs: int = 1

    @cached_property
    def study(self) -> Any:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if self.kind == "sha":
            pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=self.min_epochs,
                                                            reduction_factor=REDUCTION_FACTOR)
        else:
            pruner = optuna.pruners.HyperbandPruner(min_resource=self.min_epochs, max_resource=self.max_epochs,
                                                    reduction_factor=REDUCTION_FACTOR)
        # a fixed name: Hyperband assigns brackets by hashing the study name and the trial number
        return optuna.create_study(study_name="nas-epoch-pruner", direction="maximize", pruner=pruner,
                                   sampler=optuna.samplers.RandomSampler(seed=0))

    def start(self) -> Any:
        return self.study.ask()

    @staticmethod
    def report(ot: Any, epoch: int, value: float) -> bool:
        ot.report(value, epoch)
        return bool(ot.should_prune())

    def finish(self, ot: Any, value: float | None, pruned: bool) -> None:
        from optuna.trial import TrialState

        if value is None:
            self.study.tell(ot, state=TrialState.FAIL)
        elif pruned:
            self.study.tell(ot, state=TrialState.PRUNED)
        else:
            self.study.tell(ot, value)

    def replay(self, history: list[float], failed: bool) -> None:
        ot = self.start()
        pruned = False
        for epoch, value in enumerate(history, 1):
            pruned = self.report(ot, epoch, value)
            if pruned:
                break
        self.finish(ot, None if failed or not history else history[-1], pruned and len(history) < self.max_epochs)
