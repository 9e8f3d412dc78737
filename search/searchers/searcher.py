"""The ask/tell protocol every searcher follows, with bounded feasibility repair."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from nas.errors import NasError
from nas.search.names import Direction
from nas.search.trial import Trial, check_directions
from nas.searchspace.architecture import Architecture
from nas.searchspace.space import SearchSpace

Constraint = Callable[[Architecture], float]
"""Hard constraints of a search: ``constraint(arch)`` is how far ``arch`` is over the budget(s),
0.0 when it is feasible (for example ``max(0, flops / limit - 1)``)."""

Evaluate = Callable[[Architecture], Trial]
"""What a searcher that owns its loop calls: evaluates (or rejects) one architecture, records it
durably and returns the numbered Trial."""

DEFAULT_MAX_TRIES = 100


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator from a Generator, a seed, or None (seed 0: never an unseeded global state)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise NasError(f"rng must be a numpy.random.Generator or an integer seed, not {type(rng).__name__}")


class Searcher(ABC):
    """Proposes architectures of one space and learns from their trials.

    Contract: constructed with ``(space, rng, *, objectives, directions, constraint, max_tries,
    **options)``; an unknown option is a one-line NasError. ``ask()`` returns an architecture of the
    space that satisfies ``constraint`` (it resamples, then repairs, at most ``max_tries`` times, and
    raises NasError when nothing feasible turns up); ``tell(trial)`` reports one finished trial of an
    asked architecture, in any order. Given the same seed and the same told trials in the same order,
    the sequence of asked architectures is the same. ``state_dict()`` is JSON-able and
    ``load_state_dict`` of it on a fresh searcher (same space, same options) continues identically.
    Searchers that own their loop (DeepMAD, DARTS) set ``owns_loop = True`` and implement ``run``;
    ``run`` for the others is the plain serial ask → evaluate → tell loop.
    """

    name: ClassVar[str] = ""
    multi_objective: ClassVar[bool] = False
    owns_loop: ClassVar[bool] = False
    options: ClassVar[Mapping[str, Any]] = {}
    #: capabilities (read by the run and by ``nas.testing``'s conformance checks, never by name):
    needs_budgets: ClassVar[bool] = False
    """It designs under the budgets itself: constructed with ``budgets=`` and ``target=``."""
    needs_data: ClassVar[bool] = False
    """It trains networks on a dataset (``--data``): the data-free conformance checks skip it."""
    benchmark: ClassVar[str | None] = None
    """The tabular benchmark (and space) whose data it reads, e.g. ``"nb201"``."""
    spaces: ClassVar[tuple[str, ...] | None] = None
    """The spaces it supports (None: any)."""
    quick_options: ClassVar[Mapping[str, Any]] = {}
    """Options that make a dozen trials cheap but still exercise its adaptive part (conformance checks)."""

    def __init__(
        self,
        space: SearchSpace,
        rng: np.random.Generator | int | None = None,
        *,
        objectives: Sequence[str] = ("score",),
        directions: Sequence[str] = (Direction.MAXIMIZE,),
        constraint: Constraint | None = None,
        max_tries: int = DEFAULT_MAX_TRIES,
        **options: Any,
    ) -> None:
        self.space = space
        self.rng = as_rng(rng)
        self.objectives, self.directions = check_directions(objectives, directions)
        if len(self.objectives) > 1 and not self.multi_objective:
            raise NasError(f"searcher {self.name!r} handles one objective, got {list(self.objectives)}; "
                           "use a multi-objective one (nsga2, random, optuna-nsga2, optuna-tpe)")
        if max_tries < 1:
            raise NasError(f"max_tries must be at least 1, got {max_tries}")
        self.constraint = constraint
        self.max_tries = int(max_tries)
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            allowed = ", ".join(sorted(self.options)) or "none"
            raise NasError(f"searcher {self.name!r}: unknown option(s) {unknown}; allowed: {allowed}")
        self.opts: dict[str, Any] = {**self.options, **options}
        self.history: list[Trial] = []
        self.asked: set[str] = set()
        self._violation: dict[str, float] = {}

    # -- protocol ---------------------------------------------------------------------------------
    @abstractmethod
    def ask(self) -> Architecture:
        """The next architecture to evaluate (feasible, and not asked before when avoidable)."""

    def tell(self, trial: Trial) -> None:
        """Record a finished trial. Subclasses extend ``_tell``."""
        self.history.append(trial)
        self.asked.add(trial.arch.digest())
        self._tell(trial)

    def _tell(self, trial: Trial) -> None:
        pass

    def run(self, evaluate: Evaluate, n_trials: int) -> list[Trial]:
        """The serial loop: ask, evaluate, tell, ``n_trials`` times."""
        out = []
        for _ in range(n_trials):
            trial = evaluate(self.ask())
            self.tell(trial)
            out.append(trial)
        return out

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue: rng state, trials told, architectures asked, own state."""
        return {"searcher": self.name, "rng": self.rng.bit_generator.state,
                "history": [t.to_json() for t in self.history], "asked": sorted(self.asked),
                "own": self._state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("searcher") != self.name:
            raise NasError(f"state of searcher {state.get('searcher')!r} cannot load into {self.name!r}")
        self.rng.bit_generator.state = state["rng"]
        self.history = [Trial.from_json(t) for t in state["history"]]
        self.asked = set(state["asked"])
        self._load_state(state["own"])

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, own: Mapping[str, Any]) -> None:
        pass

    # -- helpers for subclasses -------------------------------------------------------------------
    def fitness(self, trial: Trial) -> float:
        """Single-objective fitness, larger is better; -inf for trials that are not complete."""
        if not trial.complete:
            return -np.inf
        v = trial.values[0]
        return v if self.directions[0] == Direction.MAXIMIZE else -v

    def violation(self, arch: Architecture) -> float:
        if self.constraint is None:
            return 0.0
        key = arch.digest()
        if key not in self._violation:
            self._violation[key] = float(self.constraint(arch))
        return self._violation[key]

    def feasible(self, arch: Architecture) -> bool:
        return self.violation(arch) <= 0.0

    def repair(self, arch: Architecture) -> Architecture | None:
        """Greedy descent on the constraint violation through ``space.neighbors``, at most
        ``max_tries`` steps; the first feasible architecture reached, or None."""
        cur, v = arch, self.violation(arch)
        for _ in range(self.max_tries):
            if v <= 0.0:
                return cur
            nbrs = self.space.neighbors(cur)
            if not nbrs:
                return None
            scored = [(self.violation(n), i) for i, n in enumerate(nbrs)]
            best_v = min(s for s, _ in scored)
            if best_v >= v:
                return None
            ties = [i for s, i in scored if s == best_v]
            cur, v = nbrs[ties[int(self.rng.integers(len(ties)))]], best_v
        return cur if v <= 0.0 else None

    def propose(self, generate: Callable[[], Architecture], *, fresh: bool = True) -> Architecture:
        """Draw from ``generate`` until a feasible (and, with ``fresh``, not yet asked) architecture
        turns up, at most ``max_tries`` draws, then try to repair the draws. Marks the result asked."""
        drawn: list[Architecture] = []
        stale: Architecture | None = None
        for _ in range(self.max_tries):
            a = generate()
            if not self.feasible(a):
                drawn.append(a)
                continue
            if fresh and a.digest() in self.asked:
                stale = stale or a
                continue
            return self._mark(a)
        for a in drawn[:3]:
            fixed = self.repair(a)
            if fixed is not None and not (fresh and fixed.digest() in self.asked):
                return self._mark(fixed)
        if stale is not None:
            return self._mark(stale)
        raise NasError(f"searcher {self.name!r}: no feasible architecture in {self.max_tries} draws and "
                       f"{min(3, len(drawn))} repairs; the budget leaves (almost) nothing of space "
                       f"{self.space.name!r}")

    def sample(self) -> Architecture:
        """A feasible, fresh random architecture (bounded resampling, then repair)."""
        return self.propose(lambda: self.space.sample(self.rng))

    def _mark(self, arch: Architecture) -> Architecture:
        self.asked.add(arch.digest())
        return arch
