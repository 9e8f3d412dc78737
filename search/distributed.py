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
from nas.search.evaluation import Evaluator, run_evaluator
from nas.searchspace.architecture import Architecture


def _trainable(config: dict[str, Any], evaluator: Evaluator) -> dict[str, Any]:
    outcome = run_evaluator(evaluator, Architecture.from_json(config["arch"]))
    return {"nas_outcome": json.dumps(outcome)}


def run_on_ray_tune(loop, evaluator: Evaluator, *, workers: int = 1, address: str | None = None,
                    storage_path: str | None = None) -> None:
    """Evaluate every job of ``loop`` on Ray Tune with at most ``workers`` trials at once."""
    import os

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    import ray
    from ray import tune
    from ray.tune.search import Searcher as TuneSearcher

    from nas.search.driver import DONE

    if workers < 1:
        raise NasError(f"--workers must be at least 1, got {workers}")

    class LoopSearcher(TuneSearcher):
        def __init__(self) -> None:
            super().__init__(metric="nas_outcome", mode="max")
            self.numbers: dict[str, int] = {}

        def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
            job = loop.next_job()
            if job == DONE:
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
            tuner = tune.Tuner(
                tune.with_resources(tune.with_parameters(_trainable, evaluator=evaluator), {"cpu": 1}),
                tune_config=tune.TuneConfig(search_alg=LoopSearcher(), num_samples=-1,
                                            max_concurrent_trials=workers, reuse_actors=True),
                run_config=tune.RunConfig(name="nas", storage_path=storage_path or tmp, verbose=0,
                                          log_to_file=False),
            )
            tuner.fit()
    finally:
        if started:
            ray.shutdown()
    if loop.next_job() != DONE:
        raise NasError("Ray Tune stopped before the search finished; rerun with --resume to continue")
