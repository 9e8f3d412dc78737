"""One ``nas search`` run from a SearchConfig: plan, durable storage, resume, and the run folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.hw_models.budget import Budget
from nas.predictors.score_choice import auto_score, auto_score_source
from nas.search.app.config import SearchConfig
from nas.search.app.result import RunResult
from nas.search.app.space_eval import ScoreEvaluator, SpaceCosts
from nas.search.loop.driver import OnTrial, run_search
from nas.search.loop.evaluation import CachedCosts, Evaluator, budget_violation
from nas.search.loop.feasibility import check_budgets
from nas.search.names import COST_METRICS, Direction, Metric
from nas.search.results.storage import OptunaStore, TrialStore, sqlite_url
from nas.search.searchers.registry import make_searcher
from nas.search.searchers.searcher import Searcher
from nas.search.space_ref import SpaceRef, settings_of, targets_available

_ALIASES = {"latency": Metric.LATENCY_MS, "macs": Metric.FLOPS, "accuracy": Metric.SCORE}
_DIRS = {"max": Direction.MAXIMIZE, "maximize": Direction.MAXIMIZE, "min": Direction.MINIMIZE,
         "minimize": Direction.MINIMIZE}


def parse_objectives(text: str | Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"score,latency_ms:min,flops"`` → names and directions. Costs default to minimise, others to
    maximise; ``latency``/``macs`` are aliases of ``latency_ms``/``flops``."""
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    if not items:
        raise NasError("--objectives needs at least one name, e.g. score,latency_ms")
    names, dirs = [], []
    for item in items:
        name, _, d = item.partition(":")
        name = _ALIASES.get(name.strip(), name.strip())
        if d and d.strip() not in _DIRS:
            raise NasError(f"objective {item!r}: direction {d!r} not allowed; allowed: max, min")
        names.append(name)
        dirs.append(_DIRS[d.strip()] if d else (Direction.MINIMIZE if name in COST_METRICS else Direction.MAXIMIZE))
    return tuple(names), tuple(dirs)


@dataclass
class Plan:
    """What a config resolves to: the space, costs, evaluator, objectives, budgets, and notes for the user."""

    config: SearchConfig
    ref: SpaceRef
    costs: CachedCosts
    evaluator: Evaluator
    budgets: tuple[Budget, ...]
    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    notes: list[str]
    target_model: str | None

    def searcher(self, out_dir: Path | None = None, resume: bool = False) -> Searcher:
        from nas.search.searchers.registry import SEARCHERS

        cls = SEARCHERS.get(self.config.strategy)
        # searchers that design under the budgets themselves (deepmad) get them as numbers
        extra = ({"budgets": self.budgets, "target": self.config.target}
                 if getattr(cls, "needs_budgets", False) else {})
        if getattr(cls, "needs_data", False):  # differentiable search: --data/--epochs, checkpoints in the run folder
            opts = self.config.strategy_options
            for key, opt in (("data", "data"), ("epochs", "epochs"), ("resize", "search_input")):
                if getattr(self.config, key, None) is not None and opt not in opts:
                    extra[opt] = getattr(self.config, key)
            if out_dir is not None:
                extra.update(checkpoint_dir=str(out_dir), resume=resume)
        return make_searcher(self.config.strategy, self.ref.space, np.random.default_rng(self.config.seed),
                             objectives=self.objectives, directions=self.directions,
                             constraint=budget_violation(self.budgets, self.costs) if self.budgets else None,
                             **extra, **self.config.strategy_options)

    def resolved(self) -> dict[str, Any]:
        d = self.config.to_json()
        d.update(objectives=list(self.objectives), directions=list(self.directions),
                 budgets=[b.text for b in self.budgets])
        d["space_config"] = self.ref.space.config()
        d["budgets_read_as"] = [b.describe() for b in self.budgets]
        d["score_description"] = str(getattr(self.evaluator, "describe", lambda: type(self.evaluator).__name__)())
        d["latency_model"] = self.target_model
        return d


