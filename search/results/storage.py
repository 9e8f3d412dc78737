"""Durable trial storage: Optuna's RDB storage (SQLite by default, any SQLAlchemy URL), or memory.

Each finished trial is committed as it arrives, so a killed search loses no finished trial.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.errors import NasError
from nas.search.names import TrialState as State
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture
from nas.searchspace.space import Dimension, SearchSpace

_ATTR = "nas_trial"
_CONFIG = "nas_config"


class TrialStore(ABC):
    """Where a search's trials live. Contract: ``append`` is durable when it returns; ``trials()``
    returns every appended trial by number; ``config()`` is the run configuration saved by
    ``set_config`` (None for a new store)."""

    @abstractmethod
    def append(self, trial: Trial) -> None: ...

    @abstractmethod
    def trials(self) -> dict[int, Trial]: ...

    @abstractmethod
    def config(self) -> dict[str, Any] | None: ...

    @abstractmethod
    def set_config(self, config: Mapping[str, Any]) -> None: ...

    def describe(self) -> str:
        return type(self).__name__


class MemoryStore(TrialStore):
    """Trials in memory only (benchmarks, tests): nothing survives the process."""

    def __init__(self) -> None:
        self._trials: dict[int, Trial] = {}
        self._config: dict[str, Any] | None = None

    def append(self, trial: Trial) -> None:
        if trial.number in self._trials:
            raise NasError(f"trial {trial.number} is stored already")
        self._trials[trial.number] = trial

    def trials(self) -> dict[int, Trial]:
        return dict(self._trials)

    def config(self) -> dict[str, Any] | None:
        return None if self._config is None else dict(self._config)

    def set_config(self, config: Mapping[str, Any]) -> None:
        self._config = dict(config)

    def describe(self) -> str:
        return "memory (not durable)"


def sqlite_url(path: str | os.PathLike[str]) -> str:
    return f"sqlite:///{Path(path).resolve()}"


class OptunaStore(TrialStore):
    """One Optuna study in RDB storage per search.

    Each of our trials becomes one Optuna trial added with ``study.add_trial``: state COMPLETE with the
    objective values, PRUNED for an infeasible candidate (never evaluated), FAIL for a failed one; our
    full trial record (number, architecture JSON, costs, scores) is its ``nas_trial`` user attribute.
    The run configuration is a study user attribute.

    So that Optuna's own tools (optuna-dashboard, ``optuna.visualization``) read a run: given the
    ``space``, each trial's genes are its parameters with the distributions of ``gene_distributions``;
    given the ``objectives``, they are the study's metric names.
    """

    def __init__(self, url: str, study_name: str, directions: Sequence[str], *, create: bool = True,
                 objectives: Sequence[str] | None = None, space: SearchSpace | None = None) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.url, self.study_name = url, study_name
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
        except Exception as e:  # noqa: BLE001 - bad URL, missing driver, unreachable server
            raise NasError(f"cannot open storage {url!r}: {type(e).__name__}: {str(e).splitlines()[0]}") from None
        names = {s.study_name for s in optuna.study.get_all_study_summaries(storage)}
        if study_name not in names and not create:
            raise NasError(f"no study {study_name!r} in {url!r}; studies there: {sorted(names) or 'none'}")
        self.study = optuna.create_study(storage=storage, study_name=study_name,
                                         directions=list(directions), load_if_exists=True)
        have = [d.name.lower() for d in self.study.directions]
        if have != list(directions):
            raise NasError(f"study {study_name!r} in {url!r} has directions {have}, not {list(directions)}")
        self.space = space
        self.distributions = gene_distributions(space) if space is not None else {}
        if objectives is not None:
            if len(objectives) != len(have):
                raise NasError(f"{len(objectives)} objective names {list(objectives)} for {len(have)} directions")
            import warnings

            with warnings.catch_warnings():  # set_metric_names is experimental in Optuna 3.x/4.x
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self.study.set_metric_names(list(objectives))

    def append(self, trial: Trial) -> None:
        import optuna
        from optuna.trial import TrialState

        state = {State.COMPLETE: TrialState.COMPLETE, State.INFEASIBLE: TrialState.PRUNED,
                 State.FAILED: TrialState.FAIL}[trial.state]
        values = list(trial.values) if trial.complete else None
        params, dists = {}, {}
        if self.space is not None and trial.arch.space == self.space.name:
            params, dists = gene_params(self.space, trial.arch), self.distributions
        self.study.add_trial(optuna.trial.create_trial(
            state=state, values=values, params=params, distributions=dists,
            user_attrs={_ATTR: json.dumps(trial.to_json())}))

    def trials(self) -> dict[int, Trial]:
        out: dict[int, Trial] = {}
        for ft in self.study.get_trials(deepcopy=False):
            raw = ft.user_attrs.get(_ATTR)
            if raw is None:
                continue
            t = Trial.from_json(json.loads(raw))
            out.setdefault(t.number, t)
        return out

    def config(self) -> dict[str, Any] | None:
        raw = self.study.user_attrs.get(_CONFIG)
        return None if raw is None else json.loads(raw)

    def set_config(self, config: Mapping[str, Any]) -> None:
        self.study.set_user_attr(_CONFIG, json.dumps(dict(config), sort_keys=True))

    def describe(self) -> str:
        return f"optuna RDB {self.url} (study {self.study_name})"


def _numeric(d: Dimension) -> bool:
    return all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in d.choices)


def _label(value: Any) -> Any:
    """A gene value as an Optuna categorical choice (None, bool, int, float or str)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value.to_json() if hasattr(value, "to_json") else value, sort_keys=True, default=str)


def gene_distributions(space: SearchSpace) -> dict[str, Any]:
    """One Optuna distribution per gene: an ordered numeric gene with several choices an
    ``IntDistribution``/``FloatDistribution`` over its range (log scale when the dimension samples
    log-uniformly), so importances and plots keep its order and units; any other gene a
    ``CategoricalDistribution`` of its choices (non-primitive choices as their JSON text)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for d in space.dims:
        if d.ordered and len(d.choices) > 1 and _numeric(d):
            lo, hi = min(d.choices), max(d.choices)
            if all(isinstance(c, int) for c in d.choices):
                out[d.name] = IntDistribution(int(lo), int(hi), log=d.log)
            else:
                out[d.name] = FloatDistribution(float(lo), float(hi), log=d.log)
        else:
            out[d.name] = CategoricalDistribution([_label(c) for c in d.choices])
    return out


def gene_params(space: SearchSpace, arch: Architecture) -> dict[str, Any]:
    """The architecture's genes as Optuna parameter values for ``gene_distributions(space)``."""
    return {d.name: _label(arch.genes[d.name]) if not (d.ordered and len(d.choices) > 1 and _numeric(d))
            else arch.genes[d.name] for d in space.dims}


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    return {}
