"""The search loop: ask → costs → (infeasible? record, never evaluate) → evaluate → store → tell.

Trials are numbered when asked and committed to the store as they finish. Searchers are told in
batches of ``batch_size``, in trial-number order, so the sequence of trials depends only on the seed
and the batch size, never on how many workers evaluate a batch or in which order they finish. A
resumed run replays the searcher against the stored trials (re-asking, never re-evaluating), so it
ends with exactly the trials of an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from nas.errors import NasError
from nas.hw_models.budget import Budget, BudgetGate
from nas.search.loop.evaluation import CachedCosts, CostFn, Evaluator, run_evaluator
from nas.search.names import TrialState
from nas.search.results.storage import MemoryStore, TrialStore
from nas.search.searchers.searcher import Searcher
from nas.search.trial import SearchResult, Trial
from nas.searchspace.architecture import Architecture

DONE = "done"
OnTrial = Callable[[Trial, bool], None]


@dataclass
class _Slot:
    number: int
    arch: Architecture
    trial: Trial | None = None


class SearchLoop:
    """The driver's state machine, shared by the serial loop and the Ray Tune adapter.

    ``next_job()`` gives ``(number, arch)`` to evaluate, ``None`` while the current batch waits for
    results, or ``DONE``; ``complete(number, outcome)`` records one evaluated job.
    """

    DONE: ClassVar[str] = DONE

    def __init__(self, searcher: Searcher, n_trials: int, *, costs: CostFn | None = None,
                 budgets: Sequence[Budget] = (), store: TrialStore | None = None, batch_size: int = 1,
                 on_trial: OnTrial | None = None, stop_after_failures: int | None = None) -> None:
        if n_trials < 0:
            raise NasError(f"number of trials must be >= 0, got {n_trials}")
        if batch_size < 1:
            raise NasError(f"batch size must be >= 1, got {batch_size}")
        self.searcher = searcher
        self.n_trials = n_trials
        self.costs = CachedCosts(costs) if costs is not None else None
        self.budgets = tuple(budgets)
        self.gate = BudgetGate(self.budgets)
        if self.budgets and self.costs is None:
            raise NasError("budgets need a cost function")
        self.store = store if store is not None else MemoryStore()
        self.stored = self.store.trials()
        self.batch_size = batch_size
        self.on_trial = on_trial
        self.next_number = 0
        self.batch: list[_Slot] = []
        self.queue: list[_Slot] = []
        self.trials: dict[int, Trial] = {}
        self.replayed = 0
        self.evaluated = 0
        self.stop_after_failures = stop_after_failures

    # -- one architecture ---------------------------------------------------------------------------
    def _costs(self, arch: Architecture) -> dict[str, float]:
        return self.costs(arch) if self.costs is not None else {}

    def _over_budget(self, costs: Mapping[str, float]) -> str:
        return str(self.gate.check(costs))

    def _replay(self, number: int, arch: Architecture) -> Trial | None:
        t = self.stored.get(number)
        if t is None:
            return None
        if t.arch != arch:
            raise NasError(
                f"cannot resume: stored trial {number} holds architecture {t.arch.digest()} but the searcher "
                f"now asks {arch.digest()}; the run's configuration or code changed since it was stored")
        self.replayed += 1
        return t

    def _finish(self, trial: Trial, replayed: bool) -> Trial:
        if not replayed:
            self.store.append(trial)
            self.evaluated += trial.complete or trial.state == TrialState.FAILED
            n = self.stop_after_failures
            if n and self.evaluated == n and all(t.state != TrialState.COMPLETE for t in self.trials.values()) \
                    and trial.state == TrialState.FAILED:
                raise NasError(f"the first {n} evaluated trials all failed, stopping; the first error: {trial.error}")
        self.trials[trial.number] = trial
        if self.on_trial is not None:
            self.on_trial(trial, replayed)
        return trial

    def _admit(self, number: int, arch: Architecture) -> Trial | None:
        """The stored trial, or an infeasible one, or None when ``arch`` must be evaluated."""
        old = self._replay(number, arch)
        if old is not None:
            return self._finish(old, True)
        try:
            costs = self._costs(arch)
        except NasError as e:  # the space proposed a network that does not resolve (a type error)
            return self._finish(Trial(number, arch, TrialState.FAILED, error=f"does not resolve: {e}"), False)
        reason = self._over_budget(costs) if self.budgets else ""
        if reason:
            return self._finish(Trial(number, arch, TrialState.INFEASIBLE, costs, error=f"over budget: {reason}"), False)
        return None

    def make_trial(self, number: int, arch: Architecture, outcome: Mapping[str, Any]) -> Trial:
        costs = self._costs(arch)
        metrics, error = dict(outcome["metrics"]), outcome["error"]
        values: list[float] = []
        if not error:
            for name in self.searcher.objectives:
                if name in metrics:
                    values.append(metrics[name])
                elif name in costs:
                    values.append(costs[name])
                else:
                    error = (f"objective {name!r} is neither an evaluator metric ({', '.join(sorted(metrics))}) "
                             f"nor a cost ({', '.join(sorted(costs))})")
                    break
        if error:
            return Trial(number, arch, TrialState.FAILED, costs, scores=metrics, duration_s=outcome["duration_s"],
                         error=error, info=outcome["info"])
        return Trial(number, arch, TrialState.COMPLETE, costs, tuple(values), metrics, outcome["duration_s"],
                     info=outcome["info"])

    # -- the batch state machine ------------------------------------------------------------------
    def next_job(self) -> tuple[int, Architecture] | str | None:
        while True:
            if self.queue:
                slot = self.queue.pop(0)
                return slot.number, slot.arch
            if any(s.trial is None for s in self.batch):
                return None
            for s in self.batch:
                self.searcher.tell(s.trial)
            self.batch = []
            if self.next_number >= self.n_trials:
                return DONE
            k = min(self.batch_size, self.n_trials - self.next_number)
            for _ in range(k):
                number, arch = self.next_number, self.searcher.ask()
                self.next_number += 1
                slot = _Slot(number, arch, self._admit(number, arch))
                self.batch.append(slot)
                if slot.trial is None:
                    self.queue.append(slot)

    def complete(self, number: int, outcome: Mapping[str, Any]) -> Trial:
        slot = next((s for s in self.batch if s.number == number), None)
        if slot is None or slot.trial is not None:
            raise NasError(f"trial {number} is not waiting for a result")
        slot.trial = self._finish(self.make_trial(number, slot.arch, outcome), False)
        return slot.trial

    # -- searchers that own their loop --------------------------------------------------------------
    def evaluate_now(self, evaluator: Evaluator) -> Callable[[Architecture], Trial]:
        def evaluate(arch: Architecture) -> Trial:
            if self.next_number >= self.n_trials:
                raise NasError(f"searcher {self.searcher.name!r} asked for more than {self.n_trials} trials")
            number = self.next_number
            self.next_number += 1
            t = self._admit(number, arch)
            if t is None:
                t = self._finish(self.make_trial(number, arch, run_evaluator(evaluator, arch)), False)
            return t

        return evaluate

    def result(self, config: Mapping[str, Any] | None = None) -> SearchResult:
        return SearchResult(self.trials.values(), self.searcher.objectives, self.searcher.directions, config)


def run_search(searcher: Searcher, evaluator: Evaluator, n_trials: int, *, costs: CostFn | None = None,
               budgets: Sequence[Budget] = (), store: TrialStore | None = None, batch_size: int = 1,
               workers: int = 1, ray_address: str | None = None, on_trial: OnTrial | None = None,
               config: Mapping[str, Any] | None = None, ray_storage: str | None = None,
               stop_after_failures: int | None = None) -> SearchResult:
    """Run (or resume, when ``store`` holds trials) a search of ``n_trials`` trials.

    ``stop_after_failures=n`` raises a NasError when the first ``n`` evaluated trials all failed (a score
    that cannot handle the space fails every trial). ``workers > 1`` or a ``ray_address`` evaluates each batch's architectures on Ray Tune; the trials
    are the same as the serial run's with the same seed and ``batch_size``.
    """
    loop = SearchLoop(searcher, n_trials, costs=costs, budgets=budgets, store=store, batch_size=batch_size,
                      on_trial=on_trial, stop_after_failures=stop_after_failures)
    if searcher.owns_loop:
        if workers > 1 or ray_address:
            raise NasError(f"searcher {searcher.name!r} runs its own loop; it cannot use --workers/--ray-address")
        searcher.run(loop.evaluate_now(evaluator), n_trials - loop.next_number)
        return loop.result(config)
    if workers > 1 or ray_address:
        from nas.search.loop.distributed import run_on_ray_tune

        run_on_ray_tune(loop, evaluator, workers=workers, address=ray_address, storage_path=ray_storage)
    else:
        while True:
            job = loop.next_job()
            if job == DONE:
                break
            if job is None:  # cannot happen serially: every queued job completes before the next call
                raise RuntimeError("serial loop waiting on nothing")
            number, arch = job
            loop.complete(number, run_evaluator(evaluator, arch))
    return loop.result(config)