def plan(config: SearchConfig) -> Plan:
    """Check a config and resolve its defaults (one-line NasError on anything wrong)."""
    from dataclasses import replace

    from nas.predictors.score import SCORES
    from nas.search.app.evaluators import EVALUATORS
    from nas.search.searchers.registry import SEARCHERS

    notes: list[str] = []
    searcher_cls = SEARCHERS.get(config.strategy)
    factory = EVALUATORS.get(config.evaluator)
    factory.check(config)
    settings = factory.space_settings(config)  # a dataset fixes the space's input and classes
    if settings:
        config = replace(config, **settings)
    ref = SpaceRef(config.space, config.input, config.num_classes, settings_of(config.space_options))
    ref.space  # noqa: B018 - builds (and checks) the space now
    if factory.uses_score:
        if config.score == "auto" and config.strategy == "deepmad":
            config = replace(config, score="deepmad")  # its trials report the score it designs for
        elif config.score == "auto":
            config = replace(config, score=default_score(ref))
            notes.append(f"--score auto: {config.score} for space {config.space!r} ({auto_score_source(ref.space)})")
        SCORES.get(config.score)
    budgets = tuple(Budget.parse(b) for b in config.budgets)
    target = config.target
    if config.objectives:
        objectives, directions = parse_objectives(list(config.objectives))
        if config.directions:
            if len(config.directions) != len(objectives):
                raise NasError(f"{len(objectives)} objectives but {len(config.directions)} directions")
            directions = tuple(config.directions)
    else:
        objectives, directions = (factory.metric,), (Direction.MAXIMIZE,)
    wants_latency = Metric.LATENCY_MS in objectives or any(b.metric == Metric.LATENCY_MS for b in budgets)
    if target and not targets_available():
        if wants_latency:
            raise NasError(f"latency targets are not available in this install; cannot use target {target!r}")
        notes.append(f"latency targets are not available in this install: target {target!r} ignored, "
                     "no latency column")
        target = None
    if wants_latency and not target:
        raise NasError("a latency objective or budget needs --target (e.g. --target gpu)")
    if not config.objectives and not getattr(searcher_cls, "multi_objective", True):
        notes.append(f"searcher {config.strategy!r} optimises one objective, the score; the reported front "
                     "is over its trials' score and costs")
    elif not config.objectives:
        objectives = (factory.metric, Metric.LATENCY_MS, Metric.FLOPS) if target else (factory.metric, Metric.FLOPS)
        directions = (Direction.MAXIMIZE, Direction.MINIMIZE, Direction.MINIMIZE)[:len(objectives)]
    costs = CachedCosts(SpaceCosts(ref, target))
    target_model = None
    if target:
        from nas.search.space_ref import load_target

        target_model = str(load_target(target).describe())
    evaluator = factory(config, ref)
    return Plan(config, ref, costs, evaluator, budgets, objectives, directions, notes, target_model)


def default_score(ref: SpaceRef) -> str:
    return auto_score(ref.space)


def default_out(config: SearchConfig) -> Path:
    return Path("runs") / f"search-{config.space}-{config.strategy}-seed{config.seed}"


def open_store(config: SearchConfig, p: Plan, out: Path, resume: bool,
               created: dict[str, Any] | None = None) -> tuple[TrialStore, str]:
    """The run's durable store; a new run refuses a store that already holds trials; a resume finds its
    study by the folder's content (see ``run_folder.resume_study``). What a new run creates (the
    ``study.db`` file, the study) is noted in ``created`` so a failed run can take it back."""
    from nas.search.results import run_folder

    created = {} if created is None else created
    default_storage = config.storage is None
    url = config.storage or sqlite_url(out / run_folder.DB_NAME)
    with run_folder.storage_errors(url):
        if resume:
            study = config.study or run_folder.resume_study(out, url, default_storage)
        else:
            study = config.study or out.name
            db_exists = (out / run_folder.DB_NAME).exists()
            if default_storage and db_exists:
                run_folder.clear_empty_studies(out, url)
            before = run_folder.studies(url) if not default_storage or db_exists else {}
            if before.get(study):
                raise NasError(f"study {study!r} in {url} already holds {before[study]} trials; pass --resume to "
                               "continue it or --out/--study for a new run")
            created.update(url=url, study=study if study not in before else None,
                           db=default_storage and not db_exists)
        store = OptunaStore(url, study, p.directions, create=not resume,
                            objectives=p.objectives, space=p.ref.space)
        stored_cfg = store.config()
        have = store.trials()
    if resume:
        # a study with neither config nor trials is a run killed as it started: resuming it starts it
        if stored_cfg is not None:
            diff = p.config.differences(stored_cfg)
            if diff:
                raise NasError(f"cannot resume with a different configuration: {'; '.join(diff)}")
    elif have:
        raise NasError(f"study {study!r} in {url} already holds {len(have)} trials; pass --resume to continue "
                       "it or --out/--study for a new run")
    store.set_config(p.config.to_json())
    return store, url


def make_searcher_checked(p: Plan, out_dir: Path | None = None, resume: bool = False) -> Searcher:
    """``p.searcher(out_dir, resume)``, with a bad searcher option (``--option population=abc``) as a one-line NasError."""
    try:
        return p.searcher(out_dir, resume)
    except NasError:
        raise
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        opts = ", ".join(f"{k}={v!r}" for k, v in p.config.strategy_options.items()) or "none"
        raise NasError(f"searcher {p.config.strategy!r} rejects its options ({opts}): "
                       f"{(str(e).splitlines() or [type(e).__name__])[0]}") from None


def check_objectives(p: Plan) -> None:
    """Each objective must be a metric of the score evaluator or a cost: checked on one sampled
    architecture before any trial, so a misspelled objective never starts a run."""
    if not isinstance(p.evaluator, ScoreEvaluator):
        return  # other evaluators' metrics are known only once they run
    try:
        costs = p.costs(p.ref.space.sample(np.random.default_rng(p.config.seed)))
    except NasError:
        return
    known = {Metric.SCORE, p.evaluator.score, *costs}
    bad = [o for o in p.objectives if o not in known]
    if bad:
        raise NasError(f"unknown objective(s) {', '.join(map(repr, bad))}; allowed: {', '.join(sorted(known))}")


