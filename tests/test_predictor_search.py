"""Predictor-guided searchers: BANANAS and the zero-cost warm start, on a known nb201 target."""

from __future__ import annotations

import numpy as np
import pytest
from _search_helpers import ToyNB201Score

from nas.errors import NasError
from nas.search import make_searcher, run_search
from nas.searchspace import get_space

OPTS = {"predictor": "rf", "predictor_options": {"n_estimators": 20}, "n_init": 5, "candidates": 30, "batch": 2}


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def _best(result) -> float:
    return max(t.values[0] for t in result.trials if t.complete)


def test_bananas_beats_random_on_a_learnable_target(space) -> None:
    bananas = [_best(run_search(make_searcher("bananas", space, s, **OPTS), ToyNB201Score(), 20)) for s in range(2)]
    rand = [_best(run_search(make_searcher("random", space, s), ToyNB201Score(), 20)) for s in range(2)]
    assert np.mean(bananas) > np.mean(rand)


def test_bananas_is_deterministic_and_resumes(space) -> None:
    a = make_searcher("bananas", space, 7, **OPTS)
    first = run_search(a, ToyNB201Score(), 8)
    again = run_search(make_searcher("bananas", space, 7, **OPTS), ToyNB201Score(), 8)
    assert [t.arch for t in first.trials] == [t.arch for t in again.trials]
    b = make_searcher("bananas", space, 7, **OPTS)
    b.load_state_dict(a.state_dict())
    assert b.ask() == a.ask()


def test_zc_warmstart_asks_the_pool_best_by_score_first(space) -> None:
    from nas.predictors.score import SCORES

    s = make_searcher("zc-warmstart", space, 0, score="params", pool=20, n_warm=3,
                      base="evolution", base_options={"population": 5, "sample_size": 2})
    asked = [s.ask() for _ in range(3)]
    params = SCORES.get("params")()
    values = [params(space.resolve(a)) for a in asked]
    assert values == sorted(values, reverse=True)
    pool = [space.sample(np.random.default_rng(0)) for _ in range(1)]
    assert values[0] >= params(space.resolve(pool[0]))
    r = run_search(make_searcher("zc-warmstart", space, 1, score="params", pool=20, n_warm=3,
                                 base_options=OPTS), ToyNB201Score(), 7)
    assert len([t for t in r.trials if t.complete]) == 7


def test_score_auto_reads_the_recorded_measurement(space) -> None:
    from nas.predictors.score_choice import auto_score, best_score, measurements

    choice = best_score(space)
    entry = measurements().get("nb201")
    assert entry is not None and choice.score == max(entry["kendall_tau"], key=entry["kendall_tau"].get)
    assert choice.kendall_tau == pytest.approx(max(entry["kendall_tau"].values()))
    assert auto_score(space) == choice.score == "synflow"  # NB201: synflow τ 0.548 > params/flops τ 0.511
    assert best_score("resnet").score == "deepmad" and best_score("resnet").kendall_tau is None


def test_bad_options_are_one_line(space) -> None:
    with pytest.raises(NasError, match="bananas: acquisition 'pi' not allowed; allowed: its, ucb, ei, mean"):
        make_searcher("bananas", space, 0, acquisition="pi")
    with pytest.raises(NasError, match="unknown predictor 'svm'"):
        make_searcher("bananas", space, 0, predictor="svm")
    with pytest.raises(NasError, match="zc-warmstart cannot warm-start itself"):
        make_searcher("zc-warmstart", space, 0, base="zc-warmstart")
    with pytest.raises(NasError, match="unknown score 'nope'"):
        make_searcher("zc-warmstart", space, 0, score="nope")
