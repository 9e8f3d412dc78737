"""NAS-Bench-201 search harness: lookups, query counting, best-by-validation reporting, hypervolume
gap, the zero-cost proxy and the proxy-guided local search."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _benchmark_data import load_benchmark

from nas.errors import NasError
from nas.predictors.proxy_cache import CachedProxy, make_proxy
from nas.search.bench.benchmark import best_test_trace, hv_gap_trace, summarize
from nas.search.bench.nb201_lookup import NB201Evaluator, hv_reference, hypervolume_2d, true_front
from nas.search.searchers.registry import make_searcher
from nas.search.trial import SearchResult, Trial
from nas.searchspace import get_space
from nas.searchspace.spaces.nb201_table import NB201Table

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def table() -> NB201Table:
    return load_benchmark(NB201Table.load)


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def test_table_lookup_and_known_optimum(table, space) -> None:
    i = int(np.argmax(table.valid("cifar10")))
    assert table.arch_strings[i] == BEST_C10 and i == 6111
    assert table.test("cifar10")[i] == pytest.approx(94.3733, abs=1e-4)
    ev = NB201Evaluator(table, "cifar10", "raspi4")(space.parse_string(BEST_C10))
    assert ev.metrics["valid"] == pytest.approx(91.6067, abs=1e-4)
    assert set(ev.metrics) == {"valid", "latency_ms"} and "test" not in ev.metrics  # never a search signal
    assert ev.info["test"] == pytest.approx(94.3733, abs=1e-4)


def test_best_test_trace_matches_a_direct_computation(table, space) -> None:
    """Parity: the harness's figure equals the best-by-validation test accuracy recomputed by hand
    from the architectures the same seeded random search asks."""
    tr = best_test_trace("random", table, "cifar10", 5, [10, 30])
    s = make_searcher("random", space, np.random.default_rng(5), objectives=("valid",))
    asked = [s.ask() for _ in range(30)]
    idx = [table.index(a) for a in asked]
    for q in (10, 30):
        best = max(idx[:q], key=lambda i: (table.valid("cifar10")[i], -idx.index(i)))
        assert tr.values[q] == table.test("cifar10")[best]
    assert tr.queries_made == 30


def test_hypervolume_gap_of_the_true_front_is_zero_and_two_paths_agree(table) -> None:
    v, lat = table.valid("cifar10"), table.latency("raspi4")
    f = true_front(v, lat)
    ref = hv_reference(lat)
    assert ref == (pytest.approx(98.8875, abs=1e-3), 10.0)
    hv = hypervolume_2d(v[f], lat[f], ref)
    # the same area through SearchResult (maximise valid, minimise latency)
    r = SearchResult([Trial(k, get_space("nb201").sample(np.random.default_rng(k)), values=(v[i], lat[i]))
                      for k, i in enumerate(f)], ("valid", "lat"), ("maximize", "minimize"))
    assert r.hypervolume((ref[1], ref[0])) == pytest.approx(hv, rel=1e-12)
    # no cell lies beyond the true front
    assert hypervolume_2d(v, lat, ref) == pytest.approx(hv, rel=1e-12)
    tr = hv_gap_trace("random", table, "cifar10", "raspi4", 0, [50])
    assert 0.0 < tr.values[50] < 1.0


def test_summarize_mean_std_rows(table) -> None:
    traces = [best_test_trace("random", table, "cifar10", s, [20]) for s in range(3)]
    (row,) = summarize(traces, [20], {"cifar10": float(table.valid("cifar10").max())})
    vals = [t.values[20] for t in traces]
    assert row["mean"] == pytest.approx(np.mean(vals)) and row["std"] == pytest.approx(np.std(vals, ddof=1))
    assert (row["strategy"], row["dataset"], row["queries"], row["seeds"]) == ("random", "cifar10", 20, 3)
    assert row["optimum_found"] == sum(t.best_valid[20] >= table.valid("cifar10").max() for t in traces)


def test_bench_cli_json_rows(table, capsys) -> None:
    from nas.cli.main import main

    code = main(["bench", "nb201-search", "--strategy", "random", "--strategy", "local", "--seeds", "2",
                 "--queries", "10,20", "--dataset", "cifar100", "--data", table.folder, "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    rows = json.loads(out)
    assert [(r["strategy"], r["queries"]) for r in rows] == [("local", 10), ("local", 20), ("random", 10), ("random", 20)]
    assert all({"strategy", "dataset", "queries", "mean", "std", "seeds"} <= set(r) for r in rows)
    assert all(r["dataset"] == "cifar100" and r["seeds"] == 2 and 0 < r["mean"] < 100 for r in rows)


def test_bench_cli_bad_input_is_one_line(capsys) -> None:
    from nas.cli.main import main

    assert main(["bench", "nb201-search", "--dataset", "mnist"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'mnist'; allowed: cifar10, cifar100, imagenet16-120, all" in err


# -- proxies and the proxy-guided search ---------------------------------------------------------------
def test_synflow_is_deterministic_cached_and_separates_disconnected_cells(space, tmp_path) -> None:
    p = make_proxy("synflow", space, cache=tmp_path)
    best = space.parse_string(BEST_C10)
    dead = space.parse_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|")
    identity = space.parse_string("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    vb, vd, vi = p(best), p(dead), p(identity)
    assert vd < 1.0 < vi < vb  # no path to the output: (almost) no synaptic flow
    again = make_proxy("synflow", space, cache=tmp_path)
    assert again(best) == vb and again.computed == 0  # read back from the cache file
    fresh = make_proxy("synflow", space)
    assert fresh(best) == vb and fresh.computed == 1  # and recomputed bit-identically
    assert isinstance(p, CachedProxy) and p.path is not None and p.path.read_text().count("\n") == 3


def test_unknown_proxy_is_one_line(space) -> None:
    with pytest.raises(NasError, match="unknown proxy 'nope'; allowed: deepmad, epe_nas, fisher, flops"):
        make_proxy("nope", space)


def test_proxy_local_climbs_the_proxy_then_queries_neighbours_in_proxy_order(space) -> None:
    params = make_proxy("params", space, input=None, space_options={})
    s = make_searcher("proxy-local", space, 0, proxy=params, pool=4)
    first = s.ask()
    # the proxy's climb ends at the most parameters: every edge a 3x3 conv
    assert set(first.genes.values()) == {"nor_conv_3x3"}
    s.tell(Trial(0, first, values=(1.0,)))
    nxt = [s.ask() for _ in range(5)]
    scores = [params(a) for a in nxt]
    assert scores == sorted(scores, reverse=True)
    assert all(sum(a.genes[k] != first.genes[k] for k in a.genes) == 1 for a in nxt)


def test_proxy_local_finds_the_cifar10_optimum_quickly_with_a_params_proxy(table, space) -> None:
    """Even the crudest free proxy (parameter count) puts the search next to NB201's best cells."""
    params = make_proxy("params", space, input=None, space_options={})
    traces = [best_test_trace("proxy-local", table, "cifar10", s, [50, 100], {"proxy": params}) for s in range(3)]
    assert all(t.values[100] >= 94.2 for t in traces), [t.values for t in traces]
    assert math.isfinite(traces[0].values[50])