def check_score_memory(p: Plan) -> None:
    """A score that runs the network (synflow; not DeepMAD's closed form) at an absurd ``--input`` is
    refused before any trial: one sampled network's fp64 weights, gradients and activations must fit."""
    if not isinstance(p.evaluator, ScoreEvaluator) or p.evaluator.score == "deepmad":
        return
    from nas.hw_models.analytic import analytic_costs
    from nas.memory import require

    try:
        spec = p.ref.resolve(p.ref.space.sample(np.random.default_rng(p.config.seed)))
    except NasError:
        return
    c = analytic_costs(spec)
    require(8 * (2 * c.params + spec.input.numel + 2 * c.activations),
            f"score {p.evaluator.score!r} on a {p.ref.space.name} network at {spec.input}", "use a smaller --input")


def search(config: SearchConfig, out: str | os.PathLike[str] | None = None, *, resume: bool = False,
           on_trial: OnTrial | None = None, log: Callable[[str], None] | None = None) -> RunResult:
    """Run or resume the search that ``config`` defines; write the run folder; return what it found
    (``RunResult``: the front as records, trial counts, run folder, every trial in ``.result``).

    Every check runs before anything is written. The run folder is locked while the search writes it
    (a second writer gets a one-line error naming the holder); ``config.json`` is written once the
    store accepted the run; a new run that fails before its first complete trial leaves no study
    behind; ``archs/`` holds the current front only.
    """
    from nas.io import write_json_atomic
    from nas.lock import FolderLock
    from nas.search.results import run_folder
    from nas.search.results.report import write_run_folder
    from nas.search.searchers.registry import SEARCHERS

    log = log or (lambda msg: print(msg, file=sys.stderr))
    p = plan(config)
    out_dir = run_folder.check_out_dir(out if out is not None else default_out(config))
    if resume and config.storage is None:
        run_folder.check_resumable(out_dir)
    searcher = make_searcher_checked(p, out_dir, resume)
    check_objectives(p)
    check_score_memory(p)
    cls = SEARCHERS.get(config.strategy)
    if not getattr(cls, "checks_feasibility", getattr(cls, "needs_budgets", False)):  # deepmad checks it itself
        check_budgets(p.ref.space, p.budgets, p.costs, np.random.default_rng(config.seed))
    existed = out_dir.exists()
    observe = getattr(p.evaluator, "observe", None)  # a stateful evaluator (a pruner) replays stored trials
    use_folder = getattr(p.evaluator, "use_run_folder", None)  # a trained evaluator keeps epoch checkpoints there
    if use_folder is not None:
        use_folder(out_dir)

    def on_trial_observed(trial, replayed: bool) -> None:
        if replayed and observe is not None:
            observe(trial)
        if on_trial is not None:
            on_trial(trial, replayed)

    created: dict[str, Any] = {}
    with FolderLock(out_dir):
        try:
            store, url = open_store(config, p, out_dir, resume, created)
            resolved = p.resolved()
            resolved["study_name"] = store.study_name if isinstance(store, OptunaStore) else None
            created["config"] = not resume
            write_json_atomic(out_dir / "config.json", resolved, indent=2)
            for note in p.notes:
                log(f"note: {note}")
            for b in p.budgets:
                log(f"budget {b}: {b.describe()}")
            result = run_search(searcher, p.evaluator, config.trials, costs=p.costs, budgets=p.budgets,
                                store=store, batch_size=config.batch_size, workers=config.workers,
                                ray_address=config.ray_address, on_trial=on_trial_observed, config=p.resolved(),
                                ray_storage=None, stop_after_failures=min(8, config.trials))
        except BaseException:
            if not resume and not _any_complete(created):
                run_folder.take_back(out_dir, created)
                _clear_evaluator_files(p.evaluator)
                if not existed:
                    run_folder.remove_if_only_lock(out_dir)
            raise
        _clear_evaluator_files(p.evaluator)  # every trial ended: nothing left to resume
        front = write_run_folder(out_dir, result, config=p.resolved(), arch_config=p.ref.arch_config(),
                                 latency=bool(p.target_model))
        run_folder.prune(out_dir, [r.arch_path for r in front.records])
    return RunResult.of(result, front, out_dir, config=p.config, objectives=tuple(p.objectives),
                        directions=tuple(p.directions), budgets=tuple(p.budgets), target_model=p.target_model,
                        score_description=p.resolved()["score_description"], notes=tuple(p.notes))


def _clear_evaluator_files(evaluator: Any) -> None:
    clear = getattr(evaluator, "clear_run_folder", None)
    if clear is not None:
        clear()


def _any_complete(created: dict[str, Any]) -> bool:
    """Whether the study a new run created holds a complete trial (then it is kept, to be resumed)."""
    from nas.search.results import run_folder

    url, study = created.get("url"), created.get("study")
    if not url or not (study or created.get("db")):
        return False
    try:
        import optuna
        from optuna.trial import TrialState

        with run_folder.storage_errors(url):
            name = study or next(iter(run_folder.studies(url)), None)
            if name is None:
                return False
            s = optuna.load_study(study_name=name, storage=url)
            return bool(s.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    except (NasError, KeyError):
        return False
