"""Optuna's samplers (TPE, NSGA-II/III, GP, QMC, random, brute force) over our static spaces.

The only module that knows Optuna's sampler API (the durable storage lives in ``storage.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from nas.errors import NasError
from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Searcher
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams
from nas.searchspace.space import Dimension

_PRIMITIVE = (str, int, float, bool, type(None))


def _sampler_factories() -> dict[str, Callable[[int, int, dict[str, Any]], Any]]:
    import optuna

    s = optuna.samplers
    return {
        "tpe": lambda seed, n_obj, kw: s.TPESampler(seed=seed, **kw),
        "nsga2": lambda seed, n_obj, kw: s.NSGAIISampler(seed=seed, **kw),
        "nsga3": lambda seed, n_obj, kw: s.NSGAIIISampler(seed=seed, **kw),
        "random": lambda seed, n_obj, kw: s.RandomSampler(seed=seed, **kw),
        "qmc": lambda seed, n_obj, kw: s.QMCSampler(seed=seed, **kw),
        "gp": lambda seed, n_obj, kw: s.GPSampler(seed=seed, **kw),
        "bruteforce": lambda seed, n_obj, kw: s.BruteForceSampler(seed=seed, **kw),
    }


class OptunaSearcher(Searcher):
    """Runs one of Optuna's samplers over a static space through an in-memory Optuna study.

    Each dimension becomes one Optuna distribution: an ordered dimension with more than two choices
    an ``IntDistribution`` over its choice index (so TPE/GP see the order), any other a
    ``CategoricalDistribution`` (of the choices themselves when they are plain values, else of their
    index). Options: ``sampler`` (tpe, nsga2, nsga3, random, qmc, gp, bruteforce) and
    ``sampler_options`` (keyword arguments for the Optuna sampler). Draws over budget are told to
    Optuna as failed and drawn again (bounded, then repaired); a draw of an architecture already
    evaluated is told its known values and drawn again, so it costs no evaluation. The sampler's seed
    comes from ``rng``.
    """

    name = "optuna"
    multi_objective = True
    options: ClassVar[Mapping[str, Any]] = {"sampler": "tpe", "sampler_options": {}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        factories = _sampler_factories()
        kind = str(self.opts["sampler"])
        if kind not in factories:
            raise NasError(f"unknown optuna sampler {kind!r}; allowed: {', '.join(sorted(factories))}")
        self._initial_rng = dict(self.rng.bit_generator.state)
        seed = int(self.rng.integers(2**31 - 1))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = factories[kind](seed, len(self.objectives), dict(self.opts["sampler_options"]))
        self.study = optuna.create_study(directions=list(self.directions), sampler=sampler)
        self.distributions = {d.name: self._distribution(d) for d in self.space.dims}
        self.pending: dict[str, list[Any]] = {}  # digest -> optuna trials asked for it
        self.known: dict[str, tuple[float, ...]] = {}
        self.events: list[dict[str, Any]] = []

    @staticmethod
    def _plain(d: Dimension) -> bool:
        return all(isinstance(c, _PRIMITIVE) for c in d.choices)

    def _distribution(self, d: Dimension):
        from optuna.distributions import CategoricalDistribution, IntDistribution

        if d.ordered and len(d.choices) > 2:
            return IntDistribution(0, len(d.choices) - 1)
        if self._plain(d):
            return CategoricalDistribution(list(d.choices))
        return CategoricalDistribution(list(range(len(d.choices))))

    def _to_arch(self, params: Mapping[str, Any]) -> Architecture:
        genes = {}
        for d in self.space.dims:
            v = params[d.name]
            plain_cat = not (d.ordered and len(d.choices) > 2) and self._plain(d)
            genes[d.name] = v if plain_cat else d.choices[int(v)]
        return Architecture(self.space.name, HParams(genes))

    def _to_params(self, arch: Architecture) -> dict[str, Any]:
        out = {}
        for d in self.space.dims:
            i = d.index(arch.genes[d.name])
            plain_cat = not (d.ordered and len(d.choices) > 2) and self._plain(d)
            out[d.name] = d.choices[i] if plain_cat else i
        return out

    def _draw(self) -> Architecture:
        from optuna.trial import TrialState

        while True:
            ot = self.study.ask(self.distributions)
            arch = self._to_arch(ot.params)
            key = arch.digest()
            if key in self.known:
                # already evaluated: teach the sampler the known values, draw again (bounded by propose)
                self.study.tell(ot, list(self.known[key]))
                return arch
            if key in self.asked:  # asked, not yet told: a duplicate in flight
                self.study.tell(ot, state=TrialState.FAIL)
                return arch
            if not self.space.contains(arch) or not self.feasible(arch):
                self.study.tell(ot, state=TrialState.FAIL)
                return arch
            self.pending.setdefault(key, []).append(ot)
            return arch

    def ask(self) -> Architecture:
        arch = self.propose(self._draw)
        self.events.append({"ask": arch.digest()})
        return arch

    def tell(self, trial: Trial) -> None:
        self.events.append({"tell": trial.to_json()})
        super().tell(trial)

    def _tell(self, trial: Trial) -> None:
        import optuna
        from optuna.trial import TrialState

        key = trial.arch.digest()
        waiting = self.pending.get(key)
        if trial.complete and len(trial.values) == len(self.objectives):
            self.known[key] = trial.values
        if waiting:
            ot = waiting.pop(0)
            if not waiting:
                del self.pending[key]
            if trial.complete:
                self.study.tell(ot, list(trial.values))
            else:
                self.study.tell(ot, state=TrialState.FAIL)
            return
        # an architecture Optuna did not propose (a repair, or a draw told twice): add it as data
        if trial.complete:
            self.study.add_trial(optuna.trial.create_trial(
                params=self._to_params(trial.arch), distributions=self.distributions,
                values=list(trial.values)))

    def state_dict(self) -> dict[str, Any]:
        """Optuna's samplers do not serialise: the state is the seed and the ask/tell event log,
        which ``load_state_dict`` replays on a fresh searcher built with the same seed."""
        return {"searcher": self.name, "sampler": self.opts["sampler"], "initial_rng": self._initial_rng,
                "events": list(self.events)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("sampler") != self.opts["sampler"] or self.events:
            raise NasError("optuna state loads only into a fresh searcher with the same sampler")
        if state["initial_rng"] != self._initial_rng:
            raise NasError("optuna state was made with another seed; build the searcher with the same seed")
        for ev in state["events"]:
            if "ask" in ev:
                got = self.ask().digest()
                if got != ev["ask"]:
                    raise NasError(f"replay diverged: asked {got}, the log says {ev['ask']}")
            else:
                self.tell(Trial.from_json(ev["tell"]))


_QUICK = {"tpe": {"n_startup_trials": 4}, "gp": {"n_startup_trials": 4}, "nsga2": {"population_size": 4},
          "nsga3": {"population_size": 4}}


def _register(kind: str) -> None:
    def factory(space, rng=None, **options: Any) -> OptunaSearcher:
        if "sampler" in options:
            raise NasError(f"optuna-{kind} fixes sampler={kind!r}; use strategy 'optuna' to choose one")
        return OptunaSearcher(space, rng, sampler=kind, **options)

    factory.__doc__ = f"Optuna's {kind} sampler through OptunaSearcher."
    factory.searcher_class = OptunaSearcher  # type: ignore[attr-defined]  # its capabilities
    factory.quick_options = {"sampler_options": _QUICK.get(kind, {})}  # type: ignore[attr-defined]
    SEARCHERS.add(f"optuna-{kind}", factory)


SEARCHERS.add("optuna", OptunaSearcher)
for _kind in ("tpe", "nsga2", "nsga3", "random", "qmc", "gp", "bruteforce"):
    _register(_kind)
