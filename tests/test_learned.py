"""Learned predictors: fit/predict contract, ranking on a known target, encodings, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from _search_helpers import ToyNB201Score
from scipy.stats import kendalltau

from nas.errors import NasError
from nas.predictors.encodings import Encoder, label_paths, space_view
from nas.predictors.learned import PREDICTORS, make_predictor
from nas.searchspace import get_space

FAST = {"rf": {"n_estimators": 50}, "gbdt": {"n_estimators": 60}, "gp": {}, "mlp": {}, "gnn": {"epochs": 40}}


@pytest.fixture(scope="module")
def data():
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = list({a.digest(): a for a in (space.sample(rng) for _ in range(90))}.values())[:80]
    y = np.array([ToyNB201Score()(a)["score"] for a in archs])
    zc = {a: np.array([y[i] + rng.normal(0, 2.0)]) for i, a in enumerate(archs)}  # a noisy "proxy"
    return space, archs, y, space_view(space, zc=zc.__getitem__)


def test_registry_names() -> None:
    assert PREDICTORS.names() == ["gbdt", "gnn", "gp", "mlp", "rf"]


@pytest.mark.parametrize("name", sorted(FAST))
def test_predictor_ranks_a_learnable_target(data, name) -> None:
    _, archs, y, view = data
    enc = "graph" if name == "gnn" else "opcount"
    p = make_predictor(name, view, encoding=enc, seed=0, **FAST[name]).fit(archs[:50], y[:50])
    mean, std = p.predict(archs[50:])
    assert mean.shape == std.shape == (30,) and np.all(std >= 0) and np.all(np.isfinite(mean))
    assert kendalltau(mean, y[50:]).statistic > 0.5  # the target is a sum of per-op values
    again = make_predictor(name, view, encoding=enc, seed=0, **FAST[name]).fit(archs[:50], y[:50])
    assert np.allclose(again.predict(archs[50:])[0], mean, atol=1e-9)  # deterministic for a seed


def test_zero_cost_features_join_any_encoding(data) -> None:
    _, archs, y, view = data
    p = make_predictor("rf", view, encoding="onehot+zc", n_estimators=50).fit(archs[:50], y[:50])
    assert p.encoder.transform(archs[:2]).shape == (2, 31)  # 6 edges × 5 ops + 1 score
    g = make_predictor("gnn", view, encoding="graph+zc", epochs=30).fit(archs[:20], y[:20])
    assert g.predict(archs[20:25])[0].shape == (5,)


def test_path_encoding_counts_input_to_output_paths() -> None:
    space = get_space("nb201")
    view = space_view(space)
    a = space.parse_string("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|")
    assert sorted(label_paths(view.graph(a))) == [("input", "nor_conv_3x3", "skip_connect", "avg_pool_3x3", "output")]
    dead = space.parse_string("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    enc = Encoder(view, "path").fit([a])
    assert enc.transform([a, dead]).tolist() == [[1.0], [0.0]]


def test_bad_input_is_one_line(data) -> None:
    _, archs, y, view = data
    with pytest.raises(NasError, match="unknown predictor 'xgb'; allowed: gbdt, gnn, gp, mlp, rf"):
        make_predictor("xgb", view)
    with pytest.raises(NasError, match="predictor 'gbdt' needs at least 4 architectures to fit, got 3"):
        make_predictor("gbdt", view).fit(archs[:3], y[:3])
    bad = y[:10].copy()
    bad[4] = np.nan
    with pytest.raises(NasError, match="fit targets must be finite numbers; target 4 is nan"):
        make_predictor("rf", view).fit(archs[:10], bad)
    with pytest.raises(NasError, match="fit got 10 architectures but 9 targets"):
        make_predictor("rf", view).fit(archs[:10], y[:9])
    with pytest.raises(NasError, match="must be fitted before predict"):
        make_predictor("gp", view).predict(archs[:2])
    with pytest.raises(NasError, match="unknown encoding 'adjacency'; allowed: onehot, path, opcount, zc"):
        make_predictor("rf", view, encoding="adjacency")
    with pytest.raises(NasError, match="needs zero-cost scores"):
        make_predictor("rf", space_view(get_space("nb201")), encoding="zc")
