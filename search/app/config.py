"""The resolved configuration of one search run (a frozen dataclass; files only set its fields)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from nas.errors import NasError

DEFAULT_SPACE = "hybrid"
DEFAULT_SCORE = "auto"
"""``auto``: the score measured best against trained accuracy on the space, else the recorded NB201 table
measurement, else deepmad where it has a rule for every op of the space, else synflow (``nas.predictors.score_choice.auto_score``)."""
DEFAULT_STRATEGY = "nsga2"
MAX_WORKERS = 1024
"""More Ray workers than this is a typo, not a cluster: refused before Ray starts."""
#: Fields that decide which trials a run makes; a resumed run must keep them.
TRIAL_DEFINING = ("space", "input", "num_classes", "strategy", "strategy_options", "seed", "budgets",
                  "target", "score", "score_options", "objectives", "directions", "batch_size",
                  "evaluator", "data", "resize", "epochs", "pruner", "train_options", "supernet",
                  "space_options", "supernet_finetune_steps")


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a ``nas search`` run. ``objectives``/``directions`` empty means the
    defaults: the score (maximised) and, when a target is set, latency (minimised), else FLOPs."""

    space: str = DEFAULT_SPACE
    input: str | None = None
    num_classes: int | None = None
    strategy: str = DEFAULT_STRATEGY
    strategy_options: dict[str, Any] = field(default_factory=dict)
    trials: int = 300
    seed: int = 0
    budgets: tuple[str, ...] = ()
    target: str | None = None
    score: str = DEFAULT_SCORE
    score_options: dict[str, Any] = field(default_factory=dict)
    objectives: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    batch_size: int = 8
    workers: int = 1
    ray_address: str | None = None
    storage: str | None = None
    study: str | None = None
    evaluator: str = "score"
    """``score`` (training-free) or ``train`` (``nas.search.app.evaluators.EVALUATORS``)."""
    data: str | None = None
    resize: str | None = None
    epochs: int = 3
    pruner: str = "none"
    train_options: dict[str, Any] = field(default_factory=dict)
    supernet: str | None = None
    """checkpoint of ``--evaluator supernet``"""
    supernet_finetune_steps: int = 0
    """``--evaluator supernet``: fine-tune each inherited subnet this many steps before it is scored
    (``nas.supernet.finetune``; 0: inherited accuracy as it is)"""
    space_options: dict[str, Any] = field(default_factory=dict)
    """The space's own settings (hybrid: ``width_mult``, ``max_depth``, ``mixers``); a supernet evaluator
    takes them from its checkpoint."""

    def __post_init__(self) -> None:
        _check_types(self)
        for name in ("budgets", "objectives", "directions"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.seed < 0:
            raise NasError(f"seed must be a non-negative integer, got {self.seed}")
        if self.num_classes is not None and self.num_classes < 1:
            raise NasError(f"num_classes must be at least 1, got {self.num_classes}")
        if self.trials < 1:
            raise NasError(f"trials must be at least 1, got {self.trials}")
        if self.batch_size < 1:
            raise NasError(f"batch_size must be at least 1, got {self.batch_size}")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise NasError(f"workers must be in 1..{MAX_WORKERS}, got {self.workers}")
        if not isinstance(self.epochs, int) or isinstance(self.epochs, bool) or self.epochs < 1:
            raise NasError(f"epochs must be an integer of at least 1, got {self.epochs!r}")
        if self.supernet_finetune_steps < 0:
            raise NasError(f"supernet_finetune_steps must be an integer >= 0, got {self.supernet_finetune_steps}")
        if self.supernet_finetune_steps and self.evaluator != "supernet":
            raise NasError(f"supernet_finetune_steps={self.supernet_finetune_steps} applies to --evaluator supernet "
                           f"only, not {self.evaluator!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: SearchConfig | None = None) -> SearchConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise NasError(f"unknown config key(s) {unknown}; allowed: {', '.join(sorted(known))}")
        return replace(base or cls(), **dict(data))

    @classmethod
    def from_file(cls, path: str | Path, base: SearchConfig | None = None) -> SearchConfig:
        p = Path(path)
        if not p.is_file():
            raise NasError(f"config file {str(p)!r} does not exist")
        text = p.read_text()
        try:
            if p.suffix == ".toml":
                import tomllib

                data = tomllib.loads(text)
            elif p.suffix in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text) or {}
            elif p.suffix == ".json":
                data = json.loads(text)
            else:
                raise NasError(f"config file {str(p)!r}: use .toml, .yaml or .json")
        except NasError:
            raise
        except Exception as e:  # noqa: BLE001 - any parser's error becomes one line
            raise NasError(f"config file {str(p)!r} does not parse: {str(e).splitlines()[0]}") from None
        if not isinstance(data, Mapping):
            raise NasError(f"config file {str(p)!r} must hold a table of settings")
        return cls.from_mapping(data, base)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("budgets", "objectives", "directions"):
            d[k] = list(d[k])
        return d

    def differences(self, stored: Mapping[str, Any]) -> list[str]:
        """The trial-defining fields where ``stored`` (a saved config) differs from this one."""
        mine, default = self.to_json(), SearchConfig().to_json()  # a field newer than the run: its default
        return [f"{k}: stored {stored.get(k, default[k])!r}, now {mine[k]!r}" for k in TRIAL_DEFINING
                if json.dumps(stored.get(k, default[k]), sort_keys=True) != json.dumps(mine[k], sort_keys=True)]


#: The type each field a config file may set must have (a TOML ``trials = "abc"`` is a one-line error).
_INT_FIELDS = ("trials", "seed", "batch_size", "workers", "num_classes", "supernet_finetune_steps")
_STR_FIELDS = ("space", "input", "strategy", "target", "score", "ray_address", "storage", "study")
_MAP_FIELDS = ("strategy_options", "score_options", "space_options")
_LIST_FIELDS = ("budgets", "objectives", "directions")


def _check_types(c: SearchConfig) -> None:
    for name in _INT_FIELDS:
        v = getattr(c, name)
        if not (v is None and name == "num_classes") and (isinstance(v, bool) or not isinstance(v, int)):
            raise NasError(f"config {name} must be an integer, got {v!r}")
    for name in _STR_FIELDS:
        v = getattr(c, name)
        if v is not None and not isinstance(v, str):
            raise NasError(f"config {name} must be a string, got {v!r}")
    for name in _MAP_FIELDS:
        v = getattr(c, name)
        if not isinstance(v, Mapping) or not all(isinstance(k, str) for k in v):
            raise NasError(f"config {name} must be a table of NAME = VALUE, got {v!r}")
    for name in _LIST_FIELDS:
        v = getattr(c, name)
        if isinstance(v, str) or not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
            raise NasError(f"config {name} must be a list of strings, got {v!r}")
