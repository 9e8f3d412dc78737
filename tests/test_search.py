"""Searchers (ask/tell contract, seeds, constraints, state), trials, Pareto front, hypervolume, driver."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from _search_helpers import ToyNB201Score

from nas.errors import NasError
from nas.hw_models.budget import Budget
from nas.search.app.space_eval import SpaceCosts
from nas.search.loop.driver import run_search
from nas.search.loop.feasibility import check_budgets
from nas.search.results.storage import MemoryStore, OptunaStore, sqlite_url
from nas.search.searchers.registry import SEARCHERS, make_searcher
from nas.search.space_ref import SpaceRef
from nas.search.trial import SearchResult, Trial, hypervolume
from nas.searchspace import Architecture, get_space

# seed determinism, resuming, budgets and multi-objective fronts of every registered searcher: test_conformance.py
SMALL = {"evolution": {"population": 8, "sample_size": 3}, "nsga2": {"population": 8},
         "optuna-tpe": {"sampler_options": {"n_startup_trials": 5}},
         "optuna-nsga2": {"sampler_options": {"population_size": 8}},
         "optuna-nsga3": {"sampler_options": {"population_size": 8}}}


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def _essence(trials):
    """What a run decides (everything but the measured durations)."""
    return [(t.number, t.arch, t.state, t.values, dict(t.scores), dict(t.costs)) for t in trials]


def _search(space, name, seed, n=24, objectives=("score",), directions=("maximize",), **kw):
    s = make_searcher(name, space, seed, objectives=objectives, directions=directions, **SMALL.get(name, {}))
    return run_search(s, ToyNB201Score(), n, **kw)


def test_builtin_searchers_are_registered() -> None:
    names = SEARCHERS.names()
    for n in ("random", "evolution", "local", "nsga2", "optuna-tpe", "optuna-nsga2", "optuna-nsga3", "optuna-gp"):
        assert n in names
    with pytest.raises(NasError, match="unknown searcher 'tpee'; allowed:.*optuna-tpe"):
        SEARCHERS.get("tpee")


@pytest.mark.parametrize("name", ["evolution", "local", "optuna-tpe"])
def test_adaptive_searchers_beat_random_on_a_smooth_score(space, name) -> None:
    def best(n, s):
        return _search(space, n, s, n=60).best().values[0]
    gains = [best(name, s) - best("random", s) for s in range(3)]
    assert np.mean(gains) > 0.5, gains


def test_single_objective_searcher_refuses_two_objectives(space) -> None:
    with pytest.raises(NasError, match="searcher 'evolution' handles one objective"):
        make_searcher("evolution", space, 0, objectives=("a", "b"), directions=("maximize", "minimize"))


def test_unknown_option_is_one_line_error(space) -> None:
    with pytest.raises(NasError, match=r"unknown option\(s\) \['popsize'\]; allowed: population, sample_size"):
        make_searcher("evolution", space, 0, popsize=3)


def test_over_budget_candidate_is_recorded_infeasible_and_never_evaluated(space, tmp_path) -> None:
    log = tmp_path / "evaluated.txt"
    costs = SpaceCosts(SpaceRef("nb201"))
    s = make_searcher("random", space, 0)  # no constraint given to the searcher: the driver must catch it
    r = run_search(s, ToyNB201Score(log=str(log)), 30, costs=costs, budgets=[Budget.parse("60M-flops")])
    infeasible = [t for t in r.trials if t.state == "infeasible"]
    assert infeasible and all(t.costs["flops"] > 60e6 and not t.values for t in infeasible)
    evaluated = set(log.read_text().split())
    assert evaluated == {t.arch.digest() for t in r.trials if t.complete}


def test_unmeetable_budget_names_the_smallest_architecture(space) -> None:
    costs = SpaceCosts(SpaceRef("nb201"))
    # the smallest nb201 cell (all edges none/skip/pool) still has the stem, reductions and head
    smallest = min(costs(space.make(**dict(zip([d.name for d in space.dims], ops))))["flops"]
                   for ops in itertools.product(["none"], repeat=6))
    with pytest.raises(NasError) as e:
        check_budgets(space, [Budget.parse("1M-flops")], costs, np.random.default_rng(0))
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("budget 1M-flops cannot be met by space 'nb201' at input 3x32x32: its smallest "
                          f"architecture has {smallest / 1e6:,.1f} M FLOPs")


def test_batch_size_changes_no_count_and_keeps_determinism(space) -> None:
    r1 = _search(space, "evolution", 1, n=30, batch_size=4)
    r2 = _search(space, "evolution", 1, n=30, batch_size=4)
    assert [t.arch for t in r1.trials] == [t.arch for t in r2.trials] and len(r1) == 30


def test_failed_evaluations_become_failed_trials(space) -> None:
    def boom(arch):
        raise RuntimeError("out of memory\nsecond line")

    r = run_search(make_searcher("random", space, 0), boom, 5)
    assert [t.state for t in r.trials] == ["failed"] * 5
    assert r.trials[0].error == "RuntimeError: out of memory"
    with pytest.raises(NasError, match="the first 3 evaluated trials all failed.*out of memory"):
        run_search(make_searcher("random", space, 0), boom, 5, stop_after_failures=3)


# -- results -----------------------------------------------------------------------------------------
def _trial(n: int, values, state="complete") -> Trial:
    return Trial(n, Architecture("toy", {"i": n}), state, {"flops": 10.0 * n}, tuple(values),
                 {"score": values[0] if len(values) else 0.0})


def test_pareto_front_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    vals = rng.integers(0, 20, size=(60, 2)).astype(float)
    r = SearchResult([_trial(i, v) for i, v in enumerate(vals)], ("acc", "lat"), ("maximize", "minimize"))
    brute = {i for i, (a, l_) in enumerate(vals)
             if not any((b >= a and m <= l_) and (b > a or m < l_) for b, m in vals)}
    # one trial per architecture: all archs differ here, so the front is the brute-force set
    assert {t.number for t in r.pareto_front()} == brute


@pytest.mark.parametrize("dim", [2, 3])
def test_hypervolume_equals_optunas(dim) -> None:
    from optuna._hypervolume import compute_hypervolume

    rng = np.random.default_rng(dim)
    pts = rng.random((40, dim))
    ref = np.full(dim, 1.1)
    assert hypervolume(pts, ref) == pytest.approx(compute_hypervolume(pts, ref), rel=1e-12)
    assert hypervolume(np.array([[0.5] * dim]), np.ones(dim)) == pytest.approx(0.5 ** dim, rel=1e-12)


def test_result_hypervolume_uses_directions() -> None:
    r = SearchResult([_trial(0, (0.9, 2.0)), _trial(1, (0.5, 1.0))], ("acc", "lat"), ("maximize", "minimize"))
    # reference (acc 0, lat 4): boxes 0.9×2 ∪ 0.5×3, overlap 0.5×2 → 1.8 + 1.5 − 1.0
    assert r.hypervolume((0.0, 4.0)) == pytest.approx(2.3, rel=1e-12)


def test_result_save_load_and_dataframe(tmp_path) -> None:
    trials = [_trial(0, (1.0, 3.0)), _trial(1, (), "infeasible"), _trial(2, (2.0, 1.0))]
    r = SearchResult(trials, ("acc", "lat"), ("maximize", "minimize"), {"seed": 1})
    back = SearchResult.load(r.save(tmp_path / "r.json"))
    assert back.trials == r.trials and back.config == {"seed": 1}
    df = back.to_dataframe()
    assert list(df.columns[:6]) == ["number", "state", "digest", "arch", "acc", "lat"]
    assert list(df.state) == ["complete", "infeasible", "complete"]
    assert df.acc.isna().tolist() == [False, True, False]


def test_a_non_finite_score_is_written_as_strict_json_and_read_back(tmp_path) -> None:
    dead = Trial(0, Architecture("toy", {"a": 1}), values=(-math.inf,), scores={"synflow": -math.inf, "x": math.nan})
    r = SearchResult([dead, _trial(1, (2.0,))], ("synflow",), ("maximize",))
    path = r.save(tmp_path / "trials.json")

    def refuse(name: str) -> float:
        raise ValueError(f"bare {name} in the file")

    doc = json.loads(path.read_text(), parse_constant=refuse)  # what jq or JavaScript accept
    assert doc["trials"][0]["values"] == ["-inf"] and doc["trials"][0]["scores"] == {"synflow": "-inf", "x": "nan"}
    back = SearchResult.load(path).trials[0]
    assert back.values == (-math.inf,) and back.scores["synflow"] == -math.inf and math.isnan(back.scores["x"])


def test_json_on_stdout_is_strict_too(capsys) -> None:
    from nas.cli._output import emit_json

    emit_json({"synflow": -math.inf, "x": math.nan, "arch": Architecture("toy", {"a": 1})})
    doc = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"bare {name} on stdout"))
    assert doc["synflow"] == "-inf" and doc["x"] == "nan" and isinstance(doc["arch"], str)


def test_trial_rejects_bad_state() -> None:
    with pytest.raises(NasError, match="trial state 'done' not allowed"):
        Trial(0, Architecture("toy", {}), "done")


# -- storage ----------------------------------------------------------------------------------------
def test_optuna_store_round_trips_trials_and_config(tmp_path, space) -> None:
    url = sqlite_url(tmp_path / "s.db")
    store = OptunaStore(url, "run", ["maximize"])
    r = run_search(make_searcher("random", space, 0), ToyNB201Score(), 6, store=store)
    store.set_config({"seed": 0})
    again = OptunaStore(url, "run", ["maximize"])
    assert again.trials() == {t.number: t for t in r.trials}
    assert again.config() == {"seed": 0}
    import optuna

    study = optuna.load_study(study_name="run", storage=url)
    assert [t.values[0] for t in study.trials] == [t.values[0] for t in r.trials]


def test_resume_in_process_replays_without_reevaluating(tmp_path, space) -> None:
    log = tmp_path / "log.txt"
    full = _search(space, "optuna-tpe", 5, n=20)
    store = MemoryStore()
    _search(space, "optuna-tpe", 5, n=12, store=store)
    s = make_searcher("optuna-tpe", space, 5, **SMALL["optuna-tpe"])
    resumed = run_search(s, ToyNB201Score(log=str(log)), 20, store=store)
    assert _essence(resumed.trials) == _essence(full.trials)
    assert len(log.read_text().split()) == 8  # only the 8 new trials were evaluated


def test_resume_with_other_seed_is_refused(tmp_path, space) -> None:
    store = MemoryStore()
    _search(space, "evolution", 1, n=10, store=store)
    with pytest.raises(NasError, match="cannot resume: stored trial 0 holds architecture"):
        _search(space, "evolution", 2, n=12, store=store)


def test_bad_storage_url_is_one_line(tmp_path) -> None:
    with pytest.raises(NasError, match="cannot open storage 'nosuchdb://x'"):
        OptunaStore("nosuchdb://x", "run", ["maximize"])
