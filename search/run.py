"""One ``nas search`` run from a SearchConfig: plan, durable storage, resume, and the run folder."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.hw_models.budget import Budget
from nas.search.config import SearchConfig
from nas.search.driver import OnTrial, run_search
from nas.search.evaluation import CachedCosts, budget_violation
from nas.search.feasibility import check_budgets
from nas.search.registry import make_searcher
from nas.search.searcher import Searcher
from nas.search.space_eval import ScoreEvaluator, SpaceCosts, SpaceRef, targets_available
from nas.search.storage import OptunaStore, TrialStore, sqlite_url
from nas.search.trial import SearchResult

COST_METRICS = ("flops", "params", "latency_ms")
_ALIASES = {"latency": "latency_ms", "macs": "flops", "accuracy": "score"}
_DIRS = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}


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
        dirs.append(_DIRS[d.strip()] if d else ("minimize" if name in COST_METRICS else "maximize"))
    return tuple(names), tuple(dirs)


@dataclass
class Plan:
    """What a config resolves to: the space, costs, evaluator, objectives, budgets, and notes for the user."""

    config: SearchConfig
    ref: SpaceRef
    costs: CachedCosts
    evaluator: ScoreEvaluator
    budgets: tuple[Budget, ...]
    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    notes: list[str]
    target_model: str | None

    def searcher(self, out_dir: Path | None = None) -> Searcher:
        from nas.search.registry import SEARCHERS

        cls = SEARCHERS.get(self.config.strategy)
        # searchers that design under the budgets themselves (deepmad) get them as numbers
        extra = ({"budgets": self.budgets, "target": self.config.target}
                 if getattr(cls, "needs_budgets", False) else {})
        if getattr(cls, "needs_data", False):  # differentiable search: --data/--epochs, checkpoints in the run folder
            opts = self.config.strategy_options
            for key in ("data", "epochs"):
                if getattr(self.config, key, None) is not None and key not in opts:
                    extra[key] = getattr(self.config, key)
            if out_dir is not None:
                extra["checkpoint_dir"] = str(out_dir)
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
        d["score_description"] = self.evaluator.describe()
        d["latency_model"] = self.target_model
        return d


def plan(config: SearchConfig) -> Plan:
    """Check a config and resolve its defaults (one-line NasError on anything wrong)."""
    from nas.predictors.score import SCORES
    from nas.search.registry import SEARCHERS

    notes: list[str] = []
    searcher_cls = SEARCHERS.get(config.strategy)
    ref = SpaceRef(config.space, config.input, config.num_classes)
    ref.space  # noqa: B018 - builds (and checks) the space now
    if config.score == "auto":
        from dataclasses import replace

        config = replace(config, score=default_score(ref))
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
        objectives, directions = ("score",), ("maximize",)
    wants_latency = "latency_ms" in objectives or any(b.metric == "latency_ms" for b in budgets)
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
        objectives = ("score", "latency_ms", "flops") if target else ("score", "flops")
        directions = ("maximize", "minimize", "minimize") if target else ("maximize", "minimize")
    costs = CachedCosts(SpaceCosts(ref, target))
    target_model = None
    if target:
        from nas.search.space_eval import load_target

        target_model = str(load_target(target).describe())
    evaluator = ScoreEvaluator(ref, config.score, config.score_options)
    return Plan(config, ref, costs, evaluator, budgets, objectives, directions, notes, target_model)


def default_score(ref: SpaceRef) -> str:
    """``deepmad`` when it scores a sample of the space (it has a rule for its ops), else ``synflow``."""
    from nas.predictors.score import SCORES

    try:
        SCORES.get("deepmad")()(ref.space.resolve(ref.space.sample(np.random.default_rng(0))))
    except NasError:
        return "synflow"
    return "deepmad"


def default_out(config: SearchConfig) -> Path:
    return Path("runs") / f"search-{config.space}-{config.strategy}-seed{config.seed}"


def open_store(config: SearchConfig, p: Plan, out: Path, resume: bool) -> tuple[TrialStore, str]:
    """The run's durable store; a new run refuses a store that already holds trials."""
    url = config.storage or sqlite_url(out / "study.db")
    study = config.study or out.name
    store = OptunaStore(url, study, p.directions, create=not resume or config.storage is None)
    stored_cfg = store.config()
    have = store.trials()
    if resume:
        if stored_cfg is None and not have:
            raise NasError(f"nothing to resume: study {study!r} in {url} holds no trials")
        if stored_cfg is not None:
            diff = p.config.differences(stored_cfg)
            if diff:
                raise NasError(f"cannot resume with a different configuration: {'; '.join(diff)}")
    elif have:
        raise NasError(f"study {study!r} in {url} already holds {len(have)} trials; pass --resume to continue "
                       "it or --out/--study for a new run")
    store.set_config(p.config.to_json())
    return store, url


def search(config: SearchConfig, out: str | os.PathLike[str] | None = None, *, resume: bool = False,
           on_trial: OnTrial | None = None, log: Callable[[str], None] | None = None) -> tuple[SearchResult, Plan, Path]:
    """Run or resume the search that ``config`` defines; write the run folder; return the result."""
    from nas.search.report import write_run_folder

    log = log or (lambda msg: print(msg, file=sys.stderr))
    p = plan(config)
    out_dir = Path(out) if out is not None else default_out(config)
    if not resume and config.storage is None and (out_dir / "study.db").exists():
        raise NasError(f"run folder {str(out_dir)!r} already holds a search; pass --resume or another --out")
    for note in p.notes:
        log(f"note: {note}")
    for b in p.budgets:
        log(f"budget {b}: {b.describe()}")
    from nas.search.registry import SEARCHERS

    cls = SEARCHERS.get(config.strategy)
    if not getattr(cls, "checks_feasibility", getattr(cls, "needs_budgets", False)):  # deepmad checks it itself
        check_budgets(p.ref.space, p.budgets, p.costs, np.random.default_rng(config.seed))
    searcher = p.searcher(out_dir)  # bad searcher options fail here, before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(p.resolved(), indent=2) + "\n")
    store, url = open_store(config, p, out_dir, resume)
    result = run_search(searcher, p.evaluator, config.trials, costs=p.costs, budgets=p.budgets, store=store,
                        batch_size=config.batch_size, workers=config.workers, ray_address=config.ray_address,
                        on_trial=on_trial, config=p.resolved(), ray_storage=None,
                        stop_after_failures=min(8, config.trials))
    write_run_folder(out_dir, result, p, storage_url=url)
    return result, p, out_dir
