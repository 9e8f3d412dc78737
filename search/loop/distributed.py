"""Distributed evaluation on Ray Tune: local Ray with N workers, or a cluster by address.

Ray Tune drives the trials; our ``SearchLoop`` is wrapped as a Tune ``Searcher`` that hands out a
batch's architectures and holds back (returns None) until the whole batch is in, then tells the
searcher in trial-number order. So a deterministic evaluator gives the serial run's trials.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from typing import Any

from nas.errors import NasError
from nas.search.loop.evaluation import Evaluator, run_evaluator
from nas.searchspace.architecture import Architecture


def _trainable(config: dict[str, Any], evaluator: Evaluator) -> dict[str, Any]:
    arch = Architecture.from_json(config["arch"])
    if _epoch_scheduled(evaluator):
        return _trainable_by_epoch(arch, evaluator)
    outcome = run_evaluator(evaluator, arch)
    return {"nas_outcome": json.dumps(outcome)}


def _epoch_scheduled(evaluator: Evaluator) -> bool:
    """A trained evaluator with a pruner: Ray Tune's ASHA scheduler stops trials between epochs."""
    return getattr(evaluator, "pruner", "none") != "none" and hasattr(evaluator, "evaluate")


def _trainable_by_epoch(arch: Architecture, evaluator: Any) -> dict[str, Any]:
    """Report every epoch but the last to Tune (with the outcome so far, in case ASHA stops the trial
    there); the last epoch's full outcome is the return value."""
    import time

    from ray import tune

    from nas.search.loop.evaluation import Evaluation
    from nas.searchspace.hparams import HParams

    start = time.perf_counter()
    history: list[float] = []
    max_epochs = evaluator.config.epochs

    def on_epoch(epoch: int, metrics: Any) -> bool:
        history.append(float(metrics["valid_accuracy"]))
        if epoch < max_epochs:
            partial = Evaluation({"valid_accuracy": history[-1], "score": history[-1], "epochs": float(epoch)},
                                 {"test_accuracy": None, "pruned": True, "valid_history": list(history),
                                  "train_seconds": time.perf_counter() - start})
            outcome = {"metrics": dict(partial.metrics), "info": HParams(partial.info).to_json(), "error": "",
                       "duration_s": time.perf_counter() - start}
            tune.report({"valid_accuracy": history[-1], "nas_outcome": json.dumps(outcome)})
        return False

    try:
        ev = evaluator.evaluate(arch, on_epoch=on_epoch)
        outcome = {"metrics": dict(ev.metrics), "info": HParams(ev.info).to_json(), "error": ""}
    except Exception as e:  # noqa: BLE001 - the evaluator's failure is the trial's result
        outcome = {"metrics": {}, "info": {}, "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    outcome["duration_s"] = time.perf_counter() - start
    return {"valid_accuracy": outcome["metrics"].get("valid_accuracy", 0.0), "nas_outcome": json.dumps(outcome)}


def run_on_ray_tune(loop, evaluator: Evaluator, *, workers: int = 1, address: str | None = None,
                    storage_path: str | None = None) -> None:
    """Evaluate every job of ``loop`` on Ray Tune with at most ``workers`` trials at once."""
    import os

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    import ray
    from ray import tune
    from ray.tune.search import Searcher as TuneSearcher

    if workers < 1:
        raise NasError(f"--workers must be at least 1, got {workers}")

    class LoopSearcher(TuneSearcher):
        def __init__(self) -> None:
            super().__init__(metric="nas_outcome", mode="max")
            self.numbers: dict[str, int] = {}

        def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
            job = loop.next_job()
            if job == loop.DONE:
                return TuneSearcher.FINISHED
            if job is None:
                return None
            number, arch = job
            self.numbers[trial_id] = number
            return {"number": number, "arch": arch.to_json()}

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            number = self.numbers.pop(trial_id)
            if error or not result or "nas_outcome" not in result:
                outcome = {"metrics": {}, "info": {}, "error": "ray worker error", "duration_s": 0.0}
            else:
                outcome = json.loads(result["nas_outcome"])
            loop.complete(number, outcome)

        def save(self, checkpoint_path: str) -> None:  # durability lives in our trial store
            pass

        def restore(self, checkpoint_path: str) -> None:
            pass

    started = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level="error")
            else:
                ray.init(num_cpus=workers, log_to_driver=False, logging_level="error", include_dashboard=False)
        except Exception as e:  # noqa: BLE001 - Ray start-up errors become one line
            raise NasError(f"cannot start Ray{' at ' + address if address else ''}: "
                           f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
        started = True
    try:
        with tempfile.TemporaryDirectory(prefix="nas-ray-") as tmp, contextlib.redirect_stdout(sys.stderr):
            scheduler = None
            if _epoch_scheduled(evaluator):
                from ray.tune.schedulers import ASHAScheduler

                from nas.search.loop.pruning import REDUCTION_FACTOR, first_rung

                scheduler = ASHAScheduler(time_attr="training_iteration", metric="valid_accuracy", mode="max",
                                          max_t=evaluator.config.epochs, grace_period=first_rung(evaluator.config.epochs),
                                          reduction_factor=REDUCTION_FACTOR,
                                          brackets=3 if evaluator.pruner == "hyperband" else 1)
            tuner = tune.Tuner(
                tune.with_resources(tune.with_parameters(_trainable, evaluator=evaluator), {"cpu": 1}),
                tune_config=tune.TuneConfig(search_alg=LoopSearcher(), num_samples=-1, scheduler=scheduler,
                                            max_concurrent_trials=workers, reuse_actors=True),
                run_config=tune.RunConfig(name="nas", storage_path=storage_path or tmp, verbose=0,
                                          log_to_file=False),
            )
            tuner.fit()
    finally:
        if started:
            ray.shutdown()
    if loop.next_job() != loop.DONE:
        raise NasError("Ray Tune stopped before the search finished; rerun with --resume to continue")
